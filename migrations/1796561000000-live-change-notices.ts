import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Live push (GraphQL subscriptions): the changes a subscriber must hear of at once are announced
 * on the change feed (pg_notify on admit_changes, delivered at COMMIT, never for a rollback) by
 * row triggers, so that every path that makes them announces them, in the writer's transaction:
 *
 * - sessions: ended (kick, ban, supersede, sweep, event end, suspend, revoke), role or ejection
 *   time changed. "session:<event id>/<session id>". A heartbeat that only touches last_seen_at
 *   is kept out by the WHEN clause. A session's start is NOT announced: a notifying transaction
 *   takes PostgreSQL's database-wide notify lock at COMMIT and holds it through the commit, so a
 *   notification per join would line every join of every event up behind one another (the join
 *   bench halved). eventLive finds new sessions by reading (src/modules/live/event-watch.ts).
 * - join_requests: a knock made or decided. "join_request:<event id>/<id>".
 * - event_principals: the organizer or presenter lists of an event changed (a role may change
 *   without any session row being written). "event_principals:<event id>"; a transaction that
 *   changes many entries of one event sends it once (identical notifications fold).
 *
 * Ids only: the listening node reads the state itself, as the subscriber is allowed to see it.
 */
const UP = String.raw`
CREATE FUNCTION admit_live_notice_of_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('admit_changes', 'session:' || NEW.event_id || '/' || NEW.id);
  RETURN NULL;
END $$;

CREATE TRIGGER admit_live_session_changed AFTER UPDATE OF ended_at, role, eject_at ON sessions
  FOR EACH ROW WHEN (OLD.ended_at IS DISTINCT FROM NEW.ended_at OR OLD.role IS DISTINCT FROM NEW.role
                     OR OLD.eject_at IS DISTINCT FROM NEW.eject_at)
  EXECUTE FUNCTION admit_live_notice_of_session();

CREATE FUNCTION admit_live_notice_of_join_request() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('admit_changes', 'join_request:' || NEW.event_id || '/' || NEW.id);
  RETURN NULL;
END $$;

CREATE TRIGGER admit_live_join_request_changed AFTER INSERT OR UPDATE OF status ON join_requests
  FOR EACH ROW EXECUTE FUNCTION admit_live_notice_of_join_request();

CREATE FUNCTION admit_live_notice_of_event_principal() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('admit_changes', 'event_principals:' || CASE WHEN TG_OP = 'DELETE' THEN OLD.event_id ELSE NEW.event_id END);
  RETURN NULL;
END $$;

CREATE TRIGGER admit_live_event_principals_changed AFTER INSERT OR UPDATE OR DELETE ON event_principals
  FOR EACH ROW EXECUTE FUNCTION admit_live_notice_of_event_principal();
`;

const DOWN = String.raw`
DROP TRIGGER admit_live_event_principals_changed ON event_principals;
DROP FUNCTION admit_live_notice_of_event_principal();
DROP TRIGGER admit_live_join_request_changed ON join_requests;
DROP FUNCTION admit_live_notice_of_join_request();
DROP TRIGGER admit_live_session_changed ON sessions;
DROP FUNCTION admit_live_notice_of_session();
`;

export class LiveChangeNotices1796561000000 implements MigrationInterface {
  name = "LiveChangeNotices1796561000000";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(UP);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(DOWN);
  }
}
