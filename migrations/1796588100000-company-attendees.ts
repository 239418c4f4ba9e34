import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * company_attendees: per company and user, how many of the company's events the user has an
 * attendance_rollups row in, kept by a statement trigger on attendance_rollups
 * (src/modules/analytics/sql/company-attendees.sql), so that companyAnalytics counts its distinct
 * attendees over the whole range from one row per user instead of uniting every event's rows.
 * Filled from attendance_rollups in the same transaction as the trigger is made: the trigger's
 * lock on attendance_rollups keeps writers out until it commits, so no change is missed or
 * counted twice.
 */
export class CompanyAttendees1796588100000 implements MigrationInterface {
  name = "CompanyAttendees1796588100000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "company_attendees" (
        "company_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "events" integer NOT NULL DEFAULT '0',
        CONSTRAINT "PK_8db1558b9746094674a661cafe7" PRIMARY KEY ("company_id", "user_id")
      )
    `);
    await queryRunner.query(`
      ALTER TABLE "company_attendees" ADD CONSTRAINT "FK_be34a22101d5f1725173b0c8926"
        FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_add_company_attendees(company_ids uuid[], user_ids uuid[], deltas integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(company_ids), 0) = 0 THEN RETURN; END IF;
  -- Only pairs that gain: a company being deleted loses its rows, and must get none back.
  INSERT INTO company_attendees (company_id, user_id, events)
  SELECT p.c, p.u, 0 FROM unnest(company_ids, user_ids, deltas) AS p(c, u, n) GROUP BY 1, 2 HAVING sum(p.n) > 0
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM company_attendees t
    JOIN (SELECT DISTINCT c, u FROM unnest(company_ids, user_ids) AS p(c, u)) p ON t.company_id = p.c AND t.user_id = p.u
   ORDER BY t.company_id, t.user_id FOR UPDATE OF t;
  UPDATE company_attendees t SET events = t.events + d.n
    FROM (SELECT c, u, sum(n)::int AS n FROM unnest(company_ids, user_ids, deltas) AS p(c, u, n) GROUP BY 1, 2) d
   WHERE t.company_id = d.c AND t.user_id = d.u;
  DELETE FROM company_attendees t USING unnest(company_ids, user_ids) AS p(c, u)
   WHERE t.company_id = p.c AND t.user_id = p.u AND t.events <= 0;
END $$`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_company_attendees_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  c uuid[]; u uuid[]; n integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(company_id), array_agg(user_id), array_agg(k) INTO c, u, n
      FROM (SELECT company_id, user_id, count(*)::int AS k FROM new_rows WHERE sessions > 0 GROUP BY 1, 2) d;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(company_id), array_agg(user_id), array_agg(k) INTO c, u, n
      FROM (SELECT company_id, user_id, -count(*)::int AS k FROM old_rows WHERE sessions > 0 GROUP BY 1, 2) d;
  ELSE
    SELECT array_agg(company_id), array_agg(user_id), array_agg(k) INTO c, u, n
      FROM (SELECT company_id, user_id, sum(sign)::int AS k FROM (
              SELECT 1 AS sign, company_id, user_id FROM new_rows WHERE sessions > 0
              UNION ALL
              SELECT -1, company_id, user_id FROM old_rows WHERE sessions > 0) x
             GROUP BY 1, 2 HAVING sum(sign) <> 0) d;
  END IF;
  PERFORM analytics_add_company_attendees(c, u, n);
  RETURN NULL;
END $$`);
    await queryRunner.query(`CREATE TRIGGER analytics_company_attendees_inserted AFTER INSERT ON attendance_rollups
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_company_attendees_changed()`);
    await queryRunner.query(`CREATE TRIGGER analytics_company_attendees_updated AFTER UPDATE ON attendance_rollups
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_company_attendees_changed()`);
    await queryRunner.query(`CREATE TRIGGER analytics_company_attendees_deleted AFTER DELETE ON attendance_rollups
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_company_attendees_changed()`);
    await queryRunner.query(`
      INSERT INTO "company_attendees" ("company_id", "user_id", "events")
      SELECT "company_id", "user_id", count(*)::int FROM "attendance_rollups" WHERE "sessions" > 0 GROUP BY 1, 2
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "analytics_company_attendees_deleted" ON "attendance_rollups"`);
    await queryRunner.query(`DROP TRIGGER "analytics_company_attendees_updated" ON "attendance_rollups"`);
    await queryRunner.query(`DROP TRIGGER "analytics_company_attendees_inserted" ON "attendance_rollups"`);
    await queryRunner.query(`DROP FUNCTION analytics_company_attendees_changed()`);
    await queryRunner.query(`DROP FUNCTION analytics_add_company_attendees(uuid[], uuid[], integer[])`);
    await queryRunner.query(`ALTER TABLE "company_attendees" DROP CONSTRAINT "FK_be34a22101d5f1725173b0c8926"`);
    await queryRunner.query(`DROP TABLE "company_attendees"`);
  }
}
