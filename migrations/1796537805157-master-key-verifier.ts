import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The database's record of its master key: one row holding a constant encrypted under it. A node
 * whose MASTER_KEY cannot open it refuses to start (it would otherwise start, then answer every
 * mint with INTERNAL). Filled by the first start after this migration, which checks the key
 * against the signing keys and partner secrets already there; replaced by master-key:rotate.
 */
export class MasterKeyVerifier1796537805157 implements MigrationInterface {
  name = "MasterKeyVerifier1796537805157";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "master_key_verifiers" (
        "id" smallint NOT NULL,
        "key_id" character varying(32) NOT NULL,
        "verifier" text NOT NULL,
        "recorded_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        CONSTRAINT "master_key_verifiers_single_row" CHECK ("id" = 1),
        CONSTRAINT "PK_199939a801c6981c36bf9b613e3" PRIMARY KEY ("id")
      )
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "master_key_verifiers"`);
  }
}
