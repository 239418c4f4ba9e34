import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Outgoing webhooks: a transactional outbox written by row triggers.
 *
 * Each reported change (a session started, ended or changed role; a registration made or
 * cancelled; a knock made or decided; a user created; an event ended) inserts one
 * webhook_messages row in the transaction that makes it, so a rolled-back join sends nothing and
 * a committed one is never lost. The trigger first reads the company's webhook_subscriptions row
 * (one primary-key lookup; kept by a trigger on webhook_endpoints): a company that listens to
 * nothing, or not to this type, pays that lookup and writes nothing. The join (admit_join) is
 * unchanged: its INSERT into sessions fires the trigger, so it stays one round trip.
 *
 * A message wakes the delivery workers through the change feed (pg_notify on admit_changes,
 * delivered at COMMIT, never for a rollback). The payload builders are functions of their own so
 * that a later migration can add a field with CREATE OR REPLACE.
 */
const UP = String.raw`
-- ISO 8601 in UTC with milliseconds, as the API's DateTime shows instants.
CREATE FUNCTION admit_webhook_iso(p_at timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- Which types anyone in the company listens to: enabled endpoints only.
CREATE FUNCTION admit_webhook_subscriptions_of_endpoint() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_company uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.company_id ELSE NEW.company_id END;
  v_types text[];
BEGIN
  SELECT array_agg(DISTINCT t ORDER BY t) INTO v_types
    FROM webhook_endpoints e, unnest(e.event_types) t
   WHERE e.company_id = v_company AND e.disabled_at IS NULL;
  IF v_types IS NULL THEN
    DELETE FROM webhook_subscriptions w WHERE w.company_id = v_company;
  ELSE
    INSERT INTO webhook_subscriptions (company_id, event_types) VALUES (v_company, v_types)
    ON CONFLICT (company_id) DO UPDATE SET event_types = EXCLUDED.event_types;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER admit_webhook_subscriptions AFTER INSERT OR DELETE OR UPDATE OF event_types, disabled_at ON webhook_endpoints
  FOR EACH ROW EXECUTE FUNCTION admit_webhook_subscriptions_of_endpoint();

-- The one outbox write, and the wake-up (identical notifications of a transaction fold into one).
CREATE FUNCTION admit_webhook_emit(p_company uuid, p_type text, p_ordering_key text, p_user uuid, p_data jsonb, p_at timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO webhook_messages (company_id, type, ordering_key, user_id, data, occurred_at)
  VALUES (p_company, p_type, p_ordering_key, p_user, p_data, COALESCE(p_at, now()));
  PERFORM pg_notify('admit_changes', 'webhook:');
END $$;

-- A user as payloads name it, with how the user came to exist (createdVia).
CREATE FUNCTION admit_webhook_user(p_user users) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('id', p_user.id, 'externalId', p_user.external_id, 'name', p_user.name,
                            'email', p_user.email, 'isGuest', p_user.is_guest, 'createdVia', p_user.created_via,
                            'createdAt', admit_webhook_iso(p_user.created_at))
$$;

CREATE FUNCTION admit_webhook_session(p_session sessions) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('sessionId', p_session.id, 'eventId', p_session.event_id, 'userId', p_session.user_id,
                            'registrantId', p_session.registrant_id, 'role', p_session.role,
                            'credentialType', p_session.credential_type, 'joinedAt', admit_webhook_iso(p_session.joined_at),
                            'user', (SELECT admit_webhook_user(u) FROM users u WHERE u.id = p_session.user_id))
$$;

CREATE FUNCTION admit_webhook_of_session() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_types text[];
BEGIN
  SELECT w.event_types INTO v_types FROM webhook_subscriptions w WHERE w.company_id = NEW.company_id;
  IF v_types IS NULL THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' THEN
    IF 'session.started' = ANY (v_types) THEN
      PERFORM admit_webhook_emit(NEW.company_id, 'session.started', NEW.event_id::text, NEW.user_id,
                                 admit_webhook_session(NEW), NEW.joined_at);
    END IF;
    RETURN NULL;
  END IF;
  IF OLD.role IS DISTINCT FROM NEW.role AND 'session.role_changed' = ANY (v_types) THEN
    PERFORM admit_webhook_emit(NEW.company_id, 'session.role_changed', NEW.event_id::text, NEW.user_id,
                               admit_webhook_session(NEW) || jsonb_build_object('previousRole', OLD.role), now());
  END IF;
  IF OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL AND 'session.ended' = ANY (v_types) THEN
    PERFORM admit_webhook_emit(NEW.company_id, 'session.ended', NEW.event_id::text, NEW.user_id,
                               admit_webhook_session(NEW) || jsonb_build_object('endReason', NEW.end_reason,
                                 'endedAt', admit_webhook_iso(NEW.ended_at)), NEW.ended_at);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER admit_webhook_session_started AFTER INSERT ON sessions
  FOR EACH ROW EXECUTE FUNCTION admit_webhook_of_session();
-- Heartbeats update last_seen_at on every session every 30 s: the WHEN keeps them out.
CREATE TRIGGER admit_webhook_session_changed AFTER UPDATE OF ended_at, role ON sessions
  FOR EACH ROW WHEN ((OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL) OR OLD.role IS DISTINCT FROM NEW.role)
  EXECUTE FUNCTION admit_webhook_of_session();

CREATE FUNCTION admit_webhook_registrant(p_registrant registrants) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('registrantId', p_registrant.id, 'eventId', p_registrant.event_id, 'userId', p_registrant.user_id,
                            'name', p_registrant.name, 'email', p_registrant.email, 'emailVerified', p_registrant.email_verified,
                            'createdAt', admit_webhook_iso(p_registrant.created_at),
                            'cancelledAt', admit_webhook_iso(p_registrant.cancelled_at))
$$;

CREATE FUNCTION admit_webhook_of_registrant() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_types text[];
BEGIN
  SELECT w.event_types INTO v_types FROM webhook_subscriptions w WHERE w.company_id = NEW.company_id;
  IF v_types IS NULL THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' AND 'registrant.created' = ANY (v_types) THEN
    PERFORM admit_webhook_emit(NEW.company_id, 'registrant.created', NEW.event_id::text, NEW.user_id,
                               admit_webhook_registrant(NEW), NEW.created_at);
  ELSIF TG_OP = 'UPDATE' AND 'registrant.cancelled' = ANY (v_types) THEN
    PERFORM admit_webhook_emit(NEW.company_id, 'registrant.cancelled', NEW.event_id::text, NEW.user_id,
                               admit_webhook_registrant(NEW), NEW.cancelled_at);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER admit_webhook_registrant_created AFTER INSERT ON registrants
  FOR EACH ROW EXECUTE FUNCTION admit_webhook_of_registrant();
CREATE TRIGGER admit_webhook_registrant_cancelled AFTER UPDATE OF cancelled_at ON registrants
  FOR EACH ROW WHEN (OLD.cancelled_at IS NULL AND NEW.cancelled_at IS NOT NULL)
  EXECUTE FUNCTION admit_webhook_of_registrant();

CREATE FUNCTION admit_webhook_join_request(p_request join_requests) RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT jsonb_build_object('joinRequestId', p_request.id, 'eventId', p_request.event_id, 'name', p_request.name,
                            'email', p_request.email, 'status', p_request.status, 'role', p_request.role,
                            'denyReason', p_request.deny_reason, 'createdAt', admit_webhook_iso(p_request.created_at),
                            'expiresAt', admit_webhook_iso(p_request.expires_at), 'decidedAt', admit_webhook_iso(p_request.decided_at))
$$;

CREATE FUNCTION admit_webhook_of_join_request() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_types text[];
BEGIN
  SELECT w.event_types INTO v_types FROM webhook_subscriptions w WHERE w.company_id = NEW.company_id;
  IF v_types IS NULL THEN RETURN NULL; END IF;
  IF TG_OP = 'INSERT' AND 'join_request.created' = ANY (v_types) THEN
    PERFORM admit_webhook_emit(NEW.company_id, 'join_request.created', NEW.event_id::text, NULL,
                               admit_webhook_join_request(NEW), NEW.created_at);
  ELSIF TG_OP = 'UPDATE' AND 'join_request.decided' = ANY (v_types) THEN
    PERFORM admit_webhook_emit(NEW.company_id, 'join_request.decided', NEW.event_id::text, NULL,
                               admit_webhook_join_request(NEW), NEW.decided_at);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER admit_webhook_join_request_created AFTER INSERT ON join_requests
  FOR EACH ROW EXECUTE FUNCTION admit_webhook_of_join_request();
CREATE TRIGGER admit_webhook_join_request_decided AFTER UPDATE OF status ON join_requests
  FOR EACH ROW WHEN (OLD.status = 'PENDING' AND NEW.status IN ('APPROVED', 'DENIED'))
  EXECUTE FUNCTION admit_webhook_of_join_request();

CREATE FUNCTION admit_webhook_of_user() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_types text[];
BEGIN
  SELECT w.event_types INTO v_types FROM webhook_subscriptions w WHERE w.company_id = NEW.company_id;
  IF v_types IS NULL OR NOT 'user.created' = ANY (v_types) THEN RETURN NULL; END IF;
  PERFORM admit_webhook_emit(NEW.company_id, 'user.created', 'user:' || NEW.id, NEW.id,
                             jsonb_build_object('userId', NEW.id, 'user', admit_webhook_user(NEW)), NEW.created_at);
  RETURN NULL;
END $$;

CREATE TRIGGER admit_webhook_user_created AFTER INSERT ON users
  FOR EACH ROW EXECUTE FUNCTION admit_webhook_of_user();

CREATE FUNCTION admit_webhook_of_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_types text[];
BEGIN
  SELECT w.event_types INTO v_types FROM webhook_subscriptions w WHERE w.company_id = NEW.company_id;
  IF v_types IS NULL OR NOT 'event.ended' = ANY (v_types) THEN RETURN NULL; END IF;
  PERFORM admit_webhook_emit(NEW.company_id, 'event.ended', NEW.id::text, NULL,
                             jsonb_build_object('eventId', NEW.id, 'slug', NEW.slug, 'name', NEW.name,
                                                'startsAt', admit_webhook_iso(NEW.starts_at), 'endsAt', admit_webhook_iso(NEW.ends_at),
                                                'endedAt', admit_webhook_iso(NEW.ended_at)), NEW.ended_at);
  RETURN NULL;
END $$;

CREATE TRIGGER admit_webhook_event_ended AFTER UPDATE OF ended_at ON events
  FOR EACH ROW WHEN (OLD.ended_at IS NULL AND NEW.ended_at IS NOT NULL)
  EXECUTE FUNCTION admit_webhook_of_event();
`;

