import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Engagement analytics: indexes, and three rollups that triggers keep exactly in
 * step with the raw sessions, in the same transaction as each change.
 *
 * - attendance_rollups: per (event, user) with an ended session: sessions, first join, time in
 *   the event with overlapping sessions merged, highest role, registration, merged metadata.
 *   Refreshed from the raw rows of the pairs a statement touched (sessions ending, registrations
 *   linked, cancelled or edited, user metadata edited), under a row lock taken in key order, so
 *   two transactions refreshing one pair take turns and the second sees the first's rows.
 * - session_second_rollups: per (event, second) the join and end instants (ms offsets) with
 *   derived counts and the highest running total within the second; every session's join from
 *   its INSERT, its end once it has one.
 * - session_minute_rollups: the same summary per minute, composed from its seconds, so a peak or
 *   a timeline over hours reads hundreds of rows, not millions.
 *
 * Live sessions are in none of them but their joins: queries add them, counted up to now.
 * Existing sessions are rolled up at the end of up().
 */

const FUNCTIONS = `
-- Milliseconds within its second of an instant of a timestamptz(3) column.
CREATE FUNCTION analytics_ms_offset(at timestamptz) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (floor(extract(milliseconds FROM at AT TIME ZONE 'UTC'))::int % 1000)::smallint $$;

-- Length in milliseconds of a set of time ranges.
CREATE FUNCTION analytics_ms(islands tstzmultirange) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r)) * 1000), 0)::bigint FROM unnest(islands) AS r $$;

CREATE FUNCTION analytics_role_rank(role text) RETURNS smallint LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (CASE role WHEN 'ORGANIZER' THEN 2 WHEN 'PRESENTER' THEN 1 ELSE 0 END)::smallint $$;

-- a minus b as multisets: one occurrence of a removed per occurrence in b.
CREATE FUNCTION analytics_multiset_minus(a smallint[], b smallint[]) RETURNS smallint[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT coalesce(array_agg(x.v ORDER BY x.v), '{}') FROM (
    SELECT v, row_number() OVER (PARTITION BY v) AS n FROM unnest(a) AS v) x
  WHERE cardinality(b) = 0 OR x.n > (SELECT count(*) FROM unnest(b) AS w WHERE w = x.v)
$$;

-- The derived columns of a second, from its instants. Joins and ends at one instant count together.
CREATE FUNCTION analytics_second_derive() RETURNS trigger LANGUAGE plpgsql AS $$
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

-- Recomputes the minutes named from their seconds. The minute rows are locked first, in key
-- order; the recomputation is a later statement, so it sees what a transaction that held the
-- lock before us committed. A minute left without seconds (only after removals) goes.
CREATE FUNCTION analytics_refresh_minutes(event_ids uuid[], minutes timestamptz[], removals boolean) RETURNS void LANGUAGE plpgsql AS $$
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
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start, max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.minute = agg.minute;
  IF removals THEN
    DELETE FROM session_minute_rollups t
     USING (SELECT DISTINCT e, m FROM unnest(event_ids, minutes) AS p(e, m)) p
     WHERE t.event_id = p.e AND t.minute = p.m
       AND NOT EXISTS (SELECT 1 FROM session_second_rollups r WHERE r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute');
  END IF;
END $$;

-- Adds (sign 1) or removes (sign -1) join and end instants, then recomputes their minutes. Joins
-- and ends add only: that common case appends to the arrays and skips what removals need.
CREATE FUNCTION analytics_apply_instants(event_ids uuid[], ats timestamptz[], is_join boolean[], signs integer[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  removals boolean;
  m_events uuid[];
  m_minutes timestamptz[];
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  removals := -1 = ANY (signs);
  IF NOT removals THEN
    INSERT INTO session_second_rollups AS t (event_id, second, join_offsets, end_offsets)
    SELECT u.e, date_trunc('second', u.at, 'UTC'),
           coalesce(array_agg(analytics_ms_offset(u.at)) FILTER (WHERE u.j), '{}'),
           coalesce(array_agg(analytics_ms_offset(u.at)) FILTER (WHERE NOT u.j), '{}')
      FROM unnest(event_ids, ats, is_join) AS u(e, at, j)
     WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e)
     GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (event_id, second) DO UPDATE
      SET join_offsets = t.join_offsets || EXCLUDED.join_offsets, end_offsets = t.end_offsets || EXCLUDED.end_offsets;
  ELSE
    WITH d AS (
      SELECT u.e AS event_id, date_trunc('second', u.at, 'UTC') AS second, analytics_ms_offset(u.at) AS o, u.j, u.s
        FROM unnest(event_ids, ats, is_join, signs) AS u(e, at, j, s)
       WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e)
    ), g AS (
      SELECT event_id, second,
             coalesce(array_agg(o) FILTER (WHERE j AND s > 0), '{}') AS add_j,
             coalesce(array_agg(o) FILTER (WHERE NOT j AND s > 0), '{}') AS add_e,
             coalesce(array_agg(o) FILTER (WHERE j AND s < 0), '{}') AS del_j,
             coalesce(array_agg(o) FILTER (WHERE NOT j AND s < 0), '{}') AS del_e
        FROM d GROUP BY event_id, second
    )
    INSERT INTO session_second_rollups AS t (event_id, second, join_offsets, end_offsets)
    SELECT event_id, second, analytics_multiset_minus(add_j, del_j), analytics_multiset_minus(add_e, del_e)
      FROM g ORDER BY event_id, second
    ON CONFLICT (event_id, second) DO UPDATE
      SET join_offsets = analytics_multiset_minus(
            t.join_offsets || (SELECT g.add_j FROM g WHERE g.event_id = t.event_id AND g.second = t.second),
            (SELECT g.del_j FROM g WHERE g.event_id = t.event_id AND g.second = t.second)),
          end_offsets = analytics_multiset_minus(
            t.end_offsets || (SELECT g.add_e FROM g WHERE g.event_id = t.event_id AND g.second = t.second),
            (SELECT g.del_e FROM g WHERE g.event_id = t.event_id AND g.second = t.second));
    DELETE FROM session_second_rollups t
     USING (SELECT DISTINCT e, date_trunc('second', at, 'UTC') AS second FROM unnest(event_ids, ats) AS u(e, at)) u
     WHERE t.event_id = u.e AND t.second = u.second AND t.joins = 0 AND t.ends = 0;
  END IF;
  SELECT array_agg(e), array_agg(m) INTO m_events, m_minutes
    FROM (SELECT DISTINCT e, date_trunc('minute', at, 'UTC') AS m FROM unnest(event_ids, ats) AS u(e, at)) x;
  PERFORM analytics_refresh_minutes(m_events, m_minutes, removals);
END $$;

-- Who an attendee is beyond its sessions: its registration (that of its latest session with one,
-- if it still exists, else a live one linked to the user), whether a live registration is linked to it, and its
-- metadata merged (latest session's < user's < registrant's; null values do not hide others).
CREATE FUNCTION analytics_attendee_profile(p_event uuid, p_user uuid, p_session_registrant uuid,
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
CREATE FUNCTION analytics_refresh_attendance(event_ids uuid[], user_ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO attendance_rollups (event_id, user_id, company_id)
  SELECT DISTINCT p.e, p.u, ev.company_id FROM unnest(event_ids, user_ids) AS p(e, u)
    JOIN events ev ON ev.id = p.e JOIN users us ON us.id = p.u
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM attendance_rollups a
    JOIN (SELECT DISTINCT e, u FROM unnest(event_ids, user_ids) AS p(e, u)) p ON a.event_id = p.e AND a.user_id = p.u
   ORDER BY a.event_id, a.user_id FOR UPDATE OF a;
  WITH p AS (SELECT DISTINCT e, u FROM unnest(event_ids, user_ids) AS p(e, u)),
  iv AS (
    SELECT s.id, s.event_id, s.user_id, s.joined_at, GREATEST(s.joined_at, s.ended_at) AS end_at, s.role, s.registrant_id, s.metadata
      FROM p JOIN sessions s ON s.event_id = p.e AND s.user_id = p.u WHERE s.ended_at IS NOT NULL
  ), w AS (
    -- Gaps and islands: each session adds only what lies beyond the latest end before it.
    SELECT iv.*, max(end_at) OVER (PARTITION BY event_id, user_id ORDER BY joined_at, end_at, id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered_to
      FROM iv
  ), agg AS (
    SELECT event_id, user_id, count(*)::int AS sessions, min(joined_at) AS first_joined_at,
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
      FROM w GROUP BY event_id, user_id
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
   WHERE a.event_id = agg.event_id AND a.user_id = agg.user_id
  RETURNING a.event_id, a.user_id
  )
  -- A pair left without ended sessions (or a placeholder never filled) goes.
  DELETE FROM attendance_rollups a
   USING p
   WHERE a.event_id = p.e AND a.user_id = p.u
     AND NOT EXISTS (SELECT 1 FROM refreshed r WHERE r.event_id = p.e AND r.user_id = p.u);
END $$;

-- After any statement on sessions: the instants it added or removed, and the pairs it touched.
CREATE FUNCTION analytics_sessions_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d_events uuid[]; d_ats timestamptz[]; d_join boolean[]; d_signs integer[];
  p_events uuid[]; p_users uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(e), array_agg(at), array_agg(j), array_agg(s) INTO d_events, d_ats, d_join, d_signs FROM (
      SELECT event_id AS e, joined_at AS at, true AS j, 1 AS s FROM new_rows
      UNION ALL SELECT event_id, GREATEST(joined_at, ended_at), false, 1 FROM new_rows WHERE ended_at IS NOT NULL) x;
    SELECT array_agg(event_id), array_agg(user_id) INTO p_events, p_users FROM new_rows WHERE ended_at IS NOT NULL;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(e), array_agg(at), array_agg(j), array_agg(s) INTO d_events, d_ats, d_join, d_signs FROM (
      SELECT event_id AS e, joined_at AS at, true AS j, -1 AS s FROM old_rows
      UNION ALL SELECT event_id, GREATEST(joined_at, ended_at), false, -1 FROM old_rows WHERE ended_at IS NOT NULL) x;
    SELECT array_agg(event_id), array_agg(user_id) INTO p_events, p_users FROM old_rows WHERE ended_at IS NOT NULL;
  ELSE
    -- A heartbeat of a live session changes nothing here: leave at once.
    IF NOT EXISTS (SELECT 1 FROM old_rows o JOIN new_rows n ON n.id = o.id
                    WHERE o.ended_at IS NOT NULL OR n.ended_at IS NOT NULL
                       OR (o.event_id, o.joined_at) IS DISTINCT FROM (n.event_id, n.joined_at)) THEN
      RETURN NULL;
    END IF;
    SELECT array_agg(e), array_agg(at), array_agg(j), array_agg(s) INTO d_events, d_ats, d_join, d_signs FROM (
      SELECT o.event_id AS e, o.joined_at AS at, true AS j, -1 AS s
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE (o.event_id, o.joined_at) IS DISTINCT FROM (n.event_id, n.joined_at)
      UNION ALL
      SELECT n.event_id, n.joined_at, true, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE (o.event_id, o.joined_at) IS DISTINCT FROM (n.event_id, n.joined_at)
      UNION ALL
      SELECT o.event_id, GREATEST(o.joined_at, o.ended_at), false, -1
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE o.ended_at IS NOT NULL AND (o.event_id, o.joined_at, o.ended_at) IS DISTINCT FROM (n.event_id, n.joined_at, n.ended_at)
      UNION ALL
      SELECT n.event_id, GREATEST(n.joined_at, n.ended_at), false, 1
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE n.ended_at IS NOT NULL AND (o.event_id, o.joined_at, o.ended_at) IS DISTINCT FROM (n.event_id, n.joined_at, n.ended_at)) x;
    SELECT array_agg(e), array_agg(u) INTO p_events, p_users FROM (
      SELECT o.event_id AS e, o.user_id AS u FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE o.ended_at IS NOT NULL
         AND (o.event_id, o.user_id, o.joined_at, o.ended_at, o.role, o.registrant_id, o.metadata)
             IS DISTINCT FROM (n.event_id, n.user_id, n.joined_at, n.ended_at, n.role, n.registrant_id, n.metadata)
      UNION
      SELECT n.event_id, n.user_id FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE n.ended_at IS NOT NULL
         AND (o.event_id, o.user_id, o.joined_at, o.ended_at, o.role, o.registrant_id, o.metadata)
             IS DISTINCT FROM (n.event_id, n.user_id, n.joined_at, n.ended_at, n.role, n.registrant_id, n.metadata)) y;
  END IF;
  PERFORM analytics_apply_instants(d_events, d_ats, d_join, d_signs);
  PERFORM analytics_refresh_attendance(p_events, p_users);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_sessions_inserted AFTER INSERT ON sessions REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_sessions_changed();
CREATE TRIGGER analytics_sessions_updated AFTER UPDATE ON sessions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_sessions_changed();
CREATE TRIGGER analytics_sessions_deleted AFTER DELETE ON sessions REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_sessions_changed();

-- A registration linked to a user, cancelled, edited or removed changes who counts as registered,
-- which registration an attendee shows and its metadata: the pairs of its user and of the
-- attendees whose sessions came with it are refreshed. Statement-level, so a bulk write refreshes
-- each pair once.
CREATE FUNCTION analytics_registrants_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed_ids uuid[];
  p_events uuid[];
  p_users uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(id) INTO changed_ids FROM new_rows;
    SELECT array_agg(e), array_agg(u) INTO p_events, p_users FROM (
      SELECT event_id AS e, user_id AS u FROM new_rows WHERE user_id IS NOT NULL
      UNION SELECT a.event_id, a.user_id FROM attendance_rollups a WHERE a.session_registrant_ids && changed_ids) x;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(id) INTO changed_ids FROM old_rows;
    SELECT array_agg(e), array_agg(u) INTO p_events, p_users FROM (
      SELECT event_id AS e, user_id AS u FROM old_rows WHERE user_id IS NOT NULL
      UNION SELECT a.event_id, a.user_id FROM attendance_rollups a WHERE a.session_registrant_ids && changed_ids) x;
  ELSE
    SELECT array_agg(o.id) INTO changed_ids FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE (o.event_id, o.user_id, o.cancelled_at, o.metadata) IS DISTINCT FROM (n.event_id, n.user_id, n.cancelled_at, n.metadata);
    IF changed_ids IS NULL THEN RETURN NULL; END IF;
    SELECT array_agg(e), array_agg(u) INTO p_events, p_users FROM (
      SELECT event_id AS e, user_id AS u FROM old_rows WHERE id = ANY (changed_ids) AND user_id IS NOT NULL
      UNION SELECT event_id, user_id FROM new_rows WHERE id = ANY (changed_ids) AND user_id IS NOT NULL
      UNION SELECT a.event_id, a.user_id FROM attendance_rollups a WHERE a.session_registrant_ids && changed_ids) x;
  END IF;
  PERFORM analytics_refresh_attendance(p_events, p_users);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_registrants_inserted AFTER INSERT ON registrants REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrants_changed();
CREATE TRIGGER analytics_registrants_updated AFTER UPDATE ON registrants REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrants_changed();
CREATE TRIGGER analytics_registrants_deleted AFTER DELETE ON registrants REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrants_changed();

-- A user's metadata is part of its attendees' merged metadata.
CREATE FUNCTION analytics_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p_events uuid[];
  p_users uuid[];
BEGIN
  SELECT array_agg(a.event_id), array_agg(a.user_id) INTO p_events, p_users
    FROM attendance_rollups a
   WHERE a.user_id IN (SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.metadata IS DISTINCT FROM n.metadata);
  PERFORM analytics_refresh_attendance(p_events, p_users);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_users_updated AFTER UPDATE ON users REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_users_changed();
`;

