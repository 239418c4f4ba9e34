import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Every key of the company-owned tables outside analytics names the company, as a PostgreSQL
 * distributed by company (Citus) requires of its unique keys and of foreign keys between
 * distributed tables (docs/scaling-out.md): primary keys become (id, company_id), with id first
 * so a lookup by id alone still reads the primary key's index; foreign keys to events, users and
 * the webhook tables become (x_id, company_id); the unique indexes gain company_id.
 * event_principals gets the company_id it lacked, copied from its event.
 *
 * events and users keep their primary key (id) for now, beside a unique (id, company_id) that the
 * new foreign keys name: the analytics tables' foreign keys still name events(id) and users(id).
 */
export class CompanyInEveryKey1796574153104 implements MigrationInterface {
  name = "CompanyInEveryKey1796574153104";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "event_principals" DROP CONSTRAINT "FK_18298835b31b2c5fa388f83dfbc"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_98fcc611bf939573cac8251a2ac"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_085d540d9f418cfbdc7bd55bb19"`);
    await queryRunner.query(`ALTER TABLE "registrants" DROP CONSTRAINT "FK_798608da755b4e841c51030d713"`);
    await queryRunner.query(`ALTER TABLE "login_links" DROP CONSTRAINT "FK_3e3b544fc3aed2ff66a97e4da93"`);
    await queryRunner.query(`ALTER TABLE "join_requests" DROP CONSTRAINT "FK_43788c988a53ded0b5d740c55bf"`);
    await queryRunner.query(`ALTER TABLE "user_passwords" DROP CONSTRAINT "FK_69bf155ad044d776976470eb032"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "FK_0b882c26a9b91c26e6e86b4867c"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "FK_35330ff895962f7bd8a46c18177"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_lookup"`);
    await queryRunner.query(`DROP INDEX "public"."idx_event_principals_email"`);
    await queryRunner.query(`DROP INDEX "public"."idx_event_principals_external_id"`);
    await queryRunner.query(`DROP INDEX "public"."idx_registrants_event_email"`);
    await queryRunner.query(`DROP INDEX "public"."idx_login_links_code_lookup"`);
    await queryRunner.query(`ALTER TABLE "event_principals" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "event_principals" p SET "company_id" = e."company_id" FROM "events" e WHERE e."id" = p."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "event_principals" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "event_principals" DROP CONSTRAINT "PK_72af4188b2fa56ec0f04f3a205a"`);
    await queryRunner.query(`
      ALTER TABLE "event_principals" ADD CONSTRAINT "PK_92d13b708e6bdb81ab708ec2388" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad"`);
    await queryRunner.query(`
      ALTER TABLE "api_keys" ADD CONSTRAINT "PK_38e13be92f02f721980ec51ad60" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "signing_keys" DROP CONSTRAINT "PK_ab7d78cf6e61dc3904133b4cd55"`);
    await queryRunner.query(`
      ALTER TABLE "signing_keys" ADD CONSTRAINT "PK_d205003301a9263c2a14939ad98" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "PK_3238ef96f18b355b671619111bc"`);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "PK_014ed39240bcbd02e0d9b868024" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "registrants" DROP CONSTRAINT "PK_6a4656d33e8418450e2ff558e24"`);
    await queryRunner.query(`
      ALTER TABLE "registrants" ADD CONSTRAINT "PK_45f6aab1e141d0b427156e912c5" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "login_links" DROP CONSTRAINT "PK_e382a2113315c6bb8992cf97e31"`);
    await queryRunner.query(`
      ALTER TABLE "login_links" ADD CONSTRAINT "PK_b1b88f8fe6fc3d871d0ef13bedb" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "partner_secrets" DROP CONSTRAINT "PK_ee98e9843dd4f3228827167d120"`);
    await queryRunner.query(`
      ALTER TABLE "partner_secrets" ADD CONSTRAINT "PK_9a5f9b8a34c4c360b04d037bb85" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "identity_providers" DROP CONSTRAINT "PK_3ac9e77e3690c03f7f25579c8e0"`);
    await queryRunner.query(`
      ALTER TABLE "identity_providers" ADD CONSTRAINT "PK_2cf89d6be49f41a205d21a7a6d3" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "join_requests" DROP CONSTRAINT "PK_3584a09620923a5aaf7de782f0d"`);
    await queryRunner.query(`
      ALTER TABLE "join_requests" ADD CONSTRAINT "PK_b7016378a5d53c2ce6e9abaf655" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "user_passwords" DROP CONSTRAINT "PK_69bf155ad044d776976470eb032"`);
    await queryRunner.query(`
      ALTER TABLE "user_passwords" ADD CONSTRAINT "PK_89c1d9f44db23ca90ac325002b9" PRIMARY KEY ("user_id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "webhook_endpoints" DROP CONSTRAINT "PK_054c4cfb95223732f5939d2d546"`);
    await queryRunner.query(`
      ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "PK_13c1e73091da3caa02e54e746cf" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "webhook_messages" DROP CONSTRAINT "PK_526e8e1655924920adc4cd30dcd"`);
    await queryRunner.query(`
      ALTER TABLE "webhook_messages" ADD CONSTRAINT "PK_f97aff646a260884f5ab218d998" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "PK_535dd409947fb6d8fc6dfc0112a"`);
    await queryRunner.query(`
      ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "PK_ab7e39618111259dca7097a788e" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`CREATE UNIQUE INDEX "idx_api_keys_lookup" ON "api_keys" ("lookup", "company_id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "idx_events_id_company" ON "events" ("id", "company_id")`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_event_principals_email"
        ON "event_principals" ("event_id", "role", "email", "company_id") WHERE email IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_event_principals_external_id"
        ON "event_principals" ("event_id", "role", "user_external_id", "company_id")
        WHERE user_external_id IS NOT NULL
    `);
    await queryRunner.query(`CREATE UNIQUE INDEX "idx_users_id_company" ON "users" ("id", "company_id")`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_registrants_event_email"
        ON "registrants" ("event_id", "email_normalized", "company_id") WHERE cancelled_at IS NULL
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_login_links_code_lookup" ON "login_links" ("code_lookup", "company_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "event_principals" ADD CONSTRAINT "FK_48131de38d49d1f39aebdffce74"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_19156d5b2a3483d6e0755f24630"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_3770497f99d78aca8c45c03f926"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "registrants" ADD CONSTRAINT "FK_d095bbb1e3e9680abce0345bafb"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "login_links" ADD CONSTRAINT "FK_f8e642b09b8c5d6926ff9398a29"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "join_requests" ADD CONSTRAINT "FK_27c40bcf431fc7e77334f9532ff"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "user_passwords" ADD CONSTRAINT "FK_89c1d9f44db23ca90ac325002b9"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_8c5012801bd666345b72bd3c5d4"
        FOREIGN KEY ("endpoint_id", "company_id") REFERENCES "webhook_endpoints"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_30c289456a09d89e3ff5d5f7c93"
        FOREIGN KEY ("message_id", "company_id") REFERENCES "webhook_messages"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "FK_30c289456a09d89e3ff5d5f7c93"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "FK_8c5012801bd666345b72bd3c5d4"`);
    await queryRunner.query(`ALTER TABLE "user_passwords" DROP CONSTRAINT "FK_89c1d9f44db23ca90ac325002b9"`);
    await queryRunner.query(`ALTER TABLE "join_requests" DROP CONSTRAINT "FK_27c40bcf431fc7e77334f9532ff"`);
    await queryRunner.query(`ALTER TABLE "login_links" DROP CONSTRAINT "FK_f8e642b09b8c5d6926ff9398a29"`);
    await queryRunner.query(`ALTER TABLE "registrants" DROP CONSTRAINT "FK_d095bbb1e3e9680abce0345bafb"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_3770497f99d78aca8c45c03f926"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_19156d5b2a3483d6e0755f24630"`);
    await queryRunner.query(`ALTER TABLE "event_principals" DROP CONSTRAINT "FK_48131de38d49d1f39aebdffce74"`);
    await queryRunner.query(`DROP INDEX "public"."idx_login_links_code_lookup"`);
    await queryRunner.query(`DROP INDEX "public"."idx_registrants_event_email"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_id_company"`);
    await queryRunner.query(`DROP INDEX "public"."idx_event_principals_external_id"`);
    await queryRunner.query(`DROP INDEX "public"."idx_event_principals_email"`);
    await queryRunner.query(`DROP INDEX "public"."idx_events_id_company"`);
    await queryRunner.query(`DROP INDEX "public"."idx_api_keys_lookup"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "PK_ab7e39618111259dca7097a788e"`);
    await queryRunner.query(`
      ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "PK_535dd409947fb6d8fc6dfc0112a" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "webhook_messages" DROP CONSTRAINT "PK_f97aff646a260884f5ab218d998"`);
    await queryRunner.query(`
      ALTER TABLE "webhook_messages" ADD CONSTRAINT "PK_526e8e1655924920adc4cd30dcd" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "webhook_endpoints" DROP CONSTRAINT "PK_13c1e73091da3caa02e54e746cf"`);
    await queryRunner.query(`
      ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "PK_054c4cfb95223732f5939d2d546" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "user_passwords" DROP CONSTRAINT "PK_89c1d9f44db23ca90ac325002b9"`);
    await queryRunner.query(`
      ALTER TABLE "user_passwords" ADD CONSTRAINT "PK_69bf155ad044d776976470eb032" PRIMARY KEY ("user_id")
    `);
    await queryRunner.query(`ALTER TABLE "join_requests" DROP CONSTRAINT "PK_b7016378a5d53c2ce6e9abaf655"`);
    await queryRunner.query(`
      ALTER TABLE "join_requests" ADD CONSTRAINT "PK_3584a09620923a5aaf7de782f0d" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "identity_providers" DROP CONSTRAINT "PK_2cf89d6be49f41a205d21a7a6d3"`);
    await queryRunner.query(`
      ALTER TABLE "identity_providers" ADD CONSTRAINT "PK_3ac9e77e3690c03f7f25579c8e0" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "partner_secrets" DROP CONSTRAINT "PK_9a5f9b8a34c4c360b04d037bb85"`);
    await queryRunner.query(`
      ALTER TABLE "partner_secrets" ADD CONSTRAINT "PK_ee98e9843dd4f3228827167d120" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "login_links" DROP CONSTRAINT "PK_b1b88f8fe6fc3d871d0ef13bedb"`);
    await queryRunner.query(`
      ALTER TABLE "login_links" ADD CONSTRAINT "PK_e382a2113315c6bb8992cf97e31" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "registrants" DROP CONSTRAINT "PK_45f6aab1e141d0b427156e912c5"`);
    await queryRunner.query(`
      ALTER TABLE "registrants" ADD CONSTRAINT "PK_6a4656d33e8418450e2ff558e24" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "PK_014ed39240bcbd02e0d9b868024"`);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "PK_3238ef96f18b355b671619111bc" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "signing_keys" DROP CONSTRAINT "PK_d205003301a9263c2a14939ad98"`);
    await queryRunner.query(`
      ALTER TABLE "signing_keys" ADD CONSTRAINT "PK_ab7d78cf6e61dc3904133b4cd55" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "api_keys" DROP CONSTRAINT "PK_38e13be92f02f721980ec51ad60"`);
    await queryRunner.query(`
      ALTER TABLE "api_keys" ADD CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "event_principals" DROP CONSTRAINT "PK_92d13b708e6bdb81ab708ec2388"`);
    await queryRunner.query(`
      ALTER TABLE "event_principals" ADD CONSTRAINT "PK_72af4188b2fa56ec0f04f3a205a" PRIMARY KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "event_principals" DROP COLUMN "company_id"`);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_login_links_code_lookup" ON "login_links" USING btree ("code_lookup")
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_registrants_event_email" ON "registrants"
        USING btree ("email_normalized", "event_id") WHERE (cancelled_at IS NULL)
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_event_principals_external_id" ON "event_principals"
        USING btree ("event_id", "role", "user_external_id") WHERE (user_external_id IS NOT NULL)
    `);
    await queryRunner.query(`
      CREATE UNIQUE INDEX "idx_event_principals_email" ON "event_principals"
        USING btree ("email", "event_id", "role") WHERE (email IS NOT NULL)
    `);
    await queryRunner.query(`CREATE UNIQUE INDEX "idx_api_keys_lookup" ON "api_keys" USING btree ("lookup")`);
    await queryRunner.query(`
      ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_35330ff895962f7bd8a46c18177"
        FOREIGN KEY ("message_id") REFERENCES "webhook_messages"("id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_0b882c26a9b91c26e6e86b4867c"
        FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "user_passwords" ADD CONSTRAINT "FK_69bf155ad044d776976470eb032"
        FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "join_requests" ADD CONSTRAINT "FK_43788c988a53ded0b5d740c55bf"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "login_links" ADD CONSTRAINT "FK_3e3b544fc3aed2ff66a97e4da93"
        FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "registrants" ADD CONSTRAINT "FK_798608da755b4e841c51030d713"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_085d540d9f418cfbdc7bd55bb19"
        FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_98fcc611bf939573cac8251a2ac"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_principals" ADD CONSTRAINT "FK_18298835b31b2c5fa388f83dfbc"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }
}
