import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Sums of attendance_rollups per event (attendees, time, registered) and per event, metadata key
 * and value, so that the headline numbers and a breakdown read a row per event or per value
 * instead of one per attendee (90,000 at a million sessions). A statement-level trigger on
 * attendance_rollups appends each statement's changes to analytics_pending_attendance; the fold
 * every node already runs each second (analytics_fold_pending) moves them into the sums; readers
 * add what is pending. Whatever writes sessions, registrants or users reaches attendance_rollups
 * through analytics_refresh_attendance, so the sums stay exact on every path.
 */

/** Same key as the fold of analytics_pending_instants: one fold at a time moves both. */
const FOLD_LOCK_KEY = 726_473_913;

/**
 * Appends to analytics_pending_attendance what the rows of `changed` (sign, event_id,
 * attended_ms, registered, metadata) add to or take from the sums: per row one attendee, its
 * time and whether it is registered, and the same under the value of every key of its metadata.
 * Sums that net out are not written; nor are rows of an event being deleted.
 */
const appendDeltas = (changed: string) => `
    WITH changed AS (${changed}),
    deltas AS (
      SELECT event_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id
      UNION ALL
      SELECT c.event_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3
    )
    INSERT INTO analytics_pending_attendance (event_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);`;

const columns = "event_id, attended_ms, registered, metadata";

const UP = `
-- Rows come and go every second, like analytics_pending_instants.
ALTER TABLE analytics_pending_attendance SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                                              autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);

-- What attendance_rollups already holds, summed.
INSERT INTO attendance_event_rollups (event_id, attendees, attended_ms, registered)
SELECT event_id, count(*), coalesce(sum(attended_ms), 0), count(*) FILTER (WHERE registered) FROM attendance_rollups GROUP BY event_id;
INSERT INTO attendance_value_rollups (event_id, key, value, attendees, attended_ms)
SELECT a.event_id, m.key, m.value, count(*), sum(a.attended_ms)
  FROM attendance_rollups a CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(a.metadata) = 'object' THEN a.metadata ELSE '{}' END) m
 WHERE m.value IS NOT NULL
 GROUP BY 1, 2, 3;

-- After any statement on attendance_rollups (whichever path wrote sessions, registrants or users:
-- every change reaches it through analytics_refresh_attendance): its changes to the sums, pending.
CREATE FUNCTION analytics_attendance_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    ${appendDeltas(`SELECT 1 AS sign, ${columns} FROM new_rows`)}
  ELSIF TG_OP = 'DELETE' THEN
    ${appendDeltas(`SELECT -1 AS sign, ${columns} FROM old_rows`)}
  ELSE
    -- A refresh rewrites rows whose shares may not change: those net out.
    ${appendDeltas(`SELECT -1 AS sign, ${columns} FROM old_rows UNION ALL SELECT 1, ${columns} FROM new_rows`)}
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_attendance_inserted AFTER INSERT ON attendance_rollups REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_changed();
CREATE TRIGGER analytics_attendance_updated AFTER UPDATE ON attendance_rollups REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_changed();
CREATE TRIGGER analytics_attendance_deleted AFTER DELETE ON attendance_rollups REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_changed();

-- Moves the pending changes into the sums, in one batch, under the fold's lock. Sums back to
-- nothing go. Returns how many pending rows it moved.
CREATE FUNCTION analytics_fold_attendance() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  e uuid[]; k text[]; v text[]; n_att integer[]; n_ms bigint[]; n_reg integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_attendance) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(${FOLD_LOCK_KEY});
  WITH taken AS (DELETE FROM analytics_pending_attendance RETURNING event_id, key, value, attendees, attended_ms, registered),
  summed AS (
    SELECT event_id, key, value, sum(attendees)::int AS a, sum(attended_ms)::bigint AS ms, sum(registered)::int AS r, count(*) AS rows
      FROM taken GROUP BY 1, 2, 3
  )
  SELECT array_agg(event_id ORDER BY event_id, key, value), array_agg(key ORDER BY event_id, key, value),
         array_agg(value ORDER BY event_id, key, value), array_agg(a ORDER BY event_id, key, value),
         array_agg(ms ORDER BY event_id, key, value), array_agg(r ORDER BY event_id, key, value), coalesce(sum(rows), 0)
    INTO e, k, v, n_att, n_ms, n_reg, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO attendance_event_rollups AS t (event_id, attendees, attended_ms, registered)
  SELECT u.e, u.a, u.ms, u.r FROM unnest(e, k, n_att, n_ms, n_reg) AS u(e, k, a, ms, r) WHERE u.k IS NULL
  ON CONFLICT (event_id) DO UPDATE
    SET attendees = t.attendees + EXCLUDED.attendees, attended_ms = t.attended_ms + EXCLUDED.attended_ms,
        registered = t.registered + EXCLUDED.registered;
  INSERT INTO attendance_value_rollups AS t (event_id, key, value, attendees, attended_ms)
  SELECT u.e, u.k, u.v, u.a, u.ms FROM unnest(e, k, v, n_att, n_ms) AS u(e, k, v, a, ms) WHERE u.k IS NOT NULL
  ON CONFLICT (event_id, key, value) DO UPDATE
    SET attendees = t.attendees + EXCLUDED.attendees, attended_ms = t.attended_ms + EXCLUDED.attended_ms;
  DELETE FROM attendance_event_rollups t USING unnest(e, k) AS u(e, k)
   WHERE u.k IS NULL AND t.event_id = u.e AND t.attendees = 0 AND t.attended_ms = 0 AND t.registered = 0;
  DELETE FROM attendance_value_rollups t USING unnest(e, k, v) AS u(e, k, v)
   WHERE t.event_id = u.e AND t.key = u.k AND t.value = u.v AND t.attendees = 0 AND t.attended_ms = 0;
  RETURN n;
END $$;

-- The fold every node runs each second now moves both kinds of pending rows; it still returns
-- the instants it moved.
CREATE OR REPLACE FUNCTION analytics_fold_pending() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  d_events uuid[]; d_ats timestamptz[]; d_join boolean[]; n integer;
BEGIN
  PERFORM analytics_fold_attendance();
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_instants) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(${FOLD_LOCK_KEY});
  WITH taken AS (DELETE FROM analytics_pending_instants RETURNING event_id, at, is_join)
  SELECT array_agg(event_id), array_agg(at), array_agg(is_join), count(*) INTO d_events, d_ats, d_join, n FROM taken;
  IF n > 0 THEN PERFORM analytics_write_instants(d_events, d_ats, d_join, array_fill(1, ARRAY[n])); END IF;
  RETURN n;
END $$;

-- The pending changes to the sums of some events, for readers: the totals (key NULL) and, with
-- a key, that key's values. Not inlined, like analytics_pending_of, for the same reason.
CREATE FUNCTION analytics_pending_attendance_of(event_ids uuid[], with_key text)
RETURNS TABLE (event_id uuid, key text, value text, attendees integer, attended_ms bigint, registered integer)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
BEGIN
  RETURN QUERY SELECT p.event_id, p.key, p.value, p.attendees, p.attended_ms, p.registered
    FROM analytics_pending_attendance p
   WHERE p.event_id = ANY (event_ids) AND (p.key IS NULL OR p.key = with_key);
END $$;
`;

