import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * session_hour_rollups: the activity summary per event and hour, composed from the minutes the way
 * minutes are from seconds, so that companyAnalytics reads a handful of rows per event instead of
 * every minute. analytics_refresh_minutes now ends by recomputing the hours of the minutes it
 * recomputed: only the fold (and writes that remove instants, which fold first) call it, so a
 * join, heartbeat or end writes nothing more than before. The hours are filled from the minutes
 * under the fold's advisory lock, so that no fold of the old definition slips in between.
 */
export class ActivityHourRollups1796573980046 implements MigrationInterface {
  name = "ActivityHourRollups1796573980046";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "session_hour_rollups" (
        "event_id" uuid NOT NULL,
        "hour" TIMESTAMP(0) WITH TIME ZONE NOT NULL,
        "joins" integer NOT NULL DEFAULT '0',
        "ends" integer NOT NULL DEFAULT '0',
        "joins_at_start" integer NOT NULL DEFAULT '0',
        "ends_at_start" integer NOT NULL DEFAULT '0',
        "max_after" integer NOT NULL DEFAULT '0',
        CONSTRAINT "PK_df22891c3bb69f09be82758a2e4" PRIMARY KEY ("event_id", "hour")
      )
    `);
    await queryRunner.query(`
      ALTER TABLE "session_hour_rollups" ADD CONSTRAINT "FK_27e17a721e8b2ac8ffdfdf39615"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);

    // Every writer of the activity rollups takes the fold's lock first: none runs until this commits.
    await queryRunner.query(`SELECT pg_advisory_xact_lock(726473913)`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_hours(event_ids uuid[], instants timestamptz[], removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO session_hour_rollups (event_id, hour)
  SELECT DISTINCT p.e, date_trunc('hour', p.at, 'UTC') FROM unnest(event_ids, instants) AS p(e, at) JOIN events ev ON ev.id = p.e
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM session_hour_rollups t
    JOIN (SELECT DISTINCT e, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, instants) AS p(e, at)) p
      ON t.event_id = p.e AND t.hour = p.h
   ORDER BY t.event_id, t.hour FOR UPDATE OF t;
  WITH p AS (SELECT DISTINCT e, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, instants) AS p(e, at)),
  s AS (
    SELECT m.event_id, p.h AS hour, m.minute, m.joins, m.ends, m.joins_at_start, m.ends_at_start, m.max_after,
           coalesce(sum(m.joins - m.ends) OVER (PARTITION BY m.event_id, p.h ORDER BY m.minute
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
      FROM p JOIN session_minute_rollups m ON m.event_id = p.e AND m.minute >= p.h AND m.minute < p.h + interval '1 hour'
  ), agg AS (
    SELECT event_id, hour, sum(joins)::int AS joins, sum(ends)::int AS ends,
           coalesce(sum(joins_at_start) FILTER (WHERE minute = hour), 0)::int AS joins_at_start,
           coalesce(sum(ends_at_start) FILTER (WHERE minute = hour), 0)::int AS ends_at_start,
           max(prior + max_after)::int AS max_after
      FROM s GROUP BY event_id, hour
  )
  UPDATE session_hour_rollups t
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.hour = agg.hour;
  IF removals THEN
    DELETE FROM session_hour_rollups t
     USING (SELECT DISTINCT e, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, instants) AS p(e, at)) p
     WHERE t.event_id = p.e AND t.hour = p.h
       AND NOT EXISTS (SELECT 1 FROM session_minute_rollups m
                        WHERE m.event_id = p.e AND m.minute >= p.h AND m.minute < p.h + interval '1 hour');
  END IF;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_minutes(event_ids uuid[], minutes timestamptz[], removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO session_minute_rollups (event_id, minute)
  SELECT DISTINCT p.e, p.m FROM unnest(event_ids, minutes) AS p(e, m) JOIN events ev ON ev.id = p.e
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM session_minute_rollups t
    JOIN (SELECT DISTINCT e, m FROM unnest(event_ids, minutes) AS p(e, m)) p ON t.event_id = p.e AND t.minute = p.m
   ORDER BY t.event_id, t.minute FOR UPDATE OF t;
  WITH p AS (SELECT DISTINCT e, m FROM unnest(event_ids, minutes) AS p(e, m)),
  s AS (
    SELECT r.event_id, p.m AS minute, r.second, r.joins, r.ends, r.joins_at_start, r.ends_at_start, r.max_after,
           coalesce(sum(r.joins - r.ends) OVER (PARTITION BY r.event_id, p.m ORDER BY r.second
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
      FROM p JOIN session_second_rollups r ON r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute'
  ), agg AS (
    SELECT event_id, minute, sum(joins)::int AS joins, sum(ends)::int AS ends,
           coalesce(sum(joins_at_start) FILTER (WHERE second = minute), 0)::int AS joins_at_start,
           coalesce(sum(ends_at_start) FILTER (WHERE second = minute), 0)::int AS ends_at_start,
           max(prior + max_after)::int AS max_after
      FROM s GROUP BY event_id, minute
  )
  UPDATE session_minute_rollups t
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.minute = agg.minute;
  IF removals THEN
    DELETE FROM session_minute_rollups t
     USING (SELECT DISTINCT e, m FROM unnest(event_ids, minutes) AS p(e, m)) p
     WHERE t.event_id = p.e AND t.minute = p.m
       AND NOT EXISTS (SELECT 1 FROM session_second_rollups r
                        WHERE r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute');
  END IF;
  PERFORM analytics_refresh_hours(event_ids, minutes, removals);
END $$;`);
    await queryRunner.query(`
      INSERT INTO session_hour_rollups (event_id, hour, joins, ends, joins_at_start, ends_at_start, max_after)
      SELECT event_id, hour, sum(joins)::int, sum(ends)::int,
             coalesce(sum(joins_at_start) FILTER (WHERE minute = hour), 0)::int,
             coalesce(sum(ends_at_start) FILTER (WHERE minute = hour), 0)::int,
             max(prior + max_after)::int
        FROM (SELECT m.*, date_trunc('hour', m.minute, 'UTC') AS hour,
                     coalesce(sum(m.joins - m.ends) OVER (PARTITION BY m.event_id, date_trunc('hour', m.minute, 'UTC') ORDER BY m.minute
                                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
                FROM session_minute_rollups m) x
       GROUP BY event_id, hour
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    // analytics_refresh_minutes as before, without the hours.
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_minutes(event_ids uuid[], minutes timestamptz[], removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO session_minute_rollups (event_id, minute)
  SELECT DISTINCT p.e, p.m FROM unnest(event_ids, minutes) AS p(e, m) JOIN events ev ON ev.id = p.e
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM session_minute_rollups t
    JOIN (SELECT DISTINCT e, m FROM unnest(event_ids, minutes) AS p(e, m)) p ON t.event_id = p.e AND t.minute = p.m
   ORDER BY t.event_id, t.minute FOR UPDATE OF t;
  WITH p AS (SELECT DISTINCT e, m FROM unnest(event_ids, minutes) AS p(e, m)),
  s AS (
    SELECT r.event_id, p.m AS minute, r.second, r.joins, r.ends, r.joins_at_start, r.ends_at_start, r.max_after,
           coalesce(sum(r.joins - r.ends) OVER (PARTITION BY r.event_id, p.m ORDER BY r.second
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
      FROM p JOIN session_second_rollups r ON r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute'
  ), agg AS (
    SELECT event_id, minute, sum(joins)::int AS joins, sum(ends)::int AS ends,
           coalesce(sum(joins_at_start) FILTER (WHERE second = minute), 0)::int AS joins_at_start,
           coalesce(sum(ends_at_start) FILTER (WHERE second = minute), 0)::int AS ends_at_start,
           max(prior + max_after)::int AS max_after
      FROM s GROUP BY event_id, minute
  )
  UPDATE session_minute_rollups t
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.minute = agg.minute;
  IF removals THEN
    DELETE FROM session_minute_rollups t
     USING (SELECT DISTINCT e, m FROM unnest(event_ids, minutes) AS p(e, m)) p
     WHERE t.event_id = p.e AND t.minute = p.m
       AND NOT EXISTS (SELECT 1 FROM session_second_rollups r
                        WHERE r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute');
  END IF;
END $$;`);
    await queryRunner.query(`DROP FUNCTION analytics_refresh_hours(uuid[], timestamptz[], boolean)`);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" DROP CONSTRAINT "FK_27e17a721e8b2ac8ffdfdf39615"`);
    await queryRunner.query(`DROP TABLE "session_hour_rollups"`);
  }
}
