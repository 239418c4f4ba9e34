-- The activity rollups: per event and second (session_second_rollups) the join and end instants
-- of its sessions, as millisecond offsets, with counts derived from them; per event and minute
-- (session_minute_rollups) the same summary composed from its seconds, so that a peak or a
-- timeline over hours reads hundreds of rows, not millions; per event and hour
-- (session_hour_rollups) the same again composed from its minutes, so that a company's dashboard
-- reads a handful of rows per event. Every session's join counts from its INSERT, its end once it
-- has one.
--
-- A statement on sessions hands its instants to analytics_apply_instants (attendance.sql): those
-- that only add wait in analytics_pending_instants for the fold (fold.sql); those that remove are
-- written at once by analytics_write_instants, after folding what is pending.
--
-- The current definitions; the migrations installed them (see README.md).

-- The derived columns of a second, from its instants. Joins and ends at one instant count together.
CREATE OR REPLACE FUNCTION analytics_second_derive()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.joins := cardinality(NEW.join_offsets);
  NEW.ends := cardinality(NEW.end_offsets);
  NEW.joins_at_start := cardinality(array_positions(NEW.join_offsets, 0::smallint));
  NEW.ends_at_start := cardinality(array_positions(NEW.end_offsets, 0::smallint));
  NEW.max_after := coalesce((
    SELECT max(run) FROM (
      SELECT sum(d) OVER (ORDER BY o) AS run FROM (
        SELECT o, sum(d) AS d FROM (
          SELECT unnest(NEW.join_offsets) AS o, 1 AS d UNION ALL SELECT unnest(NEW.end_offsets), -1) x
        GROUP BY o) y) z), 0);
  RETURN NEW;
END $$;

CREATE TRIGGER analytics_second_derive BEFORE INSERT OR UPDATE ON session_second_rollups
  FOR EACH ROW EXECUTE FUNCTION analytics_second_derive();

