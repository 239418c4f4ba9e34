import { MigrationInterface, QueryRunner } from "typeorm";

export class PartnerTokenMaxTtl1796549109685 implements MigrationInterface {
  name = "PartnerTokenMaxTtl1796549109685";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "companies" ADD "partner_token_max_ttl_seconds" integer NOT NULL DEFAULT '604800'
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "companies" DROP COLUMN "partner_token_max_ttl_seconds"`);
  }
}
