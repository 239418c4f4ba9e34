import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * A join in one statement, and no single hot row for it.
 *
 * admit_join() does in one round trip what joinEvent did in nine statements inside a transaction:
 * it finds or creates the user, applies the event's duplicate-session policy, checks the capacity
 * and inserts the session. Verification and the credential's rules stay in TypeScript; the writes
 * happen together, under the same locks as before (the event's row when it has a capacity, an
 * advisory lock per person otherwise). Refusals are raised with SQLSTATE AD001 and the error code
 * as the message; the caller maps them to its errors, and the statement changes nothing.
 *
 * Seats: a new user no longer increments companies.seats_used, a row every creation in the company
 * queued on until COMMIT. seat_stripes splits the count over 16 rows; a creation takes any stripe
 * no one else holds (SKIP LOCKED), and waits only when every stripe with room is held. With a seat
 * limit, each stripe has a cap and the caps sum to the limit, so the limit stays exact; a change
 * of limit locks every stripe and hands out the remaining room again. Seats in use =
 * companies.seats_used (what was counted before) + the stripes.
 *
 * Capacity: event_occupancy counts the not-ended sessions of each event with a capacity, kept by
 * row triggers on sessions, so a join no longer counts the event's sessions (thousands, at the
 * busiest minute). A join that finds the event full writes down the sessions a time limit has
 * already ended (idle, ejected) and looks again, so a stale session never keeps anyone out.
 *
 * A guest's session that never sent its first heartbeat idles out after the company's
 * first_heartbeat_window_seconds (default 2 minutes) and ends as NO_HEARTBEAT, attending nothing:
 * joins that never come alive (bots) give their place back long before the inactivity window.
 *
 * No join sweeps the whole event any more: a session past its limits is not counted live by the
 * policy check (this person's are written down first), and each node's sweep writes the rest.
 */

const UP = String.raw`
-- Seats ------------------------------------------------------------------------------------------

-- Takes one seat for a new user of the company; false when the seat limit is reached.
CREATE FUNCTION admit_take_seat(p_company uuid) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  v_stripe smallint;
BEGIN
  SELECT s.stripe INTO v_stripe FROM seat_stripes s
   WHERE s.company_id = p_company AND (s.cap IS NULL OR s.used < s.cap)
   ORDER BY random() LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    -- Every stripe with room is held by a creation still running, or none has room: wait for the
    -- first one; if it filled up meanwhile the next is tried, and none left means the limit.
    SELECT s.stripe INTO v_stripe FROM seat_stripes s
     WHERE s.company_id = p_company AND (s.cap IS NULL OR s.used < s.cap)
     ORDER BY s.stripe LIMIT 1 FOR UPDATE;
    IF NOT FOUND THEN RETURN false; END IF;
  END IF;
  UPDATE seat_stripes s SET used = s.used + 1 WHERE s.company_id = p_company AND s.stripe = v_stripe;
  RETURN true;
END $$;

CREATE FUNCTION admit_seats_used(p_company uuid) RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT c.seats_used + COALESCE((SELECT sum(s.used)::integer FROM seat_stripes s WHERE s.company_id = c.id), 0)
    FROM companies c WHERE c.id = p_company
$$;

-- A new company gets its stripes; a new seat limit is spread over them as caps. Locking every
-- stripe first waits for the creations in flight, so the count the caps start from is exact.
CREATE FUNCTION admit_seat_stripes_of_company() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_used integer;
  v_room integer;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO seat_stripes (company_id, stripe) SELECT NEW.id, g FROM generate_series(0, 15) g;
  ELSIF NEW.seat_limit IS NOT DISTINCT FROM OLD.seat_limit THEN
    RETURN NULL;
  END IF;
  PERFORM 1 FROM seat_stripes s WHERE s.company_id = NEW.id FOR UPDATE;
  IF NEW.seat_limit IS NULL THEN
    UPDATE seat_stripes s SET cap = NULL WHERE s.company_id = NEW.id;
  ELSE
    SELECT NEW.seats_used + COALESCE(sum(s.used), 0) INTO v_used FROM seat_stripes s WHERE s.company_id = NEW.id;
    v_room := GREATEST(NEW.seat_limit - v_used, 0);
    UPDATE seat_stripes s SET cap = s.used + v_room / 16 + CASE WHEN s.stripe < v_room % 16 THEN 1 ELSE 0 END
     WHERE s.company_id = NEW.id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER admit_seat_stripes AFTER INSERT OR UPDATE OF seat_limit ON companies
  FOR EACH ROW EXECUTE FUNCTION admit_seat_stripes_of_company();

INSERT INTO seat_stripes (company_id, stripe, cap)
SELECT c.id, g, CASE WHEN c.seat_limit IS NULL THEN NULL
                     ELSE GREATEST(c.seat_limit - c.seats_used, 0) / 16
                          + CASE WHEN g < GREATEST(c.seat_limit - c.seats_used, 0) % 16 THEN 1 ELSE 0 END END
  FROM companies c, generate_series(0, 15) g;

-- Capacity ---------------------------------------------------------------------------------------

-- An event given a capacity starts counting; FOR UPDATE waits for the joins in flight (their
-- session's foreign key holds the event's row in KEY SHARE), so the count it starts from is exact.
CREATE FUNCTION admit_occupancy_of_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.capacity IS NULL THEN
    DELETE FROM event_occupancy o WHERE o.event_id = NEW.id;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO event_occupancy (event_id, live) VALUES (NEW.id, 0);
  ELSIF NOT EXISTS (SELECT 1 FROM event_occupancy o WHERE o.event_id = NEW.id) THEN
    PERFORM 1 FROM events e WHERE e.id = NEW.id FOR UPDATE;
    INSERT INTO event_occupancy (event_id, live)
    SELECT NEW.id, count(*) FROM sessions s WHERE s.event_id = NEW.id AND s.ended_at IS NULL;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER admit_event_occupancy AFTER INSERT OR UPDATE OF capacity ON events
  FOR EACH ROW EXECUTE FUNCTION admit_occupancy_of_event();

CREATE FUNCTION admit_occupancy_of_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE event_occupancy o SET live = o.live + 1 WHERE o.event_id = NEW.event_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE event_occupancy o SET live = o.live - 1 WHERE o.event_id = OLD.event_id;
  ELSIF NEW.ended_at IS NULL THEN
    UPDATE event_occupancy o SET live = o.live + 1 WHERE o.event_id = NEW.event_id;
  ELSE
    UPDATE event_occupancy o SET live = o.live - 1 WHERE o.event_id = NEW.event_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER admit_occupancy_inserted AFTER INSERT ON sessions
  FOR EACH ROW WHEN (NEW.ended_at IS NULL) EXECUTE FUNCTION admit_occupancy_of_session();
CREATE TRIGGER admit_occupancy_updated AFTER UPDATE OF ended_at ON sessions
  FOR EACH ROW WHEN ((OLD.ended_at IS NULL) <> (NEW.ended_at IS NULL)) EXECUTE FUNCTION admit_occupancy_of_session();
CREATE TRIGGER admit_occupancy_deleted AFTER DELETE ON sessions
  FOR EACH ROW WHEN (OLD.ended_at IS NULL) EXECUTE FUNCTION admit_occupancy_of_session();

INSERT INTO event_occupancy (event_id, live)
SELECT e.id, (SELECT count(*) FROM sessions s WHERE s.event_id = e.id AND s.ended_at IS NULL)
  FROM events e WHERE e.capacity IS NOT NULL;

-- The join -------------------------------------------------------------------------------------

-- When a live session idles out: its inactivity window after its last heartbeat, or the (shorter)
-- first-heartbeat window after its join for a guest that never sent one (ends as NO_HEARTBEAT).
CREATE FUNCTION admit_idle_at(p_never_beaten boolean, p_last_seen_at timestamptz, p_idle interval, p_first interval)
RETURNS timestamptz LANGUAGE sql IMMUTABLE AS $$
  SELECT p_last_seen_at + CASE WHEN p_never_beaten THEN p_first ELSE p_idle END
$$;

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

const DOWN = String.raw`
DROP FUNCTION admit_join(uuid, uuid, timestamptz, integer, integer, text, uuid, text, jsonb, uuid, text, text,
                         timestamptz, timestamptz, text, timestamptz, text, jsonb, boolean);
DROP FUNCTION admit_idle_at(boolean, timestamptz, interval, interval);
DROP TRIGGER admit_occupancy_deleted ON sessions;
DROP TRIGGER admit_occupancy_updated ON sessions;
DROP TRIGGER admit_occupancy_inserted ON sessions;
DROP FUNCTION admit_occupancy_of_session();
DROP TRIGGER admit_event_occupancy ON events;
DROP FUNCTION admit_occupancy_of_event();
UPDATE companies c SET seats_used = admit_seats_used(c.id);
DROP TRIGGER admit_seat_stripes ON companies;
DROP FUNCTION admit_seat_stripes_of_company();
DROP FUNCTION admit_seats_used(uuid);
DROP FUNCTION admit_take_seat(uuid);
`;

export class JoinInOneStatement1796537675106 implements MigrationInterface {
  name = "JoinInOneStatement1796537675106";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "seat_stripes" (
        "company_id" uuid NOT NULL,
        "stripe" smallint NOT NULL,
        "used" integer NOT NULL DEFAULT '0',
        "cap" integer,
        CONSTRAINT "PK_858ed4d6f4c1ab7451b124875c7" PRIMARY KEY ("company_id", "stripe")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "event_occupancy" (
        "event_id" uuid NOT NULL,
        "live" integer NOT NULL DEFAULT '0',
        CONSTRAINT "PK_b9e969d6fec7689e7456b7435fd" PRIMARY KEY ("event_id")
      )
    `);
    await queryRunner.query(`ALTER TABLE "registrants" ADD "email_verified" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(`
      ALTER TABLE "companies" ADD "first_heartbeat_window_seconds" integer NOT NULL DEFAULT '120'
    `);
    await queryRunner.query(`
      ALTER TABLE "seat_stripes" ADD CONSTRAINT "FK_a28bcb503ced8930d7863035724"
        FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_occupancy" ADD CONSTRAINT "FK_b9e969d6fec7689e7456b7435fd"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`CREATE INDEX "idx_users_tokens_revoked" ON "users" ("tokens_revoked_before")
      WHERE tokens_revoked_before IS NOT NULL AND external_id IS NOT NULL`);
    await queryRunner.query(UP);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(DOWN);
    await queryRunner.query(`DROP INDEX "public"."idx_users_tokens_revoked"`);
    await queryRunner.query(`ALTER TABLE "event_occupancy" DROP CONSTRAINT "FK_b9e969d6fec7689e7456b7435fd"`);
    await queryRunner.query(`ALTER TABLE "seat_stripes" DROP CONSTRAINT "FK_a28bcb503ced8930d7863035724"`);
    await queryRunner.query(`ALTER TABLE "companies" DROP COLUMN "first_heartbeat_window_seconds"`);
    await queryRunner.query(`ALTER TABLE "registrants" DROP COLUMN "email_verified"`);
    await queryRunner.query(`DROP TABLE "event_occupancy"`);
    await queryRunner.query(`DROP TABLE "seat_stripes"`);
  }
}