-- Recomputes the minutes named from their seconds, then their hours from their minutes. The
-- minute rows are locked first, in key order; the recomputation is a later statement, so it sees
-- what a transaction that held the lock before us committed. A minute left without seconds (only
-- after removals) goes.
CREATE OR REPLACE FUNCTION analytics_refresh_minutes(event_ids uuid[], company_ids uuid[], minutes timestamptz[],
                                                     removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO session_minute_rollups (event_id, minute, company_id)
  SELECT DISTINCT p.e, p.m, p.c FROM unnest(event_ids, company_ids, minutes) AS p(e, c, m)
    JOIN events ev ON ev.id = p.e AND ev.company_id = p.c
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM session_minute_rollups t
    JOIN (SELECT DISTINCT e, c, m FROM unnest(event_ids, company_ids, minutes) AS p(e, c, m)) p
      ON t.event_id = p.e AND t.minute = p.m AND t.company_id = p.c
   ORDER BY t.event_id, t.minute FOR UPDATE OF t;
  WITH p AS (SELECT DISTINCT e, c, m FROM unnest(event_ids, company_ids, minutes) AS p(e, c, m)),
  s AS (
    SELECT r.event_id, r.company_id, p.m AS minute, r.second, r.joins, r.ends, r.joins_at_start, r.ends_at_start, r.max_after,
           coalesce(sum(r.joins - r.ends) OVER (PARTITION BY r.event_id, p.m ORDER BY r.second
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
      FROM p JOIN session_second_rollups r
        ON r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute' AND r.company_id = p.c
  ), agg AS (
    SELECT event_id, company_id, minute, sum(joins)::int AS joins, sum(ends)::int AS ends,
           coalesce(sum(joins_at_start) FILTER (WHERE second = minute), 0)::int AS joins_at_start,
           coalesce(sum(ends_at_start) FILTER (WHERE second = minute), 0)::int AS ends_at_start,
           max(prior + max_after)::int AS max_after
      FROM s GROUP BY event_id, company_id, minute
  )
  UPDATE session_minute_rollups t
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.minute = agg.minute AND t.company_id = agg.company_id;
  IF removals THEN
    DELETE FROM session_minute_rollups t
     USING (SELECT DISTINCT e, c, m FROM unnest(event_ids, company_ids, minutes) AS p(e, c, m)) p
     WHERE t.event_id = p.e AND t.minute = p.m AND t.company_id = p.c
       AND NOT EXISTS (SELECT 1 FROM session_second_rollups r
                        WHERE r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute'
                          AND r.company_id = p.c);
  END IF;
  PERFORM analytics_refresh_hours(event_ids, company_ids, minutes, removals);
END $$;

-- Recomputes the hours holding the instants named from their minutes, the way minutes are
-- recomputed from their seconds (analytics_refresh_minutes, its only caller, after the minutes).
-- Every writer of the rollups holds the fold's lock, so hours are rewritten one writer at a time;
-- the row locks keep that true of any other. An hour left without minutes (only after removals) goes.
CREATE OR REPLACE FUNCTION analytics_refresh_hours(event_ids uuid[], company_ids uuid[], instants timestamptz[],
                                                   removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO session_hour_rollups (event_id, hour, company_id)
  SELECT DISTINCT p.e, date_trunc('hour', p.at, 'UTC'), p.c FROM unnest(event_ids, company_ids, instants) AS p(e, c, at)
    JOIN events ev ON ev.id = p.e AND ev.company_id = p.c
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM session_hour_rollups t
    JOIN (SELECT DISTINCT e, c, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, company_ids, instants) AS p(e, c, at)) p
      ON t.event_id = p.e AND t.hour = p.h AND t.company_id = p.c
   ORDER BY t.event_id, t.hour FOR UPDATE OF t;
  WITH p AS (SELECT DISTINCT e, c, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, company_ids, instants) AS p(e, c, at)),
  s AS (
    SELECT m.event_id, m.company_id, p.h AS hour, m.minute, m.joins, m.ends, m.joins_at_start, m.ends_at_start, m.max_after,
           coalesce(sum(m.joins - m.ends) OVER (PARTITION BY m.event_id, p.h ORDER BY m.minute
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
      FROM p JOIN session_minute_rollups m
        ON m.event_id = p.e AND m.minute >= p.h AND m.minute < p.h + interval '1 hour' AND m.company_id = p.c
  ), agg AS (
    SELECT event_id, company_id, hour, sum(joins)::int AS joins, sum(ends)::int AS ends,
           coalesce(sum(joins_at_start) FILTER (WHERE minute = hour), 0)::int AS joins_at_start,
           coalesce(sum(ends_at_start) FILTER (WHERE minute = hour), 0)::int AS ends_at_start,
           max(prior + max_after)::int AS max_after
      FROM s GROUP BY event_id, company_id, hour
  )
  UPDATE session_hour_rollups t
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.hour = agg.hour AND t.company_id = agg.company_id;
  IF removals THEN
    DELETE FROM session_hour_rollups t
     USING (SELECT DISTINCT e, c, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, company_ids, instants) AS p(e, c, at)) p
     WHERE t.event_id = p.e AND t.hour = p.h AND t.company_id = p.c
       AND NOT EXISTS (SELECT 1 FROM session_minute_rollups m
                        WHERE m.event_id = p.e AND m.minute >= p.h AND m.minute < p.h + interval '1 hour'
                          AND m.company_id = p.c);
  END IF;
END $$;

-- Writes join and end instants into the second rollups: adds (sign 1) or removes (sign -1) them,
-- then recomputes their minutes. Joins and ends add only: that common case appends to the arrays
-- and skips what removals need. Called by the fold, and by analytics_apply_instants for removals.
CREATE OR REPLACE FUNCTION analytics_write_instants(event_ids uuid[], company_ids uuid[], ats timestamptz[],
                                                    is_join boolean[], signs integer[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  removals boolean;
  m_events uuid[];
  m_companies uuid[];
  m_minutes timestamptz[];
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  removals := -1 = ANY (signs);
  IF NOT removals THEN
    INSERT INTO session_second_rollups AS t (event_id, second, company_id, join_offsets, end_offsets)
    SELECT u.e, date_trunc('second', u.at, 'UTC'), u.c,
           coalesce(array_agg(analytics_ms_offset(u.at)) FILTER (WHERE u.j), '{}'),
           coalesce(array_agg(analytics_ms_offset(u.at)) FILTER (WHERE NOT u.j), '{}')
      FROM unnest(event_ids, company_ids, ats, is_join) AS u(e, c, at, j)
     WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e AND ev.company_id = u.c)
     GROUP BY 1, 2, 3 ORDER BY 1, 2
    ON CONFLICT (event_id, second, company_id) DO UPDATE
      SET join_offsets = t.join_offsets || EXCLUDED.join_offsets,
          end_offsets = t.end_offsets || EXCLUDED.end_offsets;
  ELSE
    WITH d AS (
      SELECT u.e AS event_id, u.c AS company_id, date_trunc('second', u.at, 'UTC') AS second, analytics_ms_offset(u.at) AS o,
             u.j, u.s
        FROM unnest(event_ids, company_ids, ats, is_join, signs) AS u(e, c, at, j, s)
       WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e AND ev.company_id = u.c)
    ), g AS (
      SELECT event_id, company_id, second,
             coalesce(array_agg(o) FILTER (WHERE j AND s > 0), '{}') AS add_j,
             coalesce(array_agg(o) FILTER (WHERE NOT j AND s > 0), '{}') AS add_e,
             coalesce(array_agg(o) FILTER (WHERE j AND s < 0), '{}') AS del_j,
             coalesce(array_agg(o) FILTER (WHERE NOT j AND s < 0), '{}') AS del_e
        FROM d GROUP BY event_id, company_id, second
    )
    INSERT INTO session_second_rollups AS t (event_id, second, company_id, join_offsets, end_offsets)
    SELECT event_id, second, company_id, analytics_multiset_minus(add_j, del_j), analytics_multiset_minus(add_e, del_e)
      FROM g ORDER BY event_id, second
    ON CONFLICT (event_id, second, company_id) DO UPDATE
      SET join_offsets = analytics_multiset_minus(
            t.join_offsets || (SELECT g.add_j FROM g WHERE g.event_id = t.event_id AND g.second = t.second),
            (SELECT g.del_j FROM g WHERE g.event_id = t.event_id AND g.second = t.second)),
          end_offsets = analytics_multiset_minus(
            t.end_offsets || (SELECT g.add_e FROM g WHERE g.event_id = t.event_id AND g.second = t.second),
            (SELECT g.del_e FROM g WHERE g.event_id = t.event_id AND g.second = t.second));
    DELETE FROM session_second_rollups t
     USING (SELECT DISTINCT e, c, date_trunc('second', at, 'UTC') AS second
              FROM unnest(event_ids, company_ids, ats) AS u(e, c, at)) u
     WHERE t.event_id = u.e AND t.second = u.second AND t.company_id = u.c AND t.joins = 0 AND t.ends = 0;
  END IF;
  SELECT array_agg(e), array_agg(c), array_agg(m) INTO m_events, m_companies, m_minutes
    FROM (SELECT DISTINCT e, c, date_trunc('minute', at, 'UTC') AS m FROM unnest(event_ids, company_ids, ats) AS u(e, c, at)) x;
  PERFORM analytics_refresh_minutes(m_events, m_companies, m_minutes, removals);
END $$;

-- What a statement on sessions added or removed: additions wait for the next fold; removals
-- fold what is pending (the additions they undo may be there) and are written at once.
CREATE OR REPLACE FUNCTION analytics_apply_instants(event_ids uuid[], company_ids uuid[], ats timestamptz[],
                                                    is_join boolean[], signs integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  IF -1 = ANY (signs) THEN
    -- The fold's lock first, whatever is pending: everything that writes the activity rollups
    -- takes it before their rows, so a fold and a removal never wait for each other's rows.
    PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
    PERFORM analytics_fold_pending();
    PERFORM analytics_write_instants(event_ids, company_ids, ats, is_join, signs);
  ELSE
    INSERT INTO analytics_pending_instants (event_id, company_id, at, is_join)
    SELECT u.e, u.c, u.at, u.j FROM unnest(event_ids, company_ids, ats, is_join) AS u(e, c, at, j)
     WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e AND ev.company_id = u.c);
  END IF;
END $$;

-- The pending instants of some events, for readers. A PL/pgSQL function is never inlined, so the
-- planner takes its ROWS estimate (a second's worth is small) instead of the table's statistics,
-- which churn makes stale (a table deleted from every second looks big until it is vacuumed);
-- being STABLE, it reads with the calling statement's snapshot, so answers stay consistent.
CREATE OR REPLACE FUNCTION analytics_pending_of(event_ids uuid[])
RETURNS TABLE (event_id uuid, at timestamptz, is_join boolean)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
BEGIN
  RETURN QUERY SELECT p.event_id, p.at, p.is_join
    FROM analytics_pending_instants p WHERE p.event_id = ANY (event_ids);
END $$;
