import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * events and users: PRIMARY KEY (id, company_id) instead of (id), as every other company-owned
 * table has (docs/scaling-out.md). id comes first, so a lookup by id alone still reads the primary
 * key's index. The unique (id, company_id) indexes the foreign keys named until now
 * (idx_events_id_company, idx_users_id_company) would only duplicate it: they go, and the foreign
 * keys that named them are made again, unchanged, against the new primary keys.
 */
export class EventsAndUsersKeyedByCompany1796586650660 implements MigrationInterface {
  name = "EventsAndUsersKeyedByCompany1796586650660";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" DROP CONSTRAINT "FK_a8edc1456f59d8421d995251c62"
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" DROP CONSTRAINT "FK_7d3ae003fbb72e0effdb79907d7"
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" DROP CONSTRAINT "FK_b29c339f5860de7c38ca0eef25c"`);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" DROP CONSTRAINT "FK_f3c3b7f11612d2cd30a1da42801"`);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" DROP CONSTRAINT "FK_834c4a824408f606be02614095e"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_fa944b9f58b62ea5c8f87113726"`);
    await queryRunner.query(`ALTER TABLE "attendance_segments" DROP CONSTRAINT "FK_9e4c05516cd74a0386be3da0edc"`);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" DROP CONSTRAINT "FK_0e4e5cf5a352ec40e74ed19c663"`);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" DROP CONSTRAINT "FK_496ebb74fdeab1254d18ca829ef"`);
    await queryRunner.query(`ALTER TABLE "event_occupancy" DROP CONSTRAINT "FK_c5c01481302bd1b2ad2199f0f64"`);
    await queryRunner.query(`ALTER TABLE "event_principals" DROP CONSTRAINT "FK_48131de38d49d1f39aebdffce74"`);
    await queryRunner.query(`ALTER TABLE "join_requests" DROP CONSTRAINT "FK_27c40bcf431fc7e77334f9532ff"`);
    await queryRunner.query(`ALTER TABLE "registrants" DROP CONSTRAINT "FK_d095bbb1e3e9680abce0345bafb"`);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" DROP CONSTRAINT "FK_9cfd79a0ff5c65e05b862aa3bd8"`);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" DROP CONSTRAINT "FK_001872b471a13918b033ad911e9"`);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" DROP CONSTRAINT "FK_e76d472b518acb7b3b65773689d"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_19156d5b2a3483d6e0755f24630"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_ffe18c5bd96ee267d0c6326f993"`);
    await queryRunner.query(`ALTER TABLE "login_links" DROP CONSTRAINT "FK_f8e642b09b8c5d6926ff9398a29"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_3770497f99d78aca8c45c03f926"`);
    await queryRunner.query(`ALTER TABLE "user_passwords" DROP CONSTRAINT "FK_89c1d9f44db23ca90ac325002b9"`);
    await queryRunner.query(`DROP INDEX "public"."idx_events_id_company"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_id_company"`);
    await queryRunner.query(`ALTER TABLE "events" DROP CONSTRAINT "PK_40731c7151fe4be3116e45ddf73"`);
    await queryRunner.query(`
      ALTER TABLE "events" ADD CONSTRAINT "PK_a88bbde7260e35c0e8c9c4673eb" PRIMARY KEY ("id",
        "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "users" DROP CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433"`);
    await queryRunner.query(`
      ALTER TABLE "users" ADD CONSTRAINT "PK_e23fc51d81ca685bfbba9b1f414" PRIMARY KEY ("id", "company_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" ADD CONSTRAINT "FK_a8edc1456f59d8421d995251c62"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" ADD CONSTRAINT "FK_7d3ae003fbb72e0effdb79907d7"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_windows" ADD CONSTRAINT "FK_b29c339f5860de7c38ca0eef25c"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_event_rollups" ADD CONSTRAINT "FK_f3c3b7f11612d2cd30a1da42801"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_gap_cells" ADD CONSTRAINT "FK_834c4a824408f606be02614095e"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_fa944b9f58b62ea5c8f87113726"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_segments" ADD CONSTRAINT "FK_9e4c05516cd74a0386be3da0edc"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_value_rollups" ADD CONSTRAINT "FK_0e4e5cf5a352ec40e74ed19c663"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_window_minutes" ADD CONSTRAINT "FK_496ebb74fdeab1254d18ca829ef"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_occupancy" ADD CONSTRAINT "FK_c5c01481302bd1b2ad2199f0f64"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_principals" ADD CONSTRAINT "FK_48131de38d49d1f39aebdffce74"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "join_requests" ADD CONSTRAINT "FK_27c40bcf431fc7e77334f9532ff"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "registrants" ADD CONSTRAINT "FK_d095bbb1e3e9680abce0345bafb"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_hour_rollups" ADD CONSTRAINT "FK_9cfd79a0ff5c65e05b862aa3bd8"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_minute_rollups" ADD CONSTRAINT "FK_001872b471a13918b033ad911e9"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_second_rollups" ADD CONSTRAINT "FK_e76d472b518acb7b3b65773689d"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_19156d5b2a3483d6e0755f24630"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_ffe18c5bd96ee267d0c6326f993"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "login_links" ADD CONSTRAINT "FK_f8e642b09b8c5d6926ff9398a29"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_3770497f99d78aca8c45c03f926"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "user_passwords" ADD CONSTRAINT "FK_89c1d9f44db23ca90ac325002b9"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" DROP CONSTRAINT "FK_a8edc1456f59d8421d995251c62"
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" DROP CONSTRAINT "FK_7d3ae003fbb72e0effdb79907d7"
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" DROP CONSTRAINT "FK_b29c339f5860de7c38ca0eef25c"`);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" DROP CONSTRAINT "FK_f3c3b7f11612d2cd30a1da42801"`);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" DROP CONSTRAINT "FK_834c4a824408f606be02614095e"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_fa944b9f58b62ea5c8f87113726"`);
    await queryRunner.query(`ALTER TABLE "attendance_segments" DROP CONSTRAINT "FK_9e4c05516cd74a0386be3da0edc"`);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" DROP CONSTRAINT "FK_0e4e5cf5a352ec40e74ed19c663"`);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" DROP CONSTRAINT "FK_496ebb74fdeab1254d18ca829ef"`);
    await queryRunner.query(`ALTER TABLE "event_occupancy" DROP CONSTRAINT "FK_c5c01481302bd1b2ad2199f0f64"`);
    await queryRunner.query(`ALTER TABLE "event_principals" DROP CONSTRAINT "FK_48131de38d49d1f39aebdffce74"`);
    await queryRunner.query(`ALTER TABLE "join_requests" DROP CONSTRAINT "FK_27c40bcf431fc7e77334f9532ff"`);
    await queryRunner.query(`ALTER TABLE "registrants" DROP CONSTRAINT "FK_d095bbb1e3e9680abce0345bafb"`);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" DROP CONSTRAINT "FK_9cfd79a0ff5c65e05b862aa3bd8"`);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" DROP CONSTRAINT "FK_001872b471a13918b033ad911e9"`);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" DROP CONSTRAINT "FK_e76d472b518acb7b3b65773689d"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_19156d5b2a3483d6e0755f24630"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_ffe18c5bd96ee267d0c6326f993"`);
    await queryRunner.query(`ALTER TABLE "login_links" DROP CONSTRAINT "FK_f8e642b09b8c5d6926ff9398a29"`);
    await queryRunner.query(`ALTER TABLE "sessions" DROP CONSTRAINT "FK_3770497f99d78aca8c45c03f926"`);
    await queryRunner.query(`ALTER TABLE "user_passwords" DROP CONSTRAINT "FK_89c1d9f44db23ca90ac325002b9"`);
    await queryRunner.query(`ALTER TABLE "users" DROP CONSTRAINT "PK_e23fc51d81ca685bfbba9b1f414"`);
    await queryRunner.query(`ALTER TABLE "users" ADD CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id")`);
    await queryRunner.query(`ALTER TABLE "events" DROP CONSTRAINT "PK_a88bbde7260e35c0e8c9c4673eb"`);
    await queryRunner.query(`ALTER TABLE "events" ADD CONSTRAINT "PK_40731c7151fe4be3116e45ddf73" PRIMARY KEY ("id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "idx_users_id_company" ON "users" ("id", "company_id")`);
    await queryRunner.query(`CREATE UNIQUE INDEX "idx_events_id_company" ON "events" ("id", "company_id")`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" ADD CONSTRAINT "FK_a8edc1456f59d8421d995251c62"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" ADD CONSTRAINT "FK_7d3ae003fbb72e0effdb79907d7"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_windows" ADD CONSTRAINT "FK_b29c339f5860de7c38ca0eef25c"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_event_rollups" ADD CONSTRAINT "FK_f3c3b7f11612d2cd30a1da42801"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_gap_cells" ADD CONSTRAINT "FK_834c4a824408f606be02614095e"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_fa944b9f58b62ea5c8f87113726"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_segments" ADD CONSTRAINT "FK_9e4c05516cd74a0386be3da0edc"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_value_rollups" ADD CONSTRAINT "FK_0e4e5cf5a352ec40e74ed19c663"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_window_minutes" ADD CONSTRAINT "FK_496ebb74fdeab1254d18ca829ef"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_occupancy" ADD CONSTRAINT "FK_c5c01481302bd1b2ad2199f0f64"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_principals" ADD CONSTRAINT "FK_48131de38d49d1f39aebdffce74"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "join_requests" ADD CONSTRAINT "FK_27c40bcf431fc7e77334f9532ff"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "registrants" ADD CONSTRAINT "FK_d095bbb1e3e9680abce0345bafb"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_hour_rollups" ADD CONSTRAINT "FK_9cfd79a0ff5c65e05b862aa3bd8"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_minute_rollups" ADD CONSTRAINT "FK_001872b471a13918b033ad911e9"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_second_rollups" ADD CONSTRAINT "FK_e76d472b518acb7b3b65773689d"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_19156d5b2a3483d6e0755f24630"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_ffe18c5bd96ee267d0c6326f993"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "login_links" ADD CONSTRAINT "FK_f8e642b09b8c5d6926ff9398a29"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "sessions" ADD CONSTRAINT "FK_3770497f99d78aca8c45c03f926"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "user_passwords" ADD CONSTRAINT "FK_89c1d9f44db23ca90ac325002b9"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }
}
