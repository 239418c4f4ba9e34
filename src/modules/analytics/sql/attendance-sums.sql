-- Sums of attendance_rollups per event (attendance_event_rollups: attendees, time, registered)
-- and per event, metadata key and value (attendance_value_rollups), so that the headline numbers
-- and a breakdown read a row per event or per value instead of one per attendee. A statement
-- trigger on attendance_rollups appends each statement's changes to analytics_pending_attendance;
-- the fold (fold.sql) moves them into the sums; readers add what is pending. Whatever writes
-- sessions, registrants or users reaches attendance_rollups through analytics_refresh_attendance,
-- so the sums stay exact on every path.
--
-- The current definitions; the migrations installed them (see README.md).

-- After any statement on attendance_rollups (whichever path wrote sessions, registrants or users:
-- every change reaches it through analytics_refresh_attendance): its changes to the sums, pending.
-- Each branch appends what its rows (sign, event_id, company_id, attended_ms, registered,
-- metadata) add to or take from the sums: per row one attendee, its time and whether it is
-- registered, and the same under the value of every key of its metadata. Sums that net out are not written; nor are rows
-- of an event being deleted. The three branches differ only in their first line.
CREATE OR REPLACE FUNCTION analytics_attendance_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH changed AS (SELECT 1 AS sign, event_id, company_id, attended_ms, registered, metadata FROM new_rows),
    deltas AS (
      SELECT event_id, company_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id, company_id
      UNION ALL
      SELECT c.event_id, c.company_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3, 4
    )
    INSERT INTO analytics_pending_attendance (event_id, company_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.company_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
  ELSIF TG_OP = 'DELETE' THEN
    WITH changed AS (SELECT -1 AS sign, event_id, company_id, attended_ms, registered, metadata FROM old_rows),
    deltas AS (
      SELECT event_id, company_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id, company_id
      UNION ALL
      SELECT c.event_id, c.company_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3, 4
    )
    INSERT INTO analytics_pending_attendance (event_id, company_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.company_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
  ELSE
    -- A refresh rewrites rows whose shares may not change: those net out.
    WITH changed AS (SELECT -1 AS sign, event_id, company_id, attended_ms, registered, metadata FROM old_rows
                     UNION ALL SELECT 1, event_id, company_id, attended_ms, registered, metadata FROM new_rows),
    deltas AS (
      SELECT event_id, company_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id, company_id
      UNION ALL
      SELECT c.event_id, c.company_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3, 4
    )
    INSERT INTO analytics_pending_attendance (event_id, company_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.company_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_attendance_inserted AFTER INSERT ON attendance_rollups
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_changed();

CREATE TRIGGER analytics_attendance_updated AFTER UPDATE ON attendance_rollups
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_changed();

CREATE TRIGGER analytics_attendance_deleted AFTER DELETE ON attendance_rollups
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_attendance_changed();

-- Moves the pending changes into the sums, in one batch, under the fold's lock. Sums back to
-- nothing go. Returns how many pending rows it moved.
CREATE OR REPLACE FUNCTION analytics_fold_attendance()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  e uuid[]; c uuid[]; k text[]; v text[]; n_att integer[]; n_ms bigint[]; n_reg integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_attendance) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
  WITH taken AS (
    DELETE FROM analytics_pending_attendance RETURNING event_id, company_id, key, value, attendees, attended_ms, registered
  ),
  summed AS (
    SELECT event_id, company_id, key, value, sum(attendees)::int AS a, sum(attended_ms)::bigint AS ms,
           sum(registered)::int AS r, count(*) AS rows
      FROM taken GROUP BY 1, 2, 3, 4
  )
  SELECT array_agg(event_id ORDER BY event_id, key, value), array_agg(company_id ORDER BY event_id, key, value),
         array_agg(key ORDER BY event_id, key, value), array_agg(value ORDER BY event_id, key, value),
         array_agg(a ORDER BY event_id, key, value), array_agg(ms ORDER BY event_id, key, value),
         array_agg(r ORDER BY event_id, key, value), coalesce(sum(rows), 0)
    INTO e, c, k, v, n_att, n_ms, n_reg, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO attendance_event_rollups AS t (event_id, company_id, attendees, attended_ms, registered)
  SELECT u.e, u.c, u.a, u.ms, u.r FROM unnest(e, c, k, n_att, n_ms, n_reg) AS u(e, c, k, a, ms, r) WHERE u.k IS NULL
  ON CONFLICT (event_id, company_id) DO UPDATE
    SET attendees = t.attendees + EXCLUDED.attendees, attended_ms = t.attended_ms + EXCLUDED.attended_ms,
        registered = t.registered + EXCLUDED.registered;
  INSERT INTO attendance_value_rollups AS t (event_id, key, value, company_id, attendees, attended_ms)
  SELECT u.e, u.k, u.v, u.c, u.a, u.ms FROM unnest(e, c, k, v, n_att, n_ms) AS u(e, c, k, v, a, ms) WHERE u.k IS NOT NULL
  ON CONFLICT (event_id, key, value, company_id) DO UPDATE
    SET attendees = t.attendees + EXCLUDED.attendees, attended_ms = t.attended_ms + EXCLUDED.attended_ms;
  DELETE FROM attendance_event_rollups t USING unnest(e, c, k) AS u(e, c, k)
   WHERE u.k IS NULL AND t.event_id = u.e AND t.company_id = u.c
     AND t.attendees = 0 AND t.attended_ms = 0 AND t.registered = 0;
  DELETE FROM attendance_value_rollups t USING unnest(e, c, k, v) AS u(e, c, k, v)
   WHERE t.event_id = u.e AND t.key = u.k AND t.value = u.v AND t.company_id = u.c AND t.attendees = 0 AND t.attended_ms = 0;
  RETURN n;
END $$;

-- The pending changes to the sums of some events, for readers: the totals (key NULL) and, with
-- a key, that key's values. Not inlined, like analytics_pending_of, for the same reason.
CREATE OR REPLACE FUNCTION analytics_pending_attendance_of(event_ids uuid[], with_key text)
RETURNS TABLE (event_id uuid, key text, value text, attendees integer, attended_ms bigint, registered integer)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
BEGIN
  RETURN QUERY SELECT p.event_id, p.key, p.value, p.attendees, p.attended_ms, p.registered
    FROM analytics_pending_attendance p
   WHERE p.event_id = ANY (event_ids) AND (p.key IS NULL OR p.key = with_key);
END $$;
