import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A user's whole life, and what a media server needs from a session token.
 *
 * users.created_via records how each user came to exist (the API, or the credential that created
 * it just in time); rows written before this migration are told apart as well as the rows allow:
 * users first made for a registration, guests, and the rest as API. suspended_at refuses every
 * credential of the user (USER_SUSPENDED) while keeping its seat; deleted_at marks the anonymous
 * row deleteUser leaves for analytics. erased_subjects keeps a deleted user's external id as a
 * digest only, so a credential issued before the deletion cannot create the person again.
 *
 * admit_join gains p_created_via (the origin it records for a user it creates), refuses a
 * suspended user and a deleted one, and checks erased_subjects before creating a user. Still one
 * statement, still with enable_seqscan off (see JoinInOneStatement).
 *
 * companies.role_permissions (null: the defaults) and session_token_audience (null: the issuer)
 * shape the session token a media server verifies.
 */

export const ADMIT_JOIN = String.raw`
-- p_entrant: 'external' (p_external_id, p_profile: the keys present are the fields to set:
-- email, email_normalized, name, avatar_url, metadata), 'user' (p_user), 'guest' (p_profile.name),
-- 'registrant' (p_registrant). p_idle_seconds: the company's inactivity window. p_created_via: the
-- origin a user created just in time by an 'external' entrant records (users.created_via).
CREATE FUNCTION admit_join(
  p_company uuid, p_event uuid, p_now timestamptz, p_idle_seconds integer, p_first_heartbeat_seconds integer,
  p_entrant text, p_user uuid, p_external_id text, p_profile jsonb, p_registrant uuid,
  p_credential_type text, p_jti text, p_issued_at timestamptz, p_expires_at timestamptz,
  p_role_grant text, p_eject_at timestamptz, p_eject_reason text, p_metadata jsonb, p_sweep_when_full boolean,
  p_created_via text)
RETURNS TABLE (
  id uuid, company_id uuid, event_id uuid, user_id uuid, registrant_id uuid, credential_type text,
  credential_jti text, credential_issued_at timestamptz, credential_expires_at timestamptz, role_grant text,
  role text, joined_at timestamptz, last_seen_at timestamptz, ended_at timestamptz, end_reason text,
  eject_at timestamptz, eject_reason text, metadata jsonb, user_created boolean)
-- Every statement here reads a few rows through an index. A plan made while a table was nearly
-- empty (a new database: its statistics say one page) is a sequential scan, and PL/pgSQL keeps
-- it for the connection's life: at the busiest minute of a new event each join then read every
-- user and session. Scans are for tables without a usable index only.
SET enable_seqscan = off
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_event events%ROWTYPE;
  v_reg registrants%ROWTYPE;
  v_user users%ROWTYPE;
  v_created boolean := false;
  v_idle interval := make_interval(secs => p_idle_seconds);
  -- A guest's session that never heartbeated (last_seen_at = joined_at) idles out after this instead.
  v_first interval := make_interval(secs => LEAST(p_first_heartbeat_seconds, p_idle_seconds));
  v_count integer;
  v_allowed integer;
  v_mine uuid[];
  v_listed text[];
  v_role text;
  v_s sessions%ROWTYPE;
BEGIN
  -- With a capacity, joins to the event take turns on its row, so the count holds on every node.
  -- FOR NO KEY UPDATE: it excludes the other joins, not the foreign-key checks of rows pointing at
  -- the event (the analytics fold's).
  SELECT * INTO v_event FROM events e WHERE e.id = p_event AND e.company_id = p_company;
  IF NOT FOUND THEN RAISE EXCEPTION 'NOT_FOUND' USING ERRCODE = 'AD001'; END IF;
  IF v_event.capacity IS NOT NULL THEN
    SELECT * INTO v_event FROM events e WHERE e.id = p_event FOR NO KEY UPDATE;
  END IF;
  IF v_event.ended_at IS NOT NULL OR v_event.ends_at <= p_now THEN
    RAISE EXCEPTION 'EVENT_ENDED' USING ERRCODE = 'AD001';
  END IF;

  IF p_entrant = 'registrant' THEN
    -- Locked before its user is found: a registration's first joins would each make one. The
    -- share lock makes a cancellation wait for this join (then end its session) or come first.
    IF v_event.capacity IS NULL THEN
      PERFORM pg_advisory_xact_lock(hashtextextended('join:' || p_event || ':r:' || p_registrant, 0));
    END IF;
    SELECT * INTO v_reg FROM registrants g WHERE g.id = p_registrant AND g.company_id = p_company FOR SHARE;
    IF NOT FOUND OR v_reg.cancelled_at IS NOT NULL THEN
      RAISE EXCEPTION 'TOKEN_REVOKED' USING ERRCODE = 'AD001';
    END IF;
  END IF;

  IF p_entrant = 'external' THEN
    SELECT * INTO v_user FROM users u WHERE u.company_id = p_company AND u.external_id = p_external_id;
    IF NOT FOUND THEN
      -- A deleted user's external id is kept as a digest only: a credential issued before the
      -- deletion must not bring the person back. Read only when a user is about to be created.
      IF EXISTS (SELECT 1 FROM erased_subjects x
                  WHERE x.company_id = p_company
                    AND x.digest = encode(sha256(convert_to(p_company::text || ' ' || p_external_id, 'UTF8')), 'hex')
                    AND (p_issued_at IS NULL OR p_issued_at < x.erased_at)) THEN
        RAISE EXCEPTION 'TOKEN_REVOKED' USING ERRCODE = 'AD001';
      END IF;
      -- ON CONFLICT DO NOTHING waits for a concurrent creator of the same user, then yields to it.
      INSERT INTO users (company_id, external_id, email, email_normalized, name, avatar_url, metadata, created_via)
      VALUES (p_company, p_external_id, p_profile->>'email', p_profile->>'email_normalized', p_profile->>'name',
              p_profile->>'avatar_url', COALESCE(p_profile->'metadata', '{}'::jsonb), p_created_via)
      ON CONFLICT (company_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
      RETURNING * INTO v_user;
      v_created := FOUND;
      IF NOT v_created THEN
        SELECT * INTO v_user FROM users u WHERE u.company_id = p_company AND u.external_id = p_external_id;
      END IF;
    END IF;
    -- Most joins present the same profile again: then nothing is written.
    IF NOT v_created AND (
         (p_profile ? 'email' AND (v_user.email IS DISTINCT FROM p_profile->>'email'
                                   OR v_user.email_normalized IS DISTINCT FROM p_profile->>'email_normalized'))
      OR (p_profile ? 'name' AND v_user.name IS DISTINCT FROM p_profile->>'name')
      OR (p_profile ? 'avatar_url' AND v_user.avatar_url IS DISTINCT FROM p_profile->>'avatar_url')
      OR (p_profile ? 'metadata' AND v_user.metadata IS DISTINCT FROM p_profile->'metadata')) THEN
      UPDATE users u
         SET email = CASE WHEN p_profile ? 'email' THEN p_profile->>'email' ELSE u.email END,
             email_normalized = CASE WHEN p_profile ? 'email' THEN p_profile->>'email_normalized' ELSE u.email_normalized END,
             name = CASE WHEN p_profile ? 'name' THEN p_profile->>'name' ELSE u.name END,
             avatar_url = CASE WHEN p_profile ? 'avatar_url' THEN p_profile->>'avatar_url' ELSE u.avatar_url END,
             metadata = CASE WHEN p_profile ? 'metadata' THEN p_profile->'metadata' ELSE u.metadata END,
             updated_at = now()
       WHERE u.id = v_user.id
      RETURNING * INTO v_user;
    END IF;
  ELSIF p_entrant = 'user' THEN
    SELECT * INTO v_user FROM users u WHERE u.id = p_user AND u.company_id = p_company AND u.deleted_at IS NULL;
    IF NOT FOUND THEN RAISE EXCEPTION 'INVALID_CREDENTIALS' USING ERRCODE = 'AD001'; END IF;
  ELSIF p_entrant = 'guest' THEN
    INSERT INTO users (company_id, name, is_guest, metadata, created_via)
    VALUES (p_company, p_profile->>'name', true, '{}'::jsonb, 'GUEST')
    RETURNING * INTO v_user;
  ELSE
    -- A registrant joins as the user it joined as before; else, when the company vouched for its
    -- email, as the company's user with that email; else as a user of its own (no seat). Lists and
    -- lookups match users by email_normalized: an unverified email is shown (email) but left out
    -- of it, so it matches no organizer or presenter list and finds no user.
    IF v_reg.user_id IS NOT NULL THEN
      SELECT * INTO v_user FROM users u WHERE u.id = v_reg.user_id;
    END IF;
    IF v_user.id IS NULL THEN
      IF v_reg.email_verified THEN
        SELECT * INTO v_user FROM users u
         WHERE u.company_id = p_company AND u.email_normalized = v_reg.email_normalized AND NOT u.is_guest
         ORDER BY u.created_at, u.id LIMIT 1;
      END IF;
      IF v_user.id IS NULL THEN
        INSERT INTO users (company_id, name, email, email_normalized, is_guest, metadata, created_via)
        VALUES (p_company, v_reg.name, v_reg.email,
                CASE WHEN v_reg.email_verified THEN v_reg.email_normalized END, true, '{}'::jsonb, 'REGISTRATION')
        RETURNING * INTO v_user;
      END IF;
      UPDATE registrants g SET user_id = v_user.id WHERE g.id = v_reg.id;
    END IF;
  END IF;

  IF v_user.tokens_revoked_before IS NOT NULL AND p_issued_at < v_user.tokens_revoked_before THEN
    RAISE EXCEPTION 'TOKEN_REVOKED' USING ERRCODE = 'AD001';
  END IF;
  -- Whatever the credential: a suspended user keeps the account and the seat, and is let in nowhere.
  IF v_user.suspended_at IS NOT NULL THEN
    RAISE EXCEPTION 'USER_SUSPENDED' USING ERRCODE = 'AD001';
  END IF;

  -- The same user may come in through different credentials: the lock is on the user.
  IF v_event.capacity IS NULL AND p_entrant <> 'guest' THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('join:' || p_event || ':u:' || v_user.id, 0));
  END IF;

  -- The duplicate-session policy, over this person's not-ended sessions of the event (each arm on
  -- its partial index: an OR of the two would read every live session of the event). Those a time
  -- limit has already ended (idle, ejected: the event's end was checked above) are written down as
  -- that first; a new user has none, and skips all of it.
  v_mine := ARRAY(SELECT o.id FROM sessions o WHERE o.event_id = p_event AND o.user_id = v_user.id AND o.ended_at IS NULL
                  UNION
                  SELECT o.id FROM sessions o WHERE o.event_id = p_event AND o.registrant_id = p_registrant AND o.ended_at IS NULL);
  IF cardinality(v_mine) > 0 THEN
    UPDATE sessions s
       SET ended_at = CASE WHEN s.eject_at <= admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first) THEN s.eject_at ELSE s.last_seen_at END,
           end_reason = CASE WHEN s.eject_at <= admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first) THEN COALESCE(s.eject_reason, 'ELAPSED')
                             WHEN s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at THEN 'NO_HEARTBEAT' ELSE 'INACTIVE' END
     WHERE s.id = ANY (v_mine) AND s.ended_at IS NULL
       AND LEAST(admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first), s.eject_at) <= p_now;
    v_allowed := CASE WHEN p_entrant = 'registrant' THEN 1 ELSE v_event.max_sessions_per_user END;
    SELECT count(*) INTO v_count FROM sessions s WHERE s.id = ANY (v_mine) AND s.ended_at IS NULL;
    IF v_count >= v_allowed THEN
      IF v_event.session_policy = 'REJECT_NEW' THEN
        RAISE EXCEPTION 'ALREADY_IN_SESSION' USING ERRCODE = 'AD001';
      END IF;
      UPDATE sessions s SET ended_at = p_now, end_reason = 'SUPERSEDED'
       WHERE s.id IN (SELECT o.id FROM sessions o WHERE o.id = ANY (v_mine) AND o.ended_at IS NULL
                       ORDER BY o.joined_at, o.id LIMIT v_count - v_allowed + 1)
         AND s.ended_at IS NULL;
    END IF;
  END IF;

  IF v_event.capacity IS NOT NULL THEN
    SELECT o.live INTO v_count FROM event_occupancy o WHERE o.event_id = p_event;
    -- Full: write down the sessions a time limit has ended and look again. Each sweep reads every
    -- live session of the event, so the caller asks for it only now and then (p_sweep_when_full)
    -- while the event keeps refusing; the node's periodic sweep writes them down meanwhile.
    IF v_count >= v_event.capacity AND NOT p_sweep_when_full THEN
      RAISE EXCEPTION 'EVENT_FULL' USING ERRCODE = 'AD001';
    END IF;
    IF v_count >= v_event.capacity THEN
      UPDATE sessions s
         SET ended_at = CASE WHEN s.eject_at <= admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first) THEN s.eject_at ELSE s.last_seen_at END,
             end_reason = CASE WHEN s.eject_at <= admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first) THEN COALESCE(s.eject_reason, 'ELAPSED')
                               WHEN s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at THEN 'NO_HEARTBEAT' ELSE 'INACTIVE' END
       WHERE s.event_id = p_event AND s.ended_at IS NULL
         AND LEAST(admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first), s.eject_at) <= p_now;
      SELECT o.live INTO v_count FROM event_occupancy o WHERE o.event_id = p_event;
      IF v_count >= v_event.capacity THEN RAISE EXCEPTION 'EVENT_FULL' USING ERRCODE = 'AD001'; END IF;
    END IF;
  END IF;

  -- Only the list entries that name this user.
  SELECT array_agg(p.role::text) INTO v_listed FROM event_principals p
   WHERE p.event_id = p_event AND (p.user_external_id = v_user.external_id OR p.email = v_user.email_normalized);
  v_role := CASE WHEN 'ORGANIZER' = ANY(v_listed) OR p_role_grant = 'ORGANIZER' THEN 'ORGANIZER'
                 WHEN 'PRESENTER' = ANY(v_listed) OR p_role_grant = 'PRESENTER' THEN 'PRESENTER'
                 ELSE 'ATTENDEE' END;

  INSERT INTO sessions (company_id, event_id, user_id, registrant_id, credential_type, credential_jti,
                        credential_issued_at, credential_expires_at, role_grant, role, joined_at, last_seen_at,
                        eject_at, eject_reason, metadata)
  VALUES (p_company, p_event, v_user.id, p_registrant, p_credential_type, p_jti, p_issued_at, p_expires_at,
          p_role_grant, v_role, p_now, p_now, p_eject_at, p_eject_reason, p_metadata)
  RETURNING * INTO v_s;

  -- Last: from here to COMMIT the stripe is held for every other creation in the company.
  IF v_created AND NOT admit_take_seat(p_company) THEN
    RAISE EXCEPTION 'SEAT_LIMIT_REACHED' USING ERRCODE = 'AD001';
  END IF;

  id := v_s.id; company_id := v_s.company_id; event_id := v_s.event_id; user_id := v_s.user_id;
  registrant_id := v_s.registrant_id; credential_type := v_s.credential_type; credential_jti := v_s.credential_jti;
  credential_issued_at := v_s.credential_issued_at; credential_expires_at := v_s.credential_expires_at;
  role_grant := v_s.role_grant; role := v_s.role; joined_at := v_s.joined_at; last_seen_at := v_s.last_seen_at;
  ended_at := v_s.ended_at; end_reason := v_s.end_reason; eject_at := v_s.eject_at; eject_reason := v_s.eject_reason;
  metadata := v_s.metadata; user_created := v_created;
  RETURN NEXT;
END $$;
`;

