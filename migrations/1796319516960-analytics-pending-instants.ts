import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Joins and session ends stop writing the activity rollups in their own transaction. Until now
 * every join of an event updated the same second and minute rows of session_second_rollups and
 * session_minute_rollups, under row locks held until its COMMIT: the joins of a busy event took
 * turns on those rows, whatever the number of nodes, and each paid for recomputing a minute.
 *
 * Now the trigger's instants that only add (a session joining, a session ending) are written to
 * analytics_pending_instants, one row each, shared with nobody. analytics_fold_pending() moves
 * what is pending into the rollups in one batch (each node calls it every second; any number of
 * callers take turns on an advisory lock). Readers add what is still pending (see analytics.sql.ts),
 * so answers stay exact. Instants that remove (a session deleted, a join or end time rewritten)
 * must meet the additions they undo: they fold everything pending first, then apply at once.
 *
 * The rollup writer keeps its code under the new name analytics_write_instants; the trigger
 * function is untouched and calls analytics_apply_instants, which now routes as above.
 */

const FOLD_LOCK_KEY = 726_473_913;

const UP = `
-- Rows come and go every second: vacuum after a few thousand dead ones, not after a fifth of the table.
ALTER TABLE analytics_pending_instants SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 5000,
                                            autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 5000);

ALTER FUNCTION analytics_apply_instants(uuid[], timestamptz[], boolean[], integer[]) RENAME TO analytics_write_instants;

-- Moves every pending instant that this statement sees into the rollups, in one batch. Callers
-- take turns; a caller that waited finds only what arrived meanwhile. Returns how many it moved.
CREATE FUNCTION analytics_fold_pending() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  d_events uuid[]; d_ats timestamptz[]; d_join boolean[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_instants) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(${FOLD_LOCK_KEY});
  WITH taken AS (DELETE FROM analytics_pending_instants RETURNING event_id, at, is_join)
  SELECT array_agg(event_id), array_agg(at), array_agg(is_join), count(*) INTO d_events, d_ats, d_join, n FROM taken;
  IF n > 0 THEN PERFORM analytics_write_instants(d_events, d_ats, d_join, array_fill(1, ARRAY[n])); END IF;
  RETURN n;
END $$;

-- The pending instants of some events, for readers. A PL/pgSQL function is never inlined, so the
-- planner takes its ROWS estimate (a second's worth is small) instead of the table's statistics,
-- which churn makes stale (a table deleted from every second looks big until it is vacuumed);
-- being STABLE, it reads with the calling statement's snapshot, so answers stay consistent.
CREATE FUNCTION analytics_pending_of(event_ids uuid[]) RETURNS TABLE (event_id uuid, at timestamptz, is_join boolean)
LANGUAGE plpgsql STABLE ROWS 10 AS $$
BEGIN
  RETURN QUERY SELECT p.event_id, p.at, p.is_join FROM analytics_pending_instants p WHERE p.event_id = ANY (event_ids);
END $$;

-- What a statement on sessions added or removed: additions wait for the next fold; removals
-- fold what is pending (the additions they undo may be there) and are written at once.
CREATE FUNCTION analytics_apply_instants(event_ids uuid[], ats timestamptz[], is_join boolean[], signs integer[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  IF -1 = ANY (signs) THEN
    -- The fold's lock first, whatever is pending: everything that writes the activity rollups
    -- takes it before their rows, so a fold and a removal never wait for each other's rows.
    PERFORM pg_advisory_xact_lock(${FOLD_LOCK_KEY});
    PERFORM analytics_fold_pending();
    PERFORM analytics_write_instants(event_ids, ats, is_join, signs);
  ELSE
    INSERT INTO analytics_pending_instants (event_id, at, is_join)
    SELECT u.e, u.at, u.j FROM unnest(event_ids, ats, is_join) AS u(e, at, j)
     WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e);
  END IF;
END $$;
`;

// Joins that queue an instant meanwhile wait for the table lock; what is pending is folded, then
// the writer takes its old name back, so later statements write the rollups directly again.
const DOWN = `
LOCK TABLE analytics_pending_instants IN EXCLUSIVE MODE;
SELECT analytics_fold_pending();
DROP FUNCTION analytics_apply_instants(uuid[], timestamptz[], boolean[], integer[]);
DROP FUNCTION analytics_fold_pending();
DROP FUNCTION analytics_pending_of(uuid[]);
ALTER FUNCTION analytics_write_instants(uuid[], timestamptz[], boolean[], integer[]) RENAME TO analytics_apply_instants;
`;

export class AnalyticsPendingInstants1796319516960 implements MigrationInterface {
  name = "AnalyticsPendingInstants1796319516960";

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "analytics_pending_instants" (
        "id" BIGSERIAL NOT NULL,
        "event_id" uuid NOT NULL,
        "at" TIMESTAMP(3) WITH TIME ZONE NOT NULL,
        "is_join" boolean NOT NULL,
        CONSTRAINT "PK_5a5fc3e8902bce6051ec49496c4" PRIMARY KEY ("id")
      )
    `);
    await queryRunner.query(`
      CREATE INDEX "idx_analytics_pending_instants_event_at"
        ON "analytics_pending_instants" ("event_id", "at")
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" ADD CONSTRAINT "FK_1658f8f4b6c2df9e7bf904dbbea"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(UP);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(DOWN);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" DROP CONSTRAINT "FK_1658f8f4b6c2df9e7bf904dbbea"
    `);
    await queryRunner.query(`DROP INDEX "public"."idx_analytics_pending_instants_event_at"`);
    await queryRunner.query(`DROP TABLE "analytics_pending_instants"`);
  }
}