const DOWN = `
DROP TRIGGER analytics_attendance_deleted ON attendance_rollups;
DROP TRIGGER analytics_attendance_updated ON attendance_rollups;
DROP TRIGGER analytics_attendance_inserted ON attendance_rollups;
DROP FUNCTION analytics_attendance_changed();
DROP FUNCTION analytics_pending_attendance_of(uuid[], text);
CREATE OR REPLACE FUNCTION analytics_fold_pending() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  d_events uuid[]; d_ats timestamptz[]; d_join boolean[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_instants) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(${FOLD_LOCK_KEY});
  WITH taken AS (DELETE FROM analytics_pending_instants RETURNING event_id, at, is_join)
  SELECT array_agg(event_id), array_agg(at), array_agg(is_join), count(*) INTO d_events, d_ats, d_join, n FROM taken;
  IF n > 0 THEN PERFORM analytics_write_instants(d_events, d_ats, d_join, array_fill(1, ARRAY[n])); END IF;
  RETURN n;
END $$;
DROP FUNCTION analytics_fold_attendance();
`;


export class AttendanceSums1796549292447 implements MigrationInterface {
  name = "AttendanceSums1796549292447";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "attendance_event_rollups" (
        "event_id" uuid NOT NULL,
        "attendees" integer NOT NULL DEFAULT '0',
        "attended_ms" bigint NOT NULL DEFAULT '0',
        "registered" integer NOT NULL DEFAULT '0',
        CONSTRAINT "PK_4fee681baf47c3321909589b41f" PRIMARY KEY ("event_id")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "attendance_value_rollups" (
        "event_id" uuid NOT NULL,
        "key" text NOT NULL,
        "value" text NOT NULL,
        "attendees" integer NOT NULL DEFAULT '0',
        "attended_ms" bigint NOT NULL DEFAULT '0',
        CONSTRAINT "PK_e2a39ac55aa68020d5d87ac4e96" PRIMARY KEY ("event_id", "key", "value")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "analytics_pending_attendance" (
        "id" BIGSERIAL NOT NULL,
        "event_id" uuid NOT NULL,
        "key" text,
        "value" text,
        "attendees" integer NOT NULL,
        "attended_ms" bigint NOT NULL,
        "registered" integer NOT NULL,
        CONSTRAINT "PK_6efa0dbcfb5c8f9710f5fda54fe" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_analytics_pending_attendance_event_key"
        ON "analytics_pending_attendance" ("event_id", "key")
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_event_rollups" ADD CONSTRAINT "FK_4fee681baf47c3321909589b41f"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_value_rollups" ADD CONSTRAINT "FK_78ad99c1795d02850b61e5f2af2"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" ADD CONSTRAINT "FK_03f2dde2a0011bd7b0baf1bba56"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(UP);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(DOWN);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" DROP CONSTRAINT "FK_03f2dde2a0011bd7b0baf1bba56"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" DROP CONSTRAINT "FK_78ad99c1795d02850b61e5f2af2"`);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" DROP CONSTRAINT "FK_4fee681baf47c3321909589b41f"`);
    await queryRunner.query(`DROP INDEX "public"."idx_analytics_pending_attendance_event_key"`);
    await queryRunner.query(`DROP TABLE "analytics_pending_attendance"`);
    await queryRunner.query(`DROP TABLE "attendance_value_rollups"`);
    await queryRunner.query(`DROP TABLE "attendance_event_rollups"`);
  }
}
