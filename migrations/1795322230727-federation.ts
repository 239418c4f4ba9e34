import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Federation (login links, partner secrets, identity providers, passwords, knocks): one-time login links (code stored as lookup + SHA-256),
 * partner secrets (encrypted under the master key), identity providers and partner public keys
 * (JWKS URIs), knocks on private events (poll secret hashed), managed passwords in their own
 * table, and failed password attempts per company and subject for rate limits.
 */
export class Federation1795322230727 implements MigrationInterface {
  name = "Federation1795322230727";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "login_links" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "event_id" uuid,
        "code_lookup" character varying(16) NOT NULL,
        "code_hash" character(64) NOT NULL,
        "redirect_on_expiry_url" character varying(2048),
        "expires_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "used_at" TIMESTAMP(3) WITH TIME ZONE,
        "revoked_at" TIMESTAMP(3) WITH TIME ZONE,
        "session_id" uuid,
        "reused_at" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_e382a2113315c6bb8992cf97e31" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_45920016f0299d78b21e664b0e" ON "login_links" ("code_lookup")`);
    await queryRunner.query(`
      CREATE INDEX "IDX_1508c58bf306decb07a70f26de" ON "login_links" ("company_id", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE TABLE "partner_secrets" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "name" character varying(200) NOT NULL,
        "secret_encrypted" text NOT NULL,
        "last_used_at" TIMESTAMP(3) WITH TIME ZONE,
        "revoked_at" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_ee98e9843dd4f3228827167d120" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_b835af247844c20752250469fb"
        ON "partner_secrets" ("company_id", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE TABLE "identity_providers" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "kind" character varying(16) NOT NULL,
        "name" character varying(200) NOT NULL,
        "issuer" character varying(2048) NOT NULL,
        "jwks_uri" character varying(2048) NOT NULL,
        "audience" character varying(2048),
        "algorithms" text array NOT NULL,
        "external_id_claim" character varying(100) NOT NULL DEFAULT 'sub',
        "email_claim" character varying(100) NOT NULL DEFAULT 'email',
        "name_claim" character varying(100) NOT NULL DEFAULT 'name',
        "jit_enabled" boolean NOT NULL DEFAULT true,
        "disabled_at" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_3ac9e77e3690c03f7f25579c8e0" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_74ccf3b1261531fce29c7e0f69"
        ON "identity_providers" ("company_id", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "IDX_330cd3583bf79784ff95f2491d"
        ON "identity_providers" ("company_id", "issuer")
    `);
    await queryRunner.query(`
      CREATE TABLE "join_requests" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "event_id" uuid NOT NULL,
        "name" character varying(200) NOT NULL,
        "email" character varying(320),
        "email_normalized" character varying(320),
        "status" character varying(16) NOT NULL DEFAULT 'PENDING',
        "secret_hash" character(64) NOT NULL,
        "role" character varying(16),
        "deny_reason" character varying(500),
        "decided_by" character varying(80),
        "decided_at" TIMESTAMP(3) WITH TIME ZONE,
        "expires_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "consumed_at" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_3584a09620923a5aaf7de782f0d" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_20a5e2037aa7b413f586e37a46" ON "join_requests" ("event_id", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_join_requests_pending" ON "join_requests" ("event_id", "created_at", "id")
        WHERE status = 'PENDING'
    `);
    await queryRunner.query(`
      CREATE TABLE "auth_failures" (
        "company_id" uuid NOT NULL,
        "subject" character varying(200) NOT NULL,
        "window_started_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "failures" integer NOT NULL,
        CONSTRAINT "PK_c5312e955cd4aed630c1e9c27ed" PRIMARY KEY ("company_id", "subject")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "user_passwords" (
        "user_id" uuid NOT NULL,
        "company_id" uuid NOT NULL,
        "password_hash" text NOT NULL,
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_69bf155ad044d776976470eb032" PRIMARY KEY ("user_id")
      )
    `);
    await queryRunner.query(`
      ALTER TABLE "login_links" ADD CONSTRAINT "FK_3e3b544fc3aed2ff66a97e4da93"
        FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "join_requests" ADD CONSTRAINT "FK_43788c988a53ded0b5d740c55bf"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "user_passwords" ADD CONSTRAINT "FK_69bf155ad044d776976470eb032"
        FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "user_passwords" DROP CONSTRAINT "FK_69bf155ad044d776976470eb032"`);
    await queryRunner.query(`ALTER TABLE "join_requests" DROP CONSTRAINT "FK_43788c988a53ded0b5d740c55bf"`);
    await queryRunner.query(`ALTER TABLE "login_links" DROP CONSTRAINT "FK_3e3b544fc3aed2ff66a97e4da93"`);
    await queryRunner.query(`DROP TABLE "user_passwords"`);
    await queryRunner.query(`DROP TABLE "auth_failures"`);
    await queryRunner.query(`DROP INDEX "public"."idx_join_requests_pending"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_20a5e2037aa7b413f586e37a46"`);
    await queryRunner.query(`DROP TABLE "join_requests"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_330cd3583bf79784ff95f2491d"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_74ccf3b1261531fce29c7e0f69"`);
    await queryRunner.query(`DROP TABLE "identity_providers"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_b835af247844c20752250469fb"`);
    await queryRunner.query(`DROP TABLE "partner_secrets"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_1508c58bf306decb07a70f26de"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_45920016f0299d78b21e664b0e"`);
    await queryRunner.query(`DROP TABLE "login_links"`);
  }
}
