import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Attendees, their time and how many registered over a window that cuts sessions, without
 * reading the sessions (see docs/analytics.md, "Windows that cut sessions"). Each user's ended
 * sessions merged into segments (attendance_segments, per family: all sessions, and those that
 * make the user registered), kept by a statement trigger on attendance_rollups in the writer's
 * transaction: every path that writes sessions, registrants or users reaches attendance_rollups
 * through analytics_refresh_attendance, with the pair's row locked. The segments' starts, ends
 * and gaps are counted per minute (attendance_window_minutes, attendance_gap_cells) through
 * analytics_pending_windows and the fold every node runs each second, as the attendance sums are.
 */

/** Same key as the fold of analytics_pending_instants: one fold at a time moves every kind. */
const FOLD_LOCK_KEY = 726_473_913;

/**
 * The segments of (event, user) pairs `p` (a CTE with columns e, u), from their ended sessions:
 * rows (event_id, user_id, family, start_at, end_at, prev_end). Sessions are merged where they
 * overlap or touch; a zero-length session lying within or at an edge of another segment is
 * merged into it, so that "start < to and end > from" says exactly whether one of the segment's
 * sessions lies in the window (as the raw rows count a session: end > from and join < to).
 */
const SEGMENTS = `
    iv AS (
      SELECT s.event_id, s.user_id, s.joined_at AS a, GREATEST(s.joined_at, s.ended_at) AS b,
             (EXISTS (SELECT 1 FROM registrants x WHERE x.event_id = s.event_id AND x.user_id = s.user_id AND x.cancelled_at IS NULL)
              OR EXISTS (SELECT 1 FROM registrants x WHERE x.id = s.registrant_id AND x.event_id = s.event_id AND x.cancelled_at IS NULL)) AS reg
        FROM p JOIN users us ON us.id = p.u JOIN sessions s ON s.event_id = p.e AND s.user_id = p.u
       WHERE s.ended_at IS NOT NULL
    ), fam AS (
      SELECT event_id, user_id, 0::smallint AS family, a, b FROM iv
      UNION ALL
      SELECT event_id, user_id, 1::smallint, a, b FROM iv WHERE reg
    ), cov AS (
      SELECT fam.*, max(b) OVER (PARTITION BY event_id, user_id, family ORDER BY a, b
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered
        FROM fam
    ), grp AS (
      SELECT cov.*, count(*) FILTER (WHERE covered IS NULL OR a > covered)
                      OVER (PARTITION BY event_id, user_id, family ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS g
        FROM cov
    ), seg AS (
      SELECT event_id, user_id, family, min(a) AS start_at, max(b) AS end_at FROM grp GROUP BY event_id, user_id, family, g
    ), segments AS (
      SELECT seg.*, lag(end_at) OVER (PARTITION BY event_id, user_id, family ORDER BY start_at) AS prev_end FROM seg
    )`;

/**
 * Appends to analytics_pending_windows what segments `changed` (sign, event_id, family, start_at,
 * end_at, prev_end) add to or take from the per-minute counts and the gap cells.
 */
const appendDeltas = (changed: string) => `
    deltas AS (
      SELECT event_id, family, minute, NULL::timestamptz AS start_minute, sum(st)::int AS starts, sum(st_ms)::bigint AS starts_ms,
             sum(en)::int AS ends, sum(en_ms)::bigint AS ends_ms, 0 AS gaps
        FROM (
          SELECT event_id, family, date_trunc('minute', start_at, 'UTC') AS minute, sign AS st,
                 sign * round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
            FROM ${changed}
          UNION ALL
          SELECT event_id, family, date_trunc('minute', end_at, 'UTC'), 0, 0, sign,
                 sign * round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
            FROM ${changed}
        ) x GROUP BY 1, 2, 3
      UNION ALL
      SELECT event_id, family, date_trunc('minute', prev_end, 'UTC'), date_trunc('minute', start_at, 'UTC'), 0, 0, 0, 0, sum(sign)::int
        FROM ${changed} WHERE prev_end IS NOT NULL GROUP BY 1, 2, 3, 4
    )
    INSERT INTO analytics_pending_windows (event_id, family, minute, start_minute, starts, starts_offset_ms, ends, ends_offset_ms, gaps)
    SELECT d.event_id, d.family, d.minute, d.start_minute, d.starts, d.starts_ms, d.ends, d.ends_ms, d.gaps FROM deltas d
     WHERE (d.starts <> 0 OR d.starts_ms <> 0 OR d.ends <> 0 OR d.ends_ms <> 0 OR d.gaps <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)`;