const DOWN = String.raw`
DROP TRIGGER admit_webhook_event_ended ON events;
DROP FUNCTION admit_webhook_of_event();
DROP TRIGGER admit_webhook_user_created ON users;
DROP FUNCTION admit_webhook_of_user();
DROP TRIGGER admit_webhook_join_request_decided ON join_requests;
DROP TRIGGER admit_webhook_join_request_created ON join_requests;
DROP FUNCTION admit_webhook_of_join_request();
DROP FUNCTION admit_webhook_join_request(join_requests);
DROP TRIGGER admit_webhook_registrant_cancelled ON registrants;
DROP TRIGGER admit_webhook_registrant_created ON registrants;
DROP FUNCTION admit_webhook_of_registrant();
DROP FUNCTION admit_webhook_registrant(registrants);
DROP TRIGGER admit_webhook_session_changed ON sessions;
DROP TRIGGER admit_webhook_session_started ON sessions;
DROP FUNCTION admit_webhook_of_session();
DROP FUNCTION admit_webhook_session(sessions);
DROP FUNCTION admit_webhook_user(users);
DROP FUNCTION admit_webhook_emit(uuid, text, text, uuid, jsonb, timestamptz);
DROP TRIGGER admit_webhook_subscriptions ON webhook_endpoints;
DROP FUNCTION admit_webhook_subscriptions_of_endpoint();
DROP FUNCTION admit_webhook_iso(timestamptz);
`;