/** admit_join as JoinInOneStatement made it, for down(). */
const PREVIOUS_ADMIT_JOIN = String.raw`
-- p_entrant: 'external' (p_external_id, p_profile: the keys present are the fields to set:
-- email, email_normalized, name, avatar_url, metadata), 'user' (p_user), 'guest' (p_profile.name),
-- 'registrant' (p_registrant). p_idle_seconds: the company's inactivity window.
CREATE FUNCTION admit_join(
  p_company uuid, p_event uuid, p_now timestamptz, p_idle_seconds integer, p_first_heartbeat_seconds integer,
  p_entrant text, p_user uuid, p_external_id text, p_profile jsonb, p_registrant uuid,
  p_credential_type text, p_jti text, p_issued_at timestamptz, p_expires_at timestamptz,
  p_role_grant text, p_eject_at timestamptz, p_eject_reason text, p_metadata jsonb, p_sweep_when_full boolean)
RETURNS TABLE (
  id uuid, company_id uuid, event_id uuid, user_id uuid, registrant_id uuid, credential_type text,
  credential_jti text, credential_issued_at timestamptz, credential_expires_at timestamptz, role_grant text,
  role text, joined_at timestamptz, last_seen_at timestamptz, ended_at timestamptz, end_reason text,
  eject_at timestamptz, eject_reason text, metadata jsonb, user_created boolean)
-- Every statement here reads a few rows through an index. A plan made while a table was nearly
-- empty (a new database: its statistics say one page) is a sequential scan, and PL/pgSQL keeps
-- it for the connection's life: at the busiest minute of a new event each join then read every
-- user and session. Scans are for tables without a usable index only.
SET enable_seqscan = off
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
  v_event events%ROWTYPE;
  v_reg registrants%ROWTYPE;
  v_user users%ROWTYPE;
  v_created boolean := false;
  v_idle interval := make_interval(secs => p_idle_seconds);
  -- A guest's session that never heartbeated (last_seen_at = joined_at) idles out after this instead.
  v_first interval := make_interval(secs => LEAST(p_first_heartbeat_seconds, p_idle_seconds));
  v_count integer;
  v_allowed integer;
  v_mine uuid[];
  v_listed text[];
  v_role text;
  v_s sessions%ROWTYPE;
BEGIN
  -- With a capacity, joins to the event take turns on its row, so the count holds on every node.
  -- FOR NO KEY UPDATE: it excludes the other joins, not the foreign-key checks of rows pointing at
  -- the event (the analytics fold's).
  SELECT * INTO v_event FROM events e WHERE e.id = p_event AND e.company_id = p_company;
  IF NOT FOUND THEN RAISE EXCEPTION 'NOT_FOUND' USING ERRCODE = 'AD001'; END IF;
  IF v_event.capacity IS NOT NULL THEN
    SELECT * INTO v_event FROM events e WHERE e.id = p_event FOR NO KEY UPDATE;
  END IF;
  IF v_event.ended_at IS NOT NULL OR v_event.ends_at <= p_now THEN
    RAISE EXCEPTION 'EVENT_ENDED' USING ERRCODE = 'AD001';
  END IF;

  IF p_entrant = 'registrant' THEN
    -- Locked before its user is found: a registration's first joins would each make one. The
    -- share lock makes a cancellation wait for this join (then end its session) or come first.
    IF v_event.capacity IS NULL THEN
      PERFORM pg_advisory_xact_lock(hashtextextended('join:' || p_event || ':r:' || p_registrant, 0));
    END IF;
    SELECT * INTO v_reg FROM registrants g WHERE g.id = p_registrant AND g.company_id = p_company FOR SHARE;
    IF NOT FOUND OR v_reg.cancelled_at IS NOT NULL THEN
      RAISE EXCEPTION 'TOKEN_REVOKED' USING ERRCODE = 'AD001';
    END IF;
  END IF;

  IF p_entrant = 'external' THEN
    SELECT * INTO v_user FROM users u WHERE u.company_id = p_company AND u.external_id = p_external_id;
    IF NOT FOUND THEN
      -- ON CONFLICT DO NOTHING waits for a concurrent creator of the same user, then yields to it.
      INSERT INTO users (company_id, external_id, email, email_normalized, name, avatar_url, metadata)
      VALUES (p_company, p_external_id, p_profile->>'email', p_profile->>'email_normalized', p_profile->>'name',
              p_profile->>'avatar_url', COALESCE(p_profile->'metadata', '{}'::jsonb))
      ON CONFLICT (company_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
      RETURNING * INTO v_user;
      v_created := FOUND;
      IF NOT v_created THEN
        SELECT * INTO v_user FROM users u WHERE u.company_id = p_company AND u.external_id = p_external_id;
      END IF;
    END IF;
    -- Most joins present the same profile again: then nothing is written.
    IF NOT v_created AND (
         (p_profile ? 'email' AND (v_user.email IS DISTINCT FROM p_profile->>'email'
                                   OR v_user.email_normalized IS DISTINCT FROM p_profile->>'email_normalized'))
      OR (p_profile ? 'name' AND v_user.name IS DISTINCT FROM p_profile->>'name')
      OR (p_profile ? 'avatar_url' AND v_user.avatar_url IS DISTINCT FROM p_profile->>'avatar_url')
      OR (p_profile ? 'metadata' AND v_user.metadata IS DISTINCT FROM p_profile->'metadata')) THEN
      UPDATE users u
         SET email = CASE WHEN p_profile ? 'email' THEN p_profile->>'email' ELSE u.email END,
             email_normalized = CASE WHEN p_profile ? 'email' THEN p_profile->>'email_normalized' ELSE u.email_normalized END,
             name = CASE WHEN p_profile ? 'name' THEN p_profile->>'name' ELSE u.name END,
             avatar_url = CASE WHEN p_profile ? 'avatar_url' THEN p_profile->>'avatar_url' ELSE u.avatar_url END,
             metadata = CASE WHEN p_profile ? 'metadata' THEN p_profile->'metadata' ELSE u.metadata END,
             updated_at = now()
       WHERE u.id = v_user.id
      RETURNING * INTO v_user;
    END IF;
  ELSIF p_entrant = 'user' THEN
    SELECT * INTO v_user FROM users u WHERE u.id = p_user AND u.company_id = p_company;
    IF NOT FOUND THEN RAISE EXCEPTION 'INVALID_CREDENTIALS' USING ERRCODE = 'AD001'; END IF;
  ELSIF p_entrant = 'guest' THEN
    INSERT INTO users (company_id, name, is_guest, metadata)
    VALUES (p_company, p_profile->>'name', true, '{}'::jsonb)
    RETURNING * INTO v_user;
  ELSE
    -- A registrant joins as the user it joined as before; else, when the company vouched for its
    -- email, as the company's user with that email; else as a user of its own (no seat). Lists and
    -- lookups match users by email_normalized: an unverified email is shown (email) but left out
    -- of it, so it matches no organizer or presenter list and finds no user.
    IF v_reg.user_id IS NOT NULL THEN
      SELECT * INTO v_user FROM users u WHERE u.id = v_reg.user_id;
    END IF;
    IF v_user.id IS NULL THEN
      IF v_reg.email_verified THEN
        SELECT * INTO v_user FROM users u
         WHERE u.company_id = p_company AND u.email_normalized = v_reg.email_normalized AND NOT u.is_guest
         ORDER BY u.created_at, u.id LIMIT 1;
      END IF;
      IF v_user.id IS NULL THEN
        INSERT INTO users (company_id, name, email, email_normalized, is_guest, metadata)
        VALUES (p_company, v_reg.name, v_reg.email,
                CASE WHEN v_reg.email_verified THEN v_reg.email_normalized END, true, '{}'::jsonb)
        RETURNING * INTO v_user;
      END IF;
      UPDATE registrants g SET user_id = v_user.id WHERE g.id = v_reg.id;
    END IF;
  END IF;

  IF v_user.tokens_revoked_before IS NOT NULL AND p_issued_at < v_user.tokens_revoked_before THEN
    RAISE EXCEPTION 'TOKEN_REVOKED' USING ERRCODE = 'AD001';
  END IF;

  -- The same user may come in through different credentials: the lock is on the user.
  IF v_event.capacity IS NULL AND p_entrant <> 'guest' THEN
    PERFORM pg_advisory_xact_lock(hashtextextended('join:' || p_event || ':u:' || v_user.id, 0));
  END IF;

  -- The duplicate-session policy, over this person's not-ended sessions of the event (each arm on
  -- its partial index: an OR of the two would read every live session of the event). Those a time
  -- limit has already ended (idle, ejected: the event's end was checked above) are written down as
  -- that first; a new user has none, and skips all of it.
  v_mine := ARRAY(SELECT o.id FROM sessions o WHERE o.event_id = p_event AND o.user_id = v_user.id AND o.ended_at IS NULL
                  UNION
                  SELECT o.id FROM sessions o WHERE o.event_id = p_event AND o.registrant_id = p_registrant AND o.ended_at IS NULL);
  IF cardinality(v_mine) > 0 THEN
    UPDATE sessions s
       SET ended_at = CASE WHEN s.eject_at <= admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first) THEN s.eject_at ELSE s.last_seen_at END,
           end_reason = CASE WHEN s.eject_at <= admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first) THEN COALESCE(s.eject_reason, 'ELAPSED')
                             WHEN s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at THEN 'NO_HEARTBEAT' ELSE 'INACTIVE' END
     WHERE s.id = ANY (v_mine) AND s.ended_at IS NULL
       AND LEAST(admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first), s.eject_at) <= p_now;
    v_allowed := CASE WHEN p_entrant = 'registrant' THEN 1 ELSE v_event.max_sessions_per_user END;
    SELECT count(*) INTO v_count FROM sessions s WHERE s.id = ANY (v_mine) AND s.ended_at IS NULL;
    IF v_count >= v_allowed THEN
      IF v_event.session_policy = 'REJECT_NEW' THEN
        RAISE EXCEPTION 'ALREADY_IN_SESSION' USING ERRCODE = 'AD001';
      END IF;
      UPDATE sessions s SET ended_at = p_now, end_reason = 'SUPERSEDED'
       WHERE s.id IN (SELECT o.id FROM sessions o WHERE o.id = ANY (v_mine) AND o.ended_at IS NULL
                       ORDER BY o.joined_at, o.id LIMIT v_count - v_allowed + 1)
         AND s.ended_at IS NULL;
    END IF;
  END IF;

  IF v_event.capacity IS NOT NULL THEN
    SELECT o.live INTO v_count FROM event_occupancy o WHERE o.event_id = p_event;
    -- Full: write down the sessions a time limit has ended and look again. Each sweep reads every
    -- live session of the event, so the caller asks for it only now and then (p_sweep_when_full)
    -- while the event keeps refusing; the node's periodic sweep writes them down meanwhile.
    IF v_count >= v_event.capacity AND NOT p_sweep_when_full THEN
      RAISE EXCEPTION 'EVENT_FULL' USING ERRCODE = 'AD001';
    END IF;
    IF v_count >= v_event.capacity THEN
      UPDATE sessions s
         SET ended_at = CASE WHEN s.eject_at <= admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first) THEN s.eject_at ELSE s.last_seen_at END,
             end_reason = CASE WHEN s.eject_at <= admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first) THEN COALESCE(s.eject_reason, 'ELAPSED')
                               WHEN s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at THEN 'NO_HEARTBEAT' ELSE 'INACTIVE' END
       WHERE s.event_id = p_event AND s.ended_at IS NULL
         AND LEAST(admit_idle_at(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at, s.last_seen_at, v_idle, v_first), s.eject_at) <= p_now;
      SELECT o.live INTO v_count FROM event_occupancy o WHERE o.event_id = p_event;
      IF v_count >= v_event.capacity THEN RAISE EXCEPTION 'EVENT_FULL' USING ERRCODE = 'AD001'; END IF;
    END IF;
  END IF;

  -- Only the list entries that name this user.
  SELECT array_agg(p.role::text) INTO v_listed FROM event_principals p
   WHERE p.event_id = p_event AND (p.user_external_id = v_user.external_id OR p.email = v_user.email_normalized);
  v_role := CASE WHEN 'ORGANIZER' = ANY(v_listed) OR p_role_grant = 'ORGANIZER' THEN 'ORGANIZER'
                 WHEN 'PRESENTER' = ANY(v_listed) OR p_role_grant = 'PRESENTER' THEN 'PRESENTER'
                 ELSE 'ATTENDEE' END;

  INSERT INTO sessions (company_id, event_id, user_id, registrant_id, credential_type, credential_jti,
                        credential_issued_at, credential_expires_at, role_grant, role, joined_at, last_seen_at,
                        eject_at, eject_reason, metadata)
  VALUES (p_company, p_event, v_user.id, p_registrant, p_credential_type, p_jti, p_issued_at, p_expires_at,
          p_role_grant, v_role, p_now, p_now, p_eject_at, p_eject_reason, p_metadata)
  RETURNING * INTO v_s;

  -- Last: from here to COMMIT the stripe is held for every other creation in the company.
  IF v_created AND NOT admit_take_seat(p_company) THEN
    RAISE EXCEPTION 'SEAT_LIMIT_REACHED' USING ERRCODE = 'AD001';
  END IF;

  id := v_s.id; company_id := v_s.company_id; event_id := v_s.event_id; user_id := v_s.user_id;
  registrant_id := v_s.registrant_id; credential_type := v_s.credential_type; credential_jti := v_s.credential_jti;
  credential_issued_at := v_s.credential_issued_at; credential_expires_at := v_s.credential_expires_at;
  role_grant := v_s.role_grant; role := v_s.role; joined_at := v_s.joined_at; last_seen_at := v_s.last_seen_at;
  ended_at := v_s.ended_at; end_reason := v_s.end_reason; eject_at := v_s.eject_at; eject_reason := v_s.eject_reason;
  metadata := v_s.metadata; user_created := v_created;
  RETURN NEXT;
END $$;
`;

