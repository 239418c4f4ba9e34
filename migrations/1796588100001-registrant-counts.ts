import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * registrant_counts: live registrations per event, kept by a statement trigger on registrants
 * through analytics_pending_registrants and analytics_fold_registrants
 * (src/modules/analytics/sql/registrant-counts.sql), so that analytics reads a row per event
 * instead of counting every registration (companyAnalytics over 100 events of 1,000 registrants
 * counted 100,000 index entries). Filled from registrants in the same transaction as the trigger
 * is made: the trigger's lock on registrants keeps writers out until it commits.
 */
export class RegistrantCounts1796588100001 implements MigrationInterface {
  name = "RegistrantCounts1796588100001";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "registrant_counts" (
        "company_id" uuid NOT NULL,
        "event_id" uuid NOT NULL,
        "registrants" integer NOT NULL DEFAULT '0',
        CONSTRAINT "PK_27c68d34221b1ede1f76b37aedc" PRIMARY KEY ("company_id", "event_id")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "analytics_pending_registrants" (
        "id" BIGSERIAL NOT NULL,
        "company_id" uuid NOT NULL,
        "event_id" uuid NOT NULL,
        "registrants" integer NOT NULL,
        CONSTRAINT "PK_7cab68f31b65c705d427ebe684b" PRIMARY KEY ("id", "company_id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_analytics_pending_registrants_event"
        ON "analytics_pending_registrants" ("company_id", "event_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "registrant_counts" ADD CONSTRAINT "FK_27c68d34221b1ede1f76b37aedc"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_registrants" ADD CONSTRAINT "FK_cf51805d0588530b7133ce7ec0e"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_registrant_counts_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO analytics_pending_registrants (company_id, event_id, registrants)
    SELECT d.company_id, d.event_id, d.n FROM (
      SELECT company_id, event_id, count(*)::int AS n FROM new_rows WHERE cancelled_at IS NULL GROUP BY 1, 2) d
     WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO analytics_pending_registrants (company_id, event_id, registrants)
    SELECT d.company_id, d.event_id, d.n FROM (
      SELECT company_id, event_id, -count(*)::int AS n FROM old_rows WHERE cancelled_at IS NULL GROUP BY 1, 2) d
     WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  ELSE
    INSERT INTO analytics_pending_registrants (company_id, event_id, registrants)
    SELECT d.company_id, d.event_id, d.n FROM (
      SELECT company_id, event_id, sum(sign)::int AS n FROM (
        SELECT 1 AS sign, company_id, event_id FROM new_rows WHERE cancelled_at IS NULL
        UNION ALL
        SELECT -1, company_id, event_id FROM old_rows WHERE cancelled_at IS NULL) x
       GROUP BY 1, 2 HAVING sum(sign) <> 0) d
     WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  END IF;
  RETURN NULL;
END $$`);
    await queryRunner.query(`CREATE TRIGGER analytics_registrant_counts_inserted AFTER INSERT ON registrants
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrant_counts_changed()`);
    await queryRunner.query(`CREATE TRIGGER analytics_registrant_counts_updated AFTER UPDATE ON registrants
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrant_counts_changed()`);
    await queryRunner.query(`CREATE TRIGGER analytics_registrant_counts_deleted AFTER DELETE ON registrants
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrant_counts_changed()`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_fold_registrants()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  c uuid[]; e uuid[]; d integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_registrants) THEN RETURN 0; END IF;
  WITH taken AS (DELETE FROM analytics_pending_registrants RETURNING company_id, event_id, registrants),
  summed AS (SELECT company_id, event_id, sum(registrants)::int AS r, count(*) AS rows FROM taken GROUP BY 1, 2)
  SELECT array_agg(company_id ORDER BY company_id, event_id), array_agg(event_id ORDER BY company_id, event_id),
         array_agg(r ORDER BY company_id, event_id), coalesce(sum(rows), 0)
    INTO c, e, d, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO registrant_counts AS t (company_id, event_id, registrants)
  SELECT u.c, u.e, u.d FROM unnest(c, e, d) AS u(c, e, d) WHERE u.d <> 0
    AND EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e)
  ON CONFLICT (company_id, event_id) DO UPDATE SET registrants = t.registrants + EXCLUDED.registrants;
  DELETE FROM registrant_counts t USING unnest(c, e) AS u(c, e)
   WHERE t.company_id = u.c AND t.event_id = u.e AND t.registrants = 0;
  RETURN n;
END $$`);
    await queryRunner.query(`
      INSERT INTO "registrant_counts" ("company_id", "event_id", "registrants")
      SELECT "company_id", "event_id", count(*)::int FROM "registrants" WHERE "cancelled_at" IS NULL GROUP BY 1, 2
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER "analytics_registrant_counts_deleted" ON "registrants"`);
    await queryRunner.query(`DROP TRIGGER "analytics_registrant_counts_updated" ON "registrants"`);
    await queryRunner.query(`DROP TRIGGER "analytics_registrant_counts_inserted" ON "registrants"`);
    await queryRunner.query(`DROP FUNCTION analytics_fold_registrants()`);
    await queryRunner.query(`DROP FUNCTION analytics_registrant_counts_changed()`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_registrants" DROP CONSTRAINT "FK_cf51805d0588530b7133ce7ec0e"
    `);
    await queryRunner.query(`ALTER TABLE "registrant_counts" DROP CONSTRAINT "FK_27c68d34221b1ede1f76b37aedc"`);
    await queryRunner.query(`DROP INDEX "public"."idx_analytics_pending_registrants_event"`);
    await queryRunner.query(`DROP TABLE "analytics_pending_registrants"`);
    await queryRunner.query(`DROP TABLE "registrant_counts"`);
  }
}
