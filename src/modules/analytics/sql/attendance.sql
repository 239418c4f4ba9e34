-- The attendance rollups (attendance_rollups): per event and user with an ended session, its
-- sessions, first join, time in the event with overlapping sessions merged, highest role,
-- registration and merged metadata. Statement-level triggers on sessions, registrants and users
-- refresh, in the writer's transaction, the pairs a statement touched, from their raw rows, under
-- a row lock taken in key order: two transactions refreshing one pair take turns, and the second
-- sees the first's rows. Live sessions are not in them; queries add them, counted up to now.
--
-- The trigger on sessions also hands the statement's join and end instants to the activity
-- rollups (activity.sql).
--
-- The current definitions; the migrations installed them (see README.md).

-- Who an attendee is beyond its sessions: its registration (that of its latest session with one,
-- if it still exists, else a live one linked to the user), whether a live registration is linked
-- to it, and its metadata merged (latest session's < user's < registrant's; null values do not
-- hide others).
CREATE OR REPLACE FUNCTION analytics_attendee_profile(p_event uuid, p_user uuid, p_session_registrant uuid,
                                                      p_session_registrants uuid[], p_session_metadata jsonb)
RETURNS TABLE (registrant_id uuid, registered boolean, metadata jsonb) LANGUAGE sql STABLE AS $$
  SELECT r.id,
         -- Two probes (index on event and user, primary key), not one OR that scans the event's registrants.
         EXISTS (SELECT 1 FROM registrants x WHERE x.event_id = p_event AND x.user_id = p_user AND x.cancelled_at IS NULL)
           OR (cardinality(p_session_registrants) > 0
               AND EXISTS (SELECT 1 FROM unnest(p_session_registrants) AS rid JOIN registrants x ON x.id = rid
                            WHERE x.event_id = p_event AND x.cancelled_at IS NULL)),
         jsonb_strip_nulls(coalesce(p_session_metadata, '{}')) || jsonb_strip_nulls(coalesce(u.metadata, '{}'))
           || jsonb_strip_nulls(coalesce(r.metadata, '{}'))
    FROM (SELECT 1) AS one
    LEFT JOIN users u ON u.id = p_user
    LEFT JOIN registrants r ON r.id = coalesce((SELECT z.id FROM registrants z WHERE z.id = p_session_registrant),
      (SELECT y.id FROM registrants y WHERE y.event_id = p_event AND y.user_id = p_user AND y.cancelled_at IS NULL
        ORDER BY y.created_at DESC, y.id DESC LIMIT 1))
$$;