/** Rolls up the sessions that exist already (with fresh statistics: the refresh probes indexes per pair). */
const BACKFILL = `
ANALYZE sessions;
ANALYZE registrants;
ANALYZE users;
SELECT analytics_apply_instants(array_agg(e), array_agg(at), array_agg(j), array_agg(s)) FROM (
  SELECT event_id AS e, joined_at AS at, true AS j, 1 AS s FROM sessions
  UNION ALL SELECT event_id, GREATEST(joined_at, ended_at), false, 1 FROM sessions WHERE ended_at IS NOT NULL) x;
SELECT analytics_refresh_attendance(array_agg(event_id), array_agg(user_id))
  FROM (SELECT DISTINCT event_id, user_id FROM sessions WHERE ended_at IS NOT NULL) x;
`;

const DROP_FUNCTIONS = `
DROP TRIGGER analytics_users_updated ON users;
DROP TRIGGER analytics_registrants_deleted ON registrants;
DROP TRIGGER analytics_registrants_updated ON registrants;
DROP TRIGGER analytics_registrants_inserted ON registrants;
DROP TRIGGER analytics_sessions_deleted ON sessions;
DROP TRIGGER analytics_sessions_updated ON sessions;
DROP TRIGGER analytics_sessions_inserted ON sessions;
DROP TRIGGER analytics_second_derive ON session_second_rollups;
DROP FUNCTION analytics_users_changed();
DROP FUNCTION analytics_registrants_changed();
DROP FUNCTION analytics_sessions_changed();
DROP FUNCTION analytics_refresh_attendance(uuid[], uuid[]);
DROP FUNCTION analytics_attendee_profile(uuid, uuid, uuid, uuid[], jsonb);
DROP FUNCTION analytics_apply_instants(uuid[], timestamptz[], boolean[], integer[]);
DROP FUNCTION analytics_refresh_minutes(uuid[], timestamptz[], boolean);
DROP FUNCTION analytics_second_derive();
DROP FUNCTION analytics_multiset_minus(smallint[], smallint[]);
DROP FUNCTION analytics_role_rank(text);
DROP FUNCTION analytics_ms(tstzmultirange);
DROP FUNCTION analytics_ms_offset(timestamptz);
`;