export class Webhooks1796549111891 implements MigrationInterface {
  name = "Webhooks1796549111891";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "webhook_endpoints" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "url" character varying(2048) NOT NULL,
        "description" character varying(500),
        "event_types" text array NOT NULL,
        "secret_encrypted" text NOT NULL,
        "previous_secret_encrypted" text,
        "previous_secret_expires_at" TIMESTAMP(3) WITH TIME ZONE,
        "disabled_at" TIMESTAMP(3) WITH TIME ZONE,
        "disabled_reason" character varying(500),
        "failing_since" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        CONSTRAINT "PK_054c4cfb95223732f5939d2d546" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_e3b6b6987af1570adcaa784cea"
        ON "webhook_endpoints" ("company_id", "created_at", "id")
    `);
    await queryRunner.query(`
      CREATE TABLE "webhook_subscriptions" (
        "company_id" uuid NOT NULL,
        "event_types" text array NOT NULL,
        CONSTRAINT "PK_e001b852c04f06a030ce45ffa22" PRIMARY KEY ("company_id")
      )
    `);
    await queryRunner.query(`
      CREATE TABLE "webhook_messages" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "seq" BIGSERIAL NOT NULL,
        "company_id" uuid NOT NULL,
        "type" character varying(40) NOT NULL,
        "ordering_key" character varying(80) NOT NULL,
        "user_id" uuid,
        "data" jsonb NOT NULL,
        "occurred_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "fanned_out" boolean NOT NULL DEFAULT false,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(),
        CONSTRAINT "PK_526e8e1655924920adc4cd30dcd" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_webhook_messages_user" ON "webhook_messages" ("user_id") WHERE user_id IS NOT NULL
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_webhook_messages_unfanned" ON "webhook_messages" ("seq") WHERE NOT fanned_out
    `);
    await queryRunner.query(`
      CREATE TABLE "webhook_deliveries" (
        "id" uuid NOT NULL DEFAULT gen_random_uuid(),
        "company_id" uuid NOT NULL,
        "endpoint_id" uuid NOT NULL,
        "message_id" uuid NOT NULL,
        "seq" bigint NOT NULL,
        "ordering_key" character varying(80) NOT NULL,
        "status" character varying(16) NOT NULL DEFAULT 'PENDING',
        "attempts" integer NOT NULL DEFAULT '0',
        "next_attempt_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "locked_until" TIMESTAMP(3) WITH TIME ZONE,
        "last_attempt_at" TIMESTAMP(3) WITH TIME ZONE,
        "last_response_code" integer,
        "last_error" character varying(300),
        "delivered_at" TIMESTAMP(3) WITH TIME ZONE,
        "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        CONSTRAINT "PK_535dd409947fb6d8fc6dfc0112a" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_webhook_deliveries_pending_order"
        ON "webhook_deliveries" ("endpoint_id", "ordering_key", "seq") WHERE status = 'PENDING'
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_webhook_deliveries_due" ON "webhook_deliveries" ("next_attempt_at")
        WHERE status = 'PENDING'
    `);
    await queryRunner.query(`
      CREATE INDEX "IDX_3f867d0adaf5ef6a96eb4cccde"
        ON "webhook_deliveries" ("endpoint_id", "created_at", "id")
    `);
    await queryRunner.query(`
      ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "FK_66f1850cec1e3e62a1988f78e6d"
        FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_0b882c26a9b91c26e6e86b4867c"
        FOREIGN KEY ("endpoint_id") REFERENCES "webhook_endpoints"("id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "FK_35330ff895962f7bd8a46c18177"
        FOREIGN KEY ("message_id") REFERENCES "webhook_messages"("id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(UP);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(DOWN);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "FK_35330ff895962f7bd8a46c18177"`);
    await queryRunner.query(`ALTER TABLE "webhook_deliveries" DROP CONSTRAINT "FK_0b882c26a9b91c26e6e86b4867c"`);
    await queryRunner.query(`ALTER TABLE "webhook_endpoints" DROP CONSTRAINT "FK_66f1850cec1e3e62a1988f78e6d"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_3f867d0adaf5ef6a96eb4cccde"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_deliveries_due"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_deliveries_pending_order"`);
    await queryRunner.query(`DROP TABLE "webhook_deliveries"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_messages_unfanned"`);
    await queryRunner.query(`DROP INDEX "public"."idx_webhook_messages_user"`);
    await queryRunner.query(`DROP TABLE "webhook_messages"`);
    await queryRunner.query(`DROP TABLE "webhook_subscriptions"`);
    await queryRunner.query(`DROP INDEX "public"."IDX_e3b6b6987af1570adcaa784cea"`);
    await queryRunner.query(`DROP TABLE "webhook_endpoints"`);
  }
}