const UP = `
ALTER TABLE analytics_pending_windows SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                                           autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);

-- After any statement on attendance_rollups (every change to sessions, registrants or users
-- reaches it through analytics_refresh_attendance, in the writer's transaction, with the pair's
-- row locked): the pairs' segments are recomputed, and the change to the counts appended.
CREATE FUNCTION analytics_refresh_segments(event_ids uuid[], user_ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  WITH p AS (SELECT DISTINCT e, u FROM unnest(event_ids, user_ids) AS p(e, u)),
  gone AS (
    DELETE FROM attendance_segments s USING p WHERE s.event_id = p.e AND s.user_id = p.u
    RETURNING -1 AS sign, s.event_id, s.family, s.start_at, s.end_at, s.prev_end
  ), ${appendDeltas("gone")};
  WITH p AS (SELECT DISTINCT e, u FROM unnest(event_ids, user_ids) AS p(e, u)), ${SEGMENTS},
  added AS (
    INSERT INTO attendance_segments (event_id, user_id, family, start_at, end_at, prev_end)
    SELECT event_id, user_id, family, start_at, end_at, prev_end FROM segments
    RETURNING 1 AS sign, event_id, family, start_at, end_at, prev_end
  ), ${appendDeltas("added")};
END $$;

CREATE FUNCTION analytics_attendance_segments_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p_events uuid[]; p_users uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- analytics_refresh_attendance inserts empty placeholders first and fills them by an UPDATE.
    SELECT array_agg(event_id), array_agg(user_id) INTO p_events, p_users FROM new_rows WHERE sessions > 0;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(event_id), array_agg(user_id) INTO p_events, p_users FROM old_rows;
  ELSE
    SELECT array_agg(event_id), array_agg(user_id) INTO p_events, p_users
      FROM (SELECT event_id, user_id FROM old_rows UNION SELECT event_id, user_id FROM new_rows) x;
  END IF;
  PERFORM analytics_refresh_segments(p_events, p_users);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_segments_inserted AFTER INSERT ON attendance_rollups REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_segments_changed();
CREATE TRIGGER analytics_segments_updated AFTER UPDATE ON attendance_rollups REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_segments_changed();
CREATE TRIGGER analytics_segments_deleted AFTER DELETE ON attendance_rollups REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_segments_changed();

-- What is there already.
SELECT analytics_refresh_segments(array_agg(event_id), array_agg(user_id)) FROM attendance_rollups;

-- Moves the pending changes into the per-minute counts and gap cells, under the fold's lock.
CREATE FUNCTION analytics_fold_windows() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  e uuid[]; f smallint[]; m timestamptz[]; sm timestamptz[]; st integer[]; st_ms bigint[]; en integer[]; en_ms bigint[]; g integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_windows) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(${FOLD_LOCK_KEY});
  WITH taken AS (DELETE FROM analytics_pending_windows RETURNING *),
  summed AS (
    SELECT event_id, family, minute, start_minute, sum(starts)::int AS s_st, sum(starts_offset_ms)::bigint AS s_st_ms,
           sum(ends)::int AS s_en, sum(ends_offset_ms)::bigint AS s_en_ms, sum(gaps)::int AS gp, count(*) AS rows
      FROM taken GROUP BY 1, 2, 3, 4
  )
  SELECT array_agg(event_id ORDER BY event_id, family, minute, start_minute), array_agg(family ORDER BY event_id, family, minute, start_minute),
         array_agg(minute ORDER BY event_id, family, minute, start_minute), array_agg(start_minute ORDER BY event_id, family, minute, start_minute),
         array_agg(s_st ORDER BY event_id, family, minute, start_minute), array_agg(s_st_ms ORDER BY event_id, family, minute, start_minute),
         array_agg(s_en ORDER BY event_id, family, minute, start_minute), array_agg(s_en_ms ORDER BY event_id, family, minute, start_minute),
         array_agg(gp ORDER BY event_id, family, minute, start_minute), coalesce(sum(rows), 0)
    INTO e, f, m, sm, st, st_ms, en, en_ms, g, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO attendance_window_minutes AS t (event_id, family, minute, starts, starts_offset_ms, ends, ends_offset_ms)
  SELECT u.e, u.f, u.m, u.st, u.st_ms, u.en, u.en_ms FROM unnest(e, f, m, sm, st, st_ms, en, en_ms) AS u(e, f, m, sm, st, st_ms, en, en_ms)
   WHERE u.sm IS NULL
  ON CONFLICT (event_id, family, minute) DO UPDATE
    SET starts = t.starts + EXCLUDED.starts, starts_offset_ms = t.starts_offset_ms + EXCLUDED.starts_offset_ms,
        ends = t.ends + EXCLUDED.ends, ends_offset_ms = t.ends_offset_ms + EXCLUDED.ends_offset_ms;
  INSERT INTO attendance_gap_cells AS t (event_id, family, end_minute, start_minute, gaps)
  SELECT u.e, u.f, u.m, u.sm, u.g FROM unnest(e, f, m, sm, g) AS u(e, f, m, sm, g) WHERE u.sm IS NOT NULL
  ON CONFLICT (event_id, family, end_minute, start_minute) DO UPDATE SET gaps = t.gaps + EXCLUDED.gaps;
  DELETE FROM attendance_window_minutes t USING unnest(e, f, m, sm) AS u(e, f, m, sm)
   WHERE u.sm IS NULL AND t.event_id = u.e AND t.family = u.f AND t.minute = u.m
     AND t.starts = 0 AND t.starts_offset_ms = 0 AND t.ends = 0 AND t.ends_offset_ms = 0;
  DELETE FROM attendance_gap_cells t USING unnest(e, f, m, sm) AS u(e, f, m, sm)
   WHERE t.event_id = u.e AND t.family = u.f AND t.end_minute = u.m AND t.start_minute = u.sm AND t.gaps = 0;
  RETURN n;
END $$;

CREATE OR REPLACE FUNCTION analytics_fold_pending() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  d_events uuid[]; d_ats timestamptz[]; d_join boolean[]; n integer;
BEGIN
  PERFORM analytics_fold_attendance();
  PERFORM analytics_fold_windows();
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_instants) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(${FOLD_LOCK_KEY});
  WITH taken AS (DELETE FROM analytics_pending_instants RETURNING event_id, at, is_join)
  SELECT array_agg(event_id), array_agg(at), array_agg(is_join), count(*) INTO d_events, d_ats, d_join, n FROM taken;
  IF n > 0 THEN PERFORM analytics_write_instants(d_events, d_ats, d_join, array_fill(1, ARRAY[n])); END IF;
  RETURN n;
END $$;

-- The pending changes of some events, for readers. Not inlined, like analytics_pending_of.
CREATE FUNCTION analytics_pending_windows_of(event_ids uuid[])
RETURNS TABLE (event_id uuid, family smallint, minute timestamptz, start_minute timestamptz, starts integer, starts_offset_ms bigint,
               ends integer, ends_offset_ms bigint, gaps integer)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
BEGIN
  RETURN QUERY SELECT p.event_id, p.family, p.minute, p.start_minute, p.starts, p.starts_offset_ms, p.ends, p.ends_offset_ms, p.gaps
    FROM analytics_pending_windows p WHERE p.event_id = ANY (event_ids);
END $$;
`;