export class AnalyticsIndexes1795316718244 implements MigrationInterface {
  name = "AnalyticsIndexes1795316718244";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "attendance_rollups" (
        "event_id" uuid NOT NULL,
        "user_id" uuid NOT NULL,
        "company_id" uuid NOT NULL,
        "sessions" integer NOT NULL DEFAULT '0',
        "first_joined_at" TIMESTAMP(3) WITH TIME ZONE,
        "attended_ms" bigint NOT NULL DEFAULT '0',
        "role_rank" smallint NOT NULL DEFAULT '0',
        "registered" boolean NOT NULL DEFAULT false,
        "registrant_id" uuid,
        "metadata" jsonb NOT NULL DEFAULT '{}',
        "islands" tstzmultirange NOT NULL DEFAULT '{}',
        "latest_joined_at" TIMESTAMP(3) WITH TIME ZONE,
        "latest_session_id" uuid,
        "latest_metadata" jsonb NOT NULL DEFAULT '{}',
        "latest_registration_joined_at" TIMESTAMP(3) WITH TIME ZONE,
        "latest_registration_session_id" uuid,
        "latest_registration_id" uuid,
        "session_registrant_ids" uuid array NOT NULL DEFAULT '{}',
        CONSTRAINT "PK_b81d9e658fc343536b80dd723a9" PRIMARY KEY ("event_id", "user_id")
      )
    `);
    await queryRunner.query(`CREATE INDEX "idx_attendance_rollups_user" ON "attendance_rollups" ("user_id")`);
    await queryRunner.query(`
      CREATE INDEX "idx_attendance_rollups_totals"
        ON "attendance_rollups" ("event_id", "company_id", "registered", "attended_ms")
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_attendance_rollups_list"
        ON "attendance_rollups" ("event_id", "first_joined_at", "user_id")
    `);
    await queryRunner.query(`
      CREATE TABLE "session_second_rollups" (
        "event_id" uuid NOT NULL,
        "second" TIMESTAMP(0) WITH TIME ZONE NOT NULL,
        "joins" integer NOT NULL DEFAULT '0',
        "ends" integer NOT NULL DEFAULT '0',
        "joins_at_start" integer NOT NULL DEFAULT '0',
        "ends_at_start" integer NOT NULL DEFAULT '0',
        "max_after" integer NOT NULL DEFAULT '0',
        "join_offsets" smallint array NOT NULL DEFAULT '{}',
        "end_offsets" smallint array NOT NULL DEFAULT '{}',
        CONSTRAINT "PK_ee0971fa900aee334a807f8c93f" PRIMARY KEY ("event_id", "second")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "session_minute_rollups" (
        "event_id" uuid NOT NULL,
        "minute" TIMESTAMP(0) WITH TIME ZONE NOT NULL,
        "joins" integer NOT NULL DEFAULT '0',
        "ends" integer NOT NULL DEFAULT '0',
        "joins_at_start" integer NOT NULL DEFAULT '0',
        "ends_at_start" integer NOT NULL DEFAULT '0',
        "max_after" integer NOT NULL DEFAULT '0',
        CONSTRAINT "PK_c5e213cf41d9c414e1da727cdb2" PRIMARY KEY ("event_id", "minute")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_registrants_live_by_user" ON "registrants" ("event_id", "user_id")
        WHERE cancelled_at IS NULL
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_f92709da37fdc626cff2b926759"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_39c00119886bc1ab87f11b64b42"
        FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_second_rollups" ADD CONSTRAINT "FK_4d89507ecf5541f6a2eaa6515c5"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_minute_rollups" ADD CONSTRAINT "FK_7b2d4b8cb469ce89403e759fcb4"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    // GIN: a registration's attendees, when the registration changes.
    await queryRunner.query(`
      CREATE INDEX "idx_attendance_rollups_registrants" ON "attendance_rollups"
        USING gin ("session_registrant_ids")
    `);
    await queryRunner.query(FUNCTIONS);
    await queryRunner.query(BACKFILL);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(DROP_FUNCTIONS);
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_rollups_registrants"`);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" DROP CONSTRAINT "FK_7b2d4b8cb469ce89403e759fcb4"`);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" DROP CONSTRAINT "FK_4d89507ecf5541f6a2eaa6515c5"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_39c00119886bc1ab87f11b64b42"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_f92709da37fdc626cff2b926759"`);
    await queryRunner.query(`DROP INDEX "public"."idx_registrants_live_by_user"`);
    await queryRunner.query(`DROP TABLE "session_minute_rollups"`);
    await queryRunner.query(`DROP TABLE "session_second_rollups"`);
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_rollups_list"`);
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_rollups_totals"`);
    await queryRunner.query(`DROP INDEX "public"."idx_attendance_rollups_user"`);
    await queryRunner.query(`DROP TABLE "attendance_rollups"`);
  }
}
