import { MigrationInterface, QueryRunner } from "typeorm";

export class JoinTokensAndSessions1795313555660 implements MigrationInterface {
  name = "JoinTokensAndSessions1795313555660";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "signing_keys" (
        "id" character varying(64) NOT NULL,
        "company_id" uuid NOT NULL,
        "alg" character varying(16) NOT NULL,
        "public_jwk" jsonb NOT NULL,
        "private_jwk_encrypted" text NOT NULL,
        "is_current" boolean NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "rotated_at" TIMESTAMP(3) WITH TIME ZONE,
        "retires_at" TIMESTAMP(3) WITH TIME ZONE,
        CONSTRAINT "PK_ab7d78cf6e61dc3904133b4cd55" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_3f307a3adf66d7a5d48836399c" ON "signing_keys" ("company_id", "created_at")
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "IDX_ab7dbc99939373dc30ca40f259" ON "signing_keys" ("company_id")
        WHERE is_current
    `);
    await queryRunner.query(`
      CREATE TABLE "revoked_tokens" (
        "company_id" uuid NOT NULL,
        "jti" character varying(128) NOT NULL,
        "revoked_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "expires_at" TIMESTAMP(3) WITH TIME ZONE,
        CONSTRAINT "PK_e59ed153926680e4f5781bb7ba0" PRIMARY KEY ("company_id", "jti")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_2e6633a828eeba000bb14f4de3" ON "revoked_tokens" ("company_id", "revoked_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "sessions" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "event_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "registrant_id" uuid,
        "credential_type" character varying(24) NOT NULL,
        "credential_jti" character varying(128),
        "credential_issued_at" TIMESTAMP(3) WITH TIME ZONE,
        "credential_expires_at" TIMESTAMP(3) WITH TIME ZONE,
        "role_grant" character varying(16),
        "role" character varying(16) NOT NULL,
        "joined_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "last_seen_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "ended_at" TIMESTAMP(3) WITH TIME ZONE,
        "end_reason" character varying(16),
        "eject_at" TIMESTAMP(3) WITH TIME ZONE,
        "eject_reason" character varying(16),
        "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb,
        CONSTRAINT "PK_3238ef96f18b355b671619111bc" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`CREATE INDEX "IDX_6c2bcd0031d07995b4ee1961a0" ON "sessions" ("user_id", "joined_at")`);
    await queryRunner.query(`CREATE INDEX "IDX_5ce5d8b3ddd6c2d50ed4cf3fda" ON "sessions" ("event_id", "joined_at")`);
    await queryRunner.query(`
      CREATE INDEX "idx_sessions_live_by_last_seen" ON "sessions" ("last_seen_at") WHERE ended_at IS NULL
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_sessions_live_by_registrant" ON "sessions" ("event_id", "registrant_id")
        WHERE ended_at IS NULL AND registrant_id IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_sessions_live_by_user" ON "sessions" ("event_id", "user_id")
        WHERE ended_at IS NULL
    `);
    await queryRunner.query(`
      CREATE TABLE "registrants" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "event_id" uuid NOT NULL,
        "user_id" uuid,
        "name" character varying(200) NOT NULL,
        "email" character varying(320) NOT NULL,
        "email_normalized" character varying(320) NOT NULL,
        "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "cancelled_at" TIMESTAMP(3) WITH TIME ZONE,
        CONSTRAINT "PK_6a4656d33e8418450e2ff558e24" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_dd3ef4129ccd985a5c857874de" ON "registrants" ("event_id", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_registrants_event_email" ON "registrants" ("event_id", "email_normalized")
        WHERE cancelled_at IS NULL
    `);
    await queryRunner.query(`ALTER TABLE "users" ADD "tokens_revoked_before" TIMESTAMP(3) WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "users" ALTER COLUMN "metadata" SET DEFAULT '{}'::jsonb`);
    await queryRunner.query(`
      ALTER TABLE "signing_keys" ADD CONSTRAINT "FK_f0487e2612525c1e5e0185e0f2e"
        FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_98fcc611bf939573cac8251a2ac"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_085d540d9f418cfbdc7bd55bb19"
        FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "registrants" ADD CONSTRAINT "FK_798608da755b4e841c51030d713"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "registrants" DROP CONSTRAINT "FK_798608da755b4e841c51030d713"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_085d540d9f418cfbdc7bd55bb19"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_98fcc611bf939573cac8251a2ac"`);
    await queryRunner.query(`ALTER TABLE "signing_keys" DROP CONSTRAINT "FK_f0487e2612525c1e5e0185e0f2e"`);
    await queryRunner.query(`ALTER TABLE "users" ALTER COLUMN "metadata" SET DEFAULT '{}'`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "tokens_revoked_before"`);
    await queryRunner.query(`DROP INDEX "public"."idx_registrants_event_email"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_dd3ef4129ccd985a5c857874de"`);
    await queryRunner.query(`DROP TABLE "registrants"`);
    await queryRunner.query(`DROP INDEX "public"."idx_sessions_live_by_user"`);
    await queryRunner.query(`DROP INDEX "public"."idx_sessions_live_by_registrant"`);
    await queryRunner.query(`DROP INDEX "public"."idx_sessions_live_by_last_seen"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_5ce5d8b3ddd6c2d50ed4cf3fda"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_6c2bcd0031d07995b4ee1961a0"`);
    await queryRunner.query(`DROP TABLE "sessions"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_2e6633a828eeba000bb14f4de3"`);
    await queryRunner.query(`DROP TABLE "revoked_tokens"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_ab7dbc99939373dc30ca40f259"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_3f307a3adf66d7a5d48836399c"`);
    await queryRunner.query(`DROP TABLE "signing_keys"`);
  }
}
