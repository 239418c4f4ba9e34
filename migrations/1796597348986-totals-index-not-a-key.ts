import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * idx_attendance_rollups_totals led with (event_id, company_id). Where the planner has no
 * statistics on attendance_rollups and is kept from sequential scans (the analytics seed's bulk
 * statements run with enable_seqscan off, so that their triggers probe by index as production's
 * do), it rated that index as selective as the primary key (event_id, user_id, company_id) for one
 * attendee's row, and analytics_refresh_attendance read every row of the event per attendee: n²
 * for a statement of n attendees. The seed's first 20,000 registrants cost 8.4 s in the trigger
 * instead of 0.6 s; 100,000 were still running after five minutes (22 s now). The company moves
 * to the end, where it still filters inside the index but no longer bounds it (every row of an
 * event carries the event's company, so it never narrowed a scan), and only the primary key
 * matches an attendee.
 */
export class TotalsIndexNotAKey1796597348986 implements MigrationInterface {
  name = "TotalsIndexNotAKey1796597348986";

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_rollups_totals"`);
    await queryRunner.query(
      `CREATE INDEX "idx_attendance_rollups_totals" ON "attendance_rollups" ("event_id", "registered", "attended_ms", "company_id")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_rollups_totals"`);
    await queryRunner.query(
      `CREATE INDEX "idx_attendance_rollups_totals" ON "attendance_rollups" ("event_id", "company_id", "registered", "attended_ms")`,
    );
  }
}