const BACKFILL = `
UPDATE users u SET created_via = CASE
    WHEN EXISTS (SELECT 1 FROM registrants g WHERE g.user_id = u.id) AND u.external_id IS NULL THEN 'REGISTRATION'
    WHEN u.is_guest THEN 'GUEST'
    ELSE 'API' END
 WHERE u.is_guest OR u.external_id IS NULL`;

export class UserLifeAndRolePermissions1796549106376 implements MigrationInterface {
  name = "UserLifeAndRolePermissions1796549106376";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "erased_subjects" (
        "company_id" uuid NOT NULL,
        "digest" character(64) NOT NULL,
        "print" integer NOT NULL,
        "erased_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        CONSTRAINT "PK_a7f52de7125cb8a2b75628fda9a" PRIMARY KEY ("company_id", "digest")
      )
    `);
    await queryRunner.query(`ALTER TABLE "companies" ADD "role_permissions" jsonb`);
    await queryRunner.query(`ALTER TABLE "companies" ADD "session_token_audience" character varying(2048)`);
    await queryRunner.query(`ALTER TABLE "users" ADD "created_via" character varying(16) NOT NULL DEFAULT 'API'`);
    await queryRunner.query(`ALTER TABLE "users" ADD "suspended_at" TIMESTAMP(3) WITH TIME ZONE`);
    await queryRunner.query(`ALTER TABLE "users" ADD "deleted_at" TIMESTAMP(3) WITH TIME ZONE`);
    await queryRunner.query(`
      CREATE INDEX "idx_users_created_via" ON "users" ("company_id", "created_via", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_users_suspended" ON "users" ("suspended_at") WHERE suspended_at IS NOT NULL
    `);
    await queryRunner.query(BACKFILL);
    await queryRunner.query(`
      DROP FUNCTION admit_join(uuid, uuid, timestamptz, integer, integer, text, uuid, text, jsonb, uuid,
        text, text, timestamptz, timestamptz, text, timestamptz, text, jsonb, boolean)
    `);
    await queryRunner.query(ADMIT_JOIN);
    await queryRunner.query(`
      ALTER TABLE "erased_subjects" ADD CONSTRAINT "FK_b1ab1d78005a9d9e51b9075b68f"
        FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      DROP FUNCTION admit_join(uuid, uuid, timestamptz, integer, integer, text, uuid, text, jsonb, uuid,
        text, text, timestamptz, timestamptz, text, timestamptz, text, jsonb, boolean, text)
    `);
    await queryRunner.query(PREVIOUS_ADMIT_JOIN);
    await queryRunner.query(`ALTER TABLE "erased_subjects" DROP CONSTRAINT "FK_b1ab1d78005a9d9e51b9075b68f"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_created_via"`);
    await queryRunner.query(`DROP INDEX "public"."idx_users_suspended"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "deleted_at"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "suspended_at"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "created_via"`);
    await queryRunner.query(`ALTER TABLE "companies" DROP COLUMN "session_token_audience"`);
    await queryRunner.query(`ALTER TABLE "companies" DROP COLUMN "role_permissions"`);
    await queryRunner.query(`DROP TABLE "erased_subjects"`);
  }
}
