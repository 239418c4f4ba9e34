import { MigrationInterface, QueryRunner } from "typeorm";

export class Foundation1795313334905 implements MigrationInterface {
  name = "Foundation1795313334905";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "companies" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "name" character varying(200) NOT NULL,
        "slug" character varying(64) NOT NULL,
        "seat_limit" integer,
        "seats_used" integer NOT NULL DEFAULT '0',
        "session_inactivity_timeout_seconds" integer NOT NULL DEFAULT '14400',
        "default_token_ttl_seconds" integer NOT NULL DEFAULT '3600',
        "max_token_ttl_seconds" integer NOT NULL DEFAULT '2592000',
        "login_link_ttl_seconds" integer NOT NULL DEFAULT '15',
        "join_request_ttl_seconds" integer NOT NULL DEFAULT '3600',
        "password_auth_enabled" boolean NOT NULL DEFAULT false,
        "allow_non_expiring_tokens" boolean NOT NULL DEFAULT false,
        "allowed_redirect_origins" text array NOT NULL DEFAULT '{}',
        "allowed_embed_origins" text array NOT NULL DEFAULT '{}',
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_d4bc3e82a314fa9e29f652c2c22" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_b28b07d25e4324eee577de5496" ON "companies" ("slug")`);
    await queryRunner.query(`
      CREATE TABLE "api_keys" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "name" character varying(200) NOT NULL,
        "lookup" character varying(16) NOT NULL,
        "secret_hash" character(64) NOT NULL,
        "scopes" text array NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "last_used_at" TIMESTAMP(3) WITH TIME ZONE,
        "revoked_at" TIMESTAMP(3) WITH TIME ZONE,
        CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`CREATE INDEX "IDX_8396859f08e7ad26726c9b3860" ON "api_keys" ("company_id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_09463fdda47fdc3dedc26ffffa" ON "api_keys" ("lookup")`);
    await queryRunner.query(`
      CREATE TABLE "platform_admin_keys" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "lookup" character varying(16) NOT NULL,
        "secret_hash" character(64) NOT NULL,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_e8e2212204c3b4d211918042e52" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_6581bb487cf0d7a78d7ec35624" ON "platform_admin_keys" ("lookup")`);
    await queryRunner.query(`
      CREATE TABLE "events" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "name" character varying(200) NOT NULL,
        "slug" character varying(64) NOT NULL,
        "privacy" character varying(16) NOT NULL DEFAULT 'PRIVATE',
        "knocking_enabled" boolean NOT NULL DEFAULT false,
        "starts_at" TIMESTAMP(3) WITH TIME ZONE,
        "ends_at" TIMESTAMP(3) WITH TIME ZONE,
        "ended_at" TIMESTAMP(3) WITH TIME ZONE,
        "capacity" integer,
        "session_policy" character varying(16) NOT NULL DEFAULT 'REPLACE_OLDEST',
        "max_sessions_per_user" integer NOT NULL DEFAULT '1',
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_40731c7151fe4be3116e45ddf73" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_6b4f62be96c4cc42d436eb7396" ON "events" ("company_id", "created_at", "id")
    `);
    await queryRunner.query(`CREATE UNIQUE INDEX "IDX_839225f2cbcb7e9f1fbb81765c" ON "events" ("company_id", "slug")`);
    await queryRunner.query(`
      CREATE TABLE "event_principals" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "event_id" uuid NOT NULL,
        "role" character varying(16) NOT NULL,
        "user_external_id" character varying(255),
        "email" character varying(320),
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_72af4188b2fa56ec0f04f3a205a" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "IDX_a1840a7393f3a32942c99edda7"
        ON "event_principals" ("event_id", "role", "email") WHERE email IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "IDX_13029764bdd6ba47c8ae50989a"
        ON "event_principals" ("event_id", "role", "user_external_id") WHERE user_external_id IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE TABLE "users" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "external_id" character varying(255),
        "email" character varying(320),
        "email_normalized" character varying(320),
        "name" character varying(200),
        "avatar_url" character varying(2048),
        "metadata" jsonb NOT NULL DEFAULT '{}'::jsonb,
        "is_guest" boolean NOT NULL DEFAULT false,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_e23913f1339aaf9fc6bbb29144" ON "users" ("company_id", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_e5b5ad476402293f06fea79217" ON "users" ("company_id", "email_normalized")
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "IDX_2960ab1cc5fb7a01dded59433b" ON "users" ("company_id", "external_id")
        WHERE external_id IS NOT NULL
    `);
    await queryRunner.query(`
      ALTER TABLE "api_keys" ADD CONSTRAINT "FK_8396859f08e7ad26726c9b3860e"
        FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "events" ADD CONSTRAINT "FK_b97c36be0cf65565fad88588c28"
        FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_principals" ADD CONSTRAINT "FK_18298835b31b2c5fa388f83dfbc"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "users" ADD CONSTRAINT "FK_7ae6334059289559722437bcc1c"
        FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "users" DROP CONSTRAINT "FK_7ae6334059289559722437bcc1c"`);
    await queryRunner.query(`ALTER TABLE "event_principals" DROP CONSTRAINT "FK_18298835b31b2c5fa388f83dfbc"`);
    await queryRunner.query(`ALTER TABLE "events" DROP CONSTRAINT "FK_b97c36be0cf65565fad88588c28"`);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "FK_8396859f08e7ad26726c9b3860e"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_2960ab1cc5fb7a01dded59433b"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_e5b5ad476402293f06fea79217"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_e23913f1339aaf9fc6bbb29144"`);
    await queryRunner.query(`DROP TABLE "users"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_13029764bdd6ba47c8ae50989a"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_a1840a7393f3a32942c99edda7"`);
    await queryRunner.query(`DROP TABLE "event_principals"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_839225f2cbcb7e9f1fbb81765c"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_6b4f62be96c4cc42d436eb7396"`);
    await queryRunner.query(`DROP TABLE "events"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_6581bb487cf0d7a78d7ec35624"`);
    await queryRunner.query(`DROP TABLE "platform_admin_keys"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_09463fdda47fdc3dedc26ffffa"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_8396859f08e7ad26726c9b3860"`);
    await queryRunner.query(`DROP TABLE "api_keys"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_b28b07d25e4324eee577de5496"`);
    await queryRunner.query(`DROP TABLE "companies"`);
  }
}