-- Recomputes the attendance rows of (event, user) pairs from their ended sessions. Rows are
-- locked first, in key order (a placeholder row is inserted for a new pair); the recomputation
-- is a later statement, so it sees what a transaction that held the lock before us committed.
CREATE OR REPLACE FUNCTION analytics_refresh_attendance(event_ids uuid[], company_ids uuid[], user_ids uuid[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO attendance_rollups (event_id, user_id, company_id)
  SELECT DISTINCT p.e, p.u, p.c FROM unnest(event_ids, company_ids, user_ids) AS p(e, c, u)
    JOIN events ev ON ev.id = p.e AND ev.company_id = p.c JOIN users us ON us.id = p.u AND us.company_id = p.c
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM attendance_rollups a
    JOIN (SELECT DISTINCT e, c, u FROM unnest(event_ids, company_ids, user_ids) AS p(e, c, u)) p
      ON a.event_id = p.e AND a.user_id = p.u AND a.company_id = p.c
   ORDER BY a.event_id, a.user_id FOR UPDATE OF a;
  WITH p AS (SELECT DISTINCT e, c, u FROM unnest(event_ids, company_ids, user_ids) AS p(e, c, u)),
  iv AS (
    SELECT s.id, s.event_id, s.company_id, s.user_id, s.joined_at, GREATEST(s.joined_at, s.ended_at) AS end_at, s.role,
           s.registrant_id, s.metadata
      FROM p JOIN sessions s ON s.event_id = p.e AND s.user_id = p.u AND s.company_id = p.c WHERE s.ended_at IS NOT NULL
  ), w AS (
    -- Gaps and islands: each session adds only what lies beyond the latest end before it.
    SELECT iv.*, max(end_at) OVER (PARTITION BY event_id, user_id ORDER BY joined_at, end_at, id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_to
      FROM iv
  ), agg AS (
    SELECT event_id, company_id, user_id, count(*)::int AS sessions, min(joined_at) AS first_joined_at,
           range_agg(tstzrange(joined_at, end_at)) AS islands,
           sum(GREATEST(0, extract(epoch FROM end_at - GREATEST(joined_at, coalesce(covered_to, joined_at))) * 1000))::bigint AS attended_ms,
           max(analytics_role_rank(role)) AS role_rank,
           coalesce(array_agg(DISTINCT registrant_id) FILTER (WHERE registrant_id IS NOT NULL), '{}') AS session_registrant_ids,
           (array_agg(joined_at ORDER BY joined_at DESC, id DESC))[1] AS latest_joined_at,
           (array_agg(id ORDER BY joined_at DESC, id DESC))[1] AS latest_session_id,
           (array_agg(metadata ORDER BY joined_at DESC, id DESC))[1] AS latest_metadata,
           (array_agg(joined_at ORDER BY joined_at DESC, id DESC) FILTER (WHERE registrant_id IS NOT NULL))[1] AS latest_registration_joined_at,
           (array_agg(id ORDER BY joined_at DESC, id DESC) FILTER (WHERE registrant_id IS NOT NULL))[1] AS latest_registration_session_id,
           (array_agg(registrant_id ORDER BY joined_at DESC, id DESC) FILTER (WHERE registrant_id IS NOT NULL))[1] AS latest_registration_id
      FROM w GROUP BY event_id, company_id, user_id
  ), refreshed AS (
    UPDATE attendance_rollups a
       SET sessions = agg.sessions, first_joined_at = agg.first_joined_at, islands = agg.islands, attended_ms = agg.attended_ms,
           role_rank = agg.role_rank, session_registrant_ids = agg.session_registrant_ids,
           latest_joined_at = agg.latest_joined_at, latest_session_id = agg.latest_session_id, latest_metadata = agg.latest_metadata,
           latest_registration_joined_at = agg.latest_registration_joined_at,
           latest_registration_session_id = agg.latest_registration_session_id, latest_registration_id = agg.latest_registration_id,
           registrant_id = pr.registrant_id, registered = pr.registered, metadata = pr.metadata
      FROM agg CROSS JOIN LATERAL analytics_attendee_profile(agg.event_id, agg.user_id, agg.latest_registration_id,
                                                             agg.session_registrant_ids, agg.latest_metadata) pr
     WHERE a.event_id = agg.event_id AND a.user_id = agg.user_id AND a.company_id = agg.company_id
    RETURNING a.event_id, a.user_id
  )
  -- A pair left without ended sessions (or a placeholder never filled) goes.
  DELETE FROM attendance_rollups a
   USING p
   WHERE a.event_id = p.e AND a.user_id = p.u AND a.company_id = p.c
     AND NOT EXISTS (SELECT 1 FROM refreshed r WHERE r.event_id = p.e AND r.user_id = p.u);
END $$;

-- After any statement on sessions: the instants it added or removed, and the pairs it touched.
CREATE OR REPLACE FUNCTION analytics_sessions_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d_events uuid[]; d_companies uuid[]; d_ats timestamptz[]; d_join boolean[]; d_signs integer[];
  p_events uuid[]; p_companies uuid[]; p_users uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(e), array_agg(c), array_agg(at), array_agg(j), array_agg(s)
      INTO d_events, d_companies, d_ats, d_join, d_signs FROM (
      SELECT event_id AS e, company_id AS c, joined_at AS at, true AS j, 1 AS s FROM new_rows
      UNION ALL SELECT event_id, company_id, GREATEST(joined_at, ended_at), false, 1 FROM new_rows WHERE ended_at IS NOT NULL) x;
    SELECT array_agg(event_id), array_agg(company_id), array_agg(user_id) INTO p_events, p_companies, p_users
      FROM new_rows WHERE ended_at IS NOT NULL;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(e), array_agg(c), array_agg(at), array_agg(j), array_agg(s)
      INTO d_events, d_companies, d_ats, d_join, d_signs FROM (
      SELECT event_id AS e, company_id AS c, joined_at AS at, true AS j, -1 AS s FROM old_rows
      UNION ALL SELECT event_id, company_id, GREATEST(joined_at, ended_at), false, -1 FROM old_rows WHERE ended_at IS NOT NULL) x;
    SELECT array_agg(event_id), array_agg(company_id), array_agg(user_id) INTO p_events, p_companies, p_users
      FROM old_rows WHERE ended_at IS NOT NULL;
  ELSE
    -- A heartbeat of a live session changes nothing here: leave at once.
    IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                    WHERE o.ended_at IS NOT NULL OR n.ended_at IS NOT NULL
                       OR (o.event_id, o.joined_at) IS DISTINCT FROM (n.event_id, n.joined_at)) THEN
      RETURN NULL;
    END IF;
    SELECT array_agg(e), array_agg(c), array_agg(at), array_agg(j), array_agg(s)
      INTO d_events, d_companies, d_ats, d_join, d_signs FROM (
      SELECT o.event_id AS e, o.company_id AS c, o.joined_at AS at, true AS j, -1 AS s
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE (o.event_id, o.joined_at) IS DISTINCT FROM (n.event_id, n.joined_at)
      UNION ALL
      SELECT n.event_id, n.company_id, n.joined_at, true, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE (o.event_id, o.joined_at) IS DISTINCT FROM (n.event_id, n.joined_at)
      UNION ALL
      SELECT o.event_id, o.company_id, GREATEST(o.joined_at, o.ended_at), false, -1
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE o.ended_at IS NOT NULL AND (o.event_id, o.joined_at, o.ended_at) IS DISTINCT FROM (n.event_id, n.joined_at, n.ended_at)
      UNION ALL
      SELECT n.event_id, n.company_id, GREATEST(n.joined_at, n.ended_at), false, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE n.ended_at IS NOT NULL AND (o.event_id, o.joined_at, o.ended_at) IS DISTINCT FROM (n.event_id, n.joined_at, n.ended_at)) x;
    SELECT array_agg(e), array_agg(c), array_agg(u) INTO p_events, p_companies, p_users FROM (
      SELECT o.event_id AS e, o.company_id AS c, o.user_id AS u FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE o.ended_at IS NOT NULL
         AND (o.event_id, o.user_id, o.joined_at, o.ended_at, o.role, o.registrant_id, o.metadata)
             IS DISTINCT FROM (n.event_id, n.user_id, n.joined_at, n.ended_at, n.role, n.registrant_id, n.metadata)
      UNION
      SELECT n.event_id, n.company_id, n.user_id FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE n.ended_at IS NOT NULL
         AND (o.event_id, o.user_id, o.joined_at, o.ended_at, o.role, o.registrant_id, o.metadata)
             IS DISTINCT FROM (n.event_id, n.user_id, n.joined_at, n.ended_at, n.role, n.registrant_id, n.metadata)) y;
  END IF;
  PERFORM analytics_apply_instants(d_events, d_companies, d_ats, d_join, d_signs);
  PERFORM analytics_refresh_attendance(p_events, p_companies, p_users);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_sessions_inserted AFTER INSERT ON sessions
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_sessions_changed();

CREATE TRIGGER analytics_sessions_updated AFTER UPDATE ON sessions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_sessions_changed();

CREATE TRIGGER analytics_sessions_deleted AFTER DELETE ON sessions
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_sessions_changed();

-- A registration linked to a user, cancelled, edited or removed changes who counts as registered,
-- which registration an attendee shows and its metadata: the pairs of its user and of the
-- attendees whose sessions came with it are refreshed. Statement-level, so a bulk write refreshes
-- each pair once.
CREATE OR REPLACE FUNCTION analytics_registrants_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed_ids uuid[];
  p_events uuid[];
  p_companies uuid[];
  p_users uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(id) INTO changed_ids FROM new_rows;
    SELECT array_agg(e), array_agg(c), array_agg(u) INTO p_events, p_companies, p_users FROM (
      SELECT event_id AS e, company_id AS c, user_id AS u FROM new_rows WHERE user_id IS NOT NULL
      UNION SELECT a.event_id, a.company_id, a.user_id FROM attendance_rollups a WHERE a.session_registrant_ids && changed_ids) x;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(id) INTO changed_ids FROM old_rows;
    SELECT array_agg(e), array_agg(c), array_agg(u) INTO p_events, p_companies, p_users FROM (
      SELECT event_id AS e, company_id AS c, user_id AS u FROM old_rows WHERE user_id IS NOT NULL
      UNION SELECT a.event_id, a.company_id, a.user_id FROM attendance_rollups a WHERE a.session_registrant_ids && changed_ids) x;
  ELSE
    SELECT array_agg(o.id) INTO changed_ids FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE (o.event_id, o.user_id, o.cancelled_at, o.metadata) IS DISTINCT FROM (n.event_id, n.user_id, n.cancelled_at, n.metadata);
    IF changed_ids IS NULL THEN RETURN NULL; END IF;
    SELECT array_agg(e), array_agg(c), array_agg(u) INTO p_events, p_companies, p_users FROM (
      SELECT event_id AS e, company_id AS c, user_id AS u FROM old_rows WHERE id = ANY (changed_ids) AND user_id IS NOT NULL
      UNION SELECT event_id, company_id, user_id FROM new_rows WHERE id = ANY (changed_ids) AND user_id IS NOT NULL
      UNION SELECT a.event_id, a.company_id, a.user_id FROM attendance_rollups a WHERE a.session_registrant_ids && changed_ids) x;
  END IF;
  PERFORM analytics_refresh_attendance(p_events, p_companies, p_users);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_registrants_inserted AFTER INSERT ON registrants
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrants_changed();

CREATE TRIGGER analytics_registrants_updated AFTER UPDATE ON registrants
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrants_changed();

CREATE TRIGGER analytics_registrants_deleted AFTER DELETE ON registrants
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrants_changed();

-- A user's metadata is part of its attendees' merged metadata.
CREATE OR REPLACE FUNCTION analytics_users_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p_events uuid[];
  p_companies uuid[];
  p_users uuid[];
BEGIN
  SELECT array_agg(a.event_id), array_agg(a.company_id), array_agg(a.user_id) INTO p_events, p_companies, p_users
    FROM attendance_rollups a
   WHERE (a.user_id, a.company_id) IN (SELECT o.id, o.company_id FROM old_rows o JOIN new_rows n ON n.id = o.id
                                        WHERE o.metadata IS DISTINCT FROM n.metadata);
  PERFORM analytics_refresh_attendance(p_events, p_companies, p_users);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_users_updated AFTER UPDATE ON users
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_users_changed();