const DOWN = `
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
DROP FUNCTION analytics_pending_windows_of(uuid[]);
DROP FUNCTION analytics_fold_windows();
DROP TRIGGER analytics_segments_deleted ON attendance_rollups;
DROP TRIGGER analytics_segments_updated ON attendance_rollups;
DROP TRIGGER analytics_segments_inserted ON attendance_rollups;
DROP FUNCTION analytics_attendance_segments_changed();
DROP FUNCTION analytics_refresh_segments(uuid[], uuid[]);
`;


export class WindowSegments1796553047572 implements MigrationInterface {
  name = "WindowSegments1796553047572";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "attendance_segments" (
        "event_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "family" smallint NOT NULL,
        "start_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "end_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "prev_end" TIMESTAMP(3) WITH TIME ZONE,
        CONSTRAINT "PK_e220e3e303b4ebe149986aa6500" PRIMARY KEY ("event_id", "user_id", "family",
          "start_at")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_attendance_segments_gap"
        ON "attendance_segments" ("event_id", "family", "prev_end")
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_attendance_segments_end" ON "attendance_segments" ("event_id", "family", "end_at")
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_attendance_segments_start"
        ON "attendance_segments" ("event_id", "family", "start_at")
    `);
    await queryRunner.query(`
      CREATE TABLE "attendance_window_minutes" (
        "event_id" uuid NOT NULL,
        "family" smallint NOT NULL,
        "minute" TIMESTAMP WITH TIME ZONE NOT NULL,
        "starts" integer NOT NULL DEFAULT '0',
        "starts_offset_ms" bigint NOT NULL DEFAULT '0',
        "ends" integer NOT NULL DEFAULT '0',
        "ends_offset_ms" bigint NOT NULL DEFAULT '0',
        CONSTRAINT "PK_19efd3f708f12f695c3c2d3d369" PRIMARY KEY ("event_id", "family", "minute")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "attendance_gap_cells" (
        "event_id" uuid NOT NULL,
        "family" smallint NOT NULL,
        "end_minute" TIMESTAMP WITH TIME ZONE NOT NULL,
        "start_minute" TIMESTAMP WITH TIME ZONE NOT NULL,
        "gaps" integer NOT NULL DEFAULT '0',
        CONSTRAINT "PK_ada73dbb3246955383cdb9387c5" PRIMARY KEY ("event_id", "family", "end_minute",
          "start_minute")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "analytics_pending_windows" (
        "id" BIGSERIAL NOT NULL,
        "event_id" uuid NOT NULL,
        "family" smallint NOT NULL,
        "minute" TIMESTAMP WITH TIME ZONE NOT NULL,
        "start_minute" TIMESTAMP WITH TIME ZONE,
        "starts" integer NOT NULL DEFAULT '0',
        "starts_offset_ms" bigint NOT NULL DEFAULT '0',
        "ends" integer NOT NULL DEFAULT '0',
        "ends_offset_ms" bigint NOT NULL DEFAULT '0',
        "gaps" integer NOT NULL DEFAULT '0',
        CONSTRAINT "PK_7c3deb82e503313dd2313c5938e" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_analytics_pending_windows_event" ON "analytics_pending_windows" ("event_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_segments" ADD CONSTRAINT "FK_d9bf3832d730c2d9bf08750d526"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_window_minutes" ADD CONSTRAINT "FK_3e4fd0519457ecfb325f705df20"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_gap_cells" ADD CONSTRAINT "FK_0afaa98be80e67825de129df991"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_windows" ADD CONSTRAINT "FK_0a6ae4088cc49274b8ab4a3dabe"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(UP);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(DOWN);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" DROP CONSTRAINT "FK_0a6ae4088cc49274b8ab4a3dabe"`);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" DROP CONSTRAINT "FK_0afaa98be80e67825de129df991"`);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" DROP CONSTRAINT "FK_3e4fd0519457ecfb325f705df20"`);
    await queryRunner.query(`ALTER TABLE "attendance_segments" DROP CONSTRAINT "FK_d9bf3832d730c2d9bf08750d526"`);
    await queryRunner.query(`DROP INDEX "public"."idx_analytics_pending_windows_event"`);
    await queryRunner.query(`DROP TABLE "analytics_pending_windows"`);
    await queryRunner.query(`DROP TABLE "attendance_gap_cells"`);
    await queryRunner.query(`DROP TABLE "attendance_window_minutes"`);
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_segments_start"`);
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_segments_end"`);
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_segments_gap"`);
    await queryRunner.query(`DROP TABLE "attendance_segments"`);
  }
}
