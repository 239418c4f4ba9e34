-- Attendees, their time and how many registered over a window that cuts sessions, without
-- reading the sessions (docs/analytics.md, "Windows that cut sessions"). Each user's ended
-- sessions merged into segments (attendance_segments, per family: 0 all sessions, 1 those that
-- make the user registered), kept by a statement trigger on attendance_rollups in the writer's
-- transaction, with the pair's row locked. The segments' starts, ends and gaps are counted per
-- minute (attendance_window_minutes, attendance_gap_cells) through analytics_pending_windows and
-- the fold (fold.sql), as the attendance sums are.
--
-- The current definitions; the migrations installed them (see README.md).

-- Recomputes the segments of (event, user) pairs from their ended sessions, and appends the
-- change to the counts: first the old segments go (their counts taken back), then the new ones
-- come (their counts added). Sessions are merged where they overlap or touch; a zero-length
-- session lying within or at an edge of another segment is merged into it, so that
-- "start < to and end > from" says exactly whether one of the segment's sessions lies in the
-- window (as the raw rows count a session: end > from and join < to). Each segment keeps the end
-- of the pair's previous one in its family (prev_end): the gap before it.
CREATE OR REPLACE FUNCTION analytics_refresh_segments(event_ids uuid[], company_ids uuid[], user_ids uuid[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  WITH p AS (SELECT DISTINCT e, c, u FROM unnest(event_ids, company_ids, user_ids) AS p(e, c, u)),
  gone AS (
    DELETE FROM attendance_segments s USING p WHERE s.event_id = p.e AND s.user_id = p.u AND s.company_id = p.c
    RETURNING -1 AS sign, s.event_id, s.company_id, s.family, s.start_at, s.end_at, s.prev_end
  ),
  deltas AS (
    -- What the segments of gone add to (sign 1) or take from (sign -1) the counts: a start and
    -- its offset in its minute, an end and its offset in its minute, a gap between two minutes.
    SELECT event_id, company_id, family, minute, NULL::timestamptz AS start_minute, sum(st)::int AS starts,
           sum(st_ms)::bigint AS starts_ms, sum(en)::int AS ends, sum(en_ms)::bigint AS ends_ms, 0 AS gaps
      FROM (
        SELECT event_id, company_id, family, date_trunc('minute', start_at, 'UTC') AS minute, sign AS st,
               sign * round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
          FROM gone
        UNION ALL
        SELECT event_id, company_id, family, date_trunc('minute', end_at, 'UTC'), 0, 0, sign,
               sign * round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
          FROM gone
      ) x GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT event_id, company_id, family, date_trunc('minute', prev_end, 'UTC'), date_trunc('minute', start_at, 'UTC'),
           0, 0, 0, 0, sum(sign)::int
      FROM gone WHERE prev_end IS NOT NULL GROUP BY 1, 2, 3, 4, 5
  )
  INSERT INTO analytics_pending_windows (event_id, company_id, family, minute, start_minute, starts, starts_offset_ms, ends,
                                         ends_offset_ms, gaps)
  SELECT d.event_id, d.company_id, d.family, d.minute, d.start_minute, d.starts, d.starts_ms, d.ends, d.ends_ms, d.gaps
    FROM deltas d
   WHERE (d.starts <> 0 OR d.starts_ms <> 0 OR d.ends <> 0 OR d.ends_ms <> 0 OR d.gaps <> 0)
     AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
  WITH p AS (SELECT DISTINCT e, c, u FROM unnest(event_ids, company_ids, user_ids) AS p(e, c, u)),
  iv AS (
    -- The pairs' ended sessions, and whether each makes its user registered (family 1).
    SELECT s.event_id, s.company_id, s.user_id, s.joined_at AS a, GREATEST(s.joined_at, s.ended_at) AS b,
           (EXISTS (SELECT 1 FROM registrants x WHERE x.event_id = s.event_id AND x.user_id = s.user_id AND x.cancelled_at IS NULL)
            OR EXISTS (SELECT 1 FROM registrants x WHERE x.id = s.registrant_id AND x.event_id = s.event_id AND x.cancelled_at IS NULL)) AS reg
      FROM p JOIN users us ON us.id = p.u AND us.company_id = p.c
      JOIN sessions s ON s.event_id = p.e AND s.user_id = p.u AND s.company_id = p.c
     WHERE s.ended_at IS NOT NULL
  ), fam AS (
    SELECT event_id, company_id, user_id, 0::smallint AS family, a, b FROM iv
    UNION ALL
    SELECT event_id, company_id, user_id, 1::smallint, a, b FROM iv WHERE reg
  ), cov AS (
    -- Gaps and islands: a session starts a new segment when it starts after every earlier end.
    SELECT fam.*, max(b) OVER (PARTITION BY event_id, user_id, family ORDER BY a, b
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered
      FROM fam
  ), grp AS (
    SELECT cov.*, count(*) FILTER (WHERE covered IS NULL OR a > covered)
                    OVER (PARTITION BY event_id, user_id, family ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS g
      FROM cov
  ), seg AS (
    SELECT event_id, company_id, user_id, family, min(a) AS start_at, max(b) AS end_at
      FROM grp GROUP BY event_id, company_id, user_id, family, g
  ), segments AS (
    SELECT seg.*, lag(end_at) OVER (PARTITION BY event_id, user_id, family ORDER BY start_at) AS prev_end FROM seg
  ),
  added AS (
    INSERT INTO attendance_segments (event_id, company_id, user_id, family, start_at, end_at, prev_end)
    SELECT event_id, company_id, user_id, family, start_at, end_at, prev_end FROM segments
    RETURNING 1 AS sign, event_id, company_id, family, start_at, end_at, prev_end
  ),
  deltas AS (
    -- What the segments of added add to (sign 1) or take from (sign -1) the counts: a start and
    -- its offset in its minute, an end and its offset in its minute, a gap between two minutes.
    SELECT event_id, company_id, family, minute, NULL::timestamptz AS start_minute, sum(st)::int AS starts,
           sum(st_ms)::bigint AS starts_ms, sum(en)::int AS ends, sum(en_ms)::bigint AS ends_ms, 0 AS gaps
      FROM (
        SELECT event_id, company_id, family, date_trunc('minute', start_at, 'UTC') AS minute, sign AS st,
               sign * round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
          FROM added
        UNION ALL
        SELECT event_id, company_id, family, date_trunc('minute', end_at, 'UTC'), 0, 0, sign,
               sign * round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
          FROM added
      ) x GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT event_id, company_id, family, date_trunc('minute', prev_end, 'UTC'), date_trunc('minute', start_at, 'UTC'),
           0, 0, 0, 0, sum(sign)::int
      FROM added WHERE prev_end IS NOT NULL GROUP BY 1, 2, 3, 4, 5
  )
  INSERT INTO analytics_pending_windows (event_id, company_id, family, minute, start_minute, starts, starts_offset_ms, ends,
                                         ends_offset_ms, gaps)
  SELECT d.event_id, d.company_id, d.family, d.minute, d.start_minute, d.starts, d.starts_ms, d.ends, d.ends_ms, d.gaps
    FROM deltas d
   WHERE (d.starts <> 0 OR d.starts_ms <> 0 OR d.ends <> 0 OR d.ends_ms <> 0 OR d.gaps <> 0)
     AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
END $$;

-- After any statement on attendance_rollups (every change to sessions, registrants or users
-- reaches it through analytics_refresh_attendance, in the writer's transaction, with the pair's
-- row locked): the segments of the pairs it touched are recomputed.
CREATE OR REPLACE FUNCTION analytics_attendance_segments_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p_events uuid[]; p_companies uuid[]; p_users uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- analytics_refresh_attendance inserts empty placeholders first and fills them by an UPDATE.
    SELECT array_agg(event_id), array_agg(company_id), array_agg(user_id) INTO p_events, p_companies, p_users
      FROM new_rows WHERE sessions > 0;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(event_id), array_agg(company_id), array_agg(user_id) INTO p_events, p_companies, p_users FROM old_rows;
  ELSE
    SELECT array_agg(event_id), array_agg(company_id), array_agg(user_id) INTO p_events, p_companies, p_users
      FROM (SELECT event_id, company_id, user_id FROM old_rows UNION SELECT event_id, company_id, user_id FROM new_rows) x;
  END IF;
  PERFORM analytics_refresh_segments(p_events, p_companies, p_users);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_segments_inserted AFTER INSERT ON attendance_rollups
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_segments_changed();

CREATE TRIGGER analytics_segments_updated AFTER UPDATE ON attendance_rollups
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_segments_changed();

CREATE TRIGGER analytics_segments_deleted AFTER DELETE ON attendance_rollups
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_segments_changed();

-- Moves the pending changes into the per-minute counts and gap cells, in one batch, under the
-- fold's lock. Counts back to nothing go. Returns how many pending rows it moved.
CREATE OR REPLACE FUNCTION analytics_fold_windows()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  e uuid[]; c uuid[]; f smallint[]; m timestamptz[]; sm timestamptz[]; st integer[]; st_ms bigint[]; en integer[];
  en_ms bigint[]; g integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_windows) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
  WITH taken AS (DELETE FROM analytics_pending_windows RETURNING *),
  summed AS (
    SELECT event_id, company_id, family, minute, start_minute, sum(starts)::int AS s_st,
           sum(starts_offset_ms)::bigint AS s_st_ms, sum(ends)::int AS s_en, sum(ends_offset_ms)::bigint AS s_en_ms,
           sum(gaps)::int AS gp, count(*) AS rows
      FROM taken GROUP BY 1, 2, 3, 4, 5
  )
  SELECT array_agg(event_id ORDER BY event_id, family, minute, start_minute),
         array_agg(company_id ORDER BY event_id, family, minute, start_minute),
         array_agg(family ORDER BY event_id, family, minute, start_minute),
         array_agg(minute ORDER BY event_id, family, minute, start_minute), array_agg(start_minute ORDER BY event_id, family, minute, start_minute),
         array_agg(s_st ORDER BY event_id, family, minute, start_minute), array_agg(s_st_ms ORDER BY event_id, family, minute, start_minute),
         array_agg(s_en ORDER BY event_id, family, minute, start_minute), array_agg(s_en_ms ORDER BY event_id, family, minute, start_minute),
         array_agg(gp ORDER BY event_id, family, minute, start_minute), coalesce(sum(rows), 0)
    INTO e, c, f, m, sm, st, st_ms, en, en_ms, g, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO attendance_window_minutes AS t (event_id, family, minute, company_id, starts, starts_offset_ms, ends,
                                              ends_offset_ms)
  SELECT u.e, u.f, u.m, u.c, u.st, u.st_ms, u.en, u.en_ms
    FROM unnest(e, c, f, m, sm, st, st_ms, en, en_ms) AS u(e, c, f, m, sm, st, st_ms, en, en_ms)
   WHERE u.sm IS NULL
  ON CONFLICT (event_id, family, minute, company_id) DO UPDATE
    SET starts = t.starts + EXCLUDED.starts, starts_offset_ms = t.starts_offset_ms + EXCLUDED.starts_offset_ms,
        ends = t.ends + EXCLUDED.ends, ends_offset_ms = t.ends_offset_ms + EXCLUDED.ends_offset_ms;
  INSERT INTO attendance_gap_cells AS t (event_id, family, end_minute, start_minute, company_id, gaps)
  SELECT u.e, u.f, u.m, u.sm, u.c, u.g FROM unnest(e, c, f, m, sm, g) AS u(e, c, f, m, sm, g) WHERE u.sm IS NOT NULL
  ON CONFLICT (event_id, family, end_minute, start_minute, company_id) DO UPDATE SET gaps = t.gaps + EXCLUDED.gaps;
  DELETE FROM attendance_window_minutes t USING unnest(e, c, f, m, sm) AS u(e, c, f, m, sm)
   WHERE u.sm IS NULL AND t.event_id = u.e AND t.family = u.f AND t.minute = u.m AND t.company_id = u.c
     AND t.starts = 0 AND t.starts_offset_ms = 0 AND t.ends = 0 AND t.ends_offset_ms = 0;
  DELETE FROM attendance_gap_cells t USING unnest(e, c, f, m, sm) AS u(e, c, f, m, sm)
   WHERE t.event_id = u.e AND t.family = u.f AND t.end_minute = u.m AND t.start_minute = u.sm AND t.company_id = u.c
     AND t.gaps = 0;
  RETURN n;
END $$;

-- The pending changes of some events, for readers. Not inlined, like analytics_pending_of.
CREATE OR REPLACE FUNCTION analytics_pending_windows_of(event_ids uuid[])
RETURNS TABLE (event_id uuid, family smallint, minute timestamptz, start_minute timestamptz, starts integer,
               starts_offset_ms bigint, ends integer, ends_offset_ms bigint, gaps integer)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
BEGIN
  RETURN QUERY SELECT p.event_id, p.family, p.minute, p.start_minute, p.starts, p.starts_offset_ms, p.ends, p.ends_offset_ms, p.gaps
    FROM analytics_pending_windows p WHERE p.event_id = ANY (event_ids);
END $$;
