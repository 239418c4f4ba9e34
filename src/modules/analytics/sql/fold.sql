-- The fold: each node calls analytics_fold_pending() every second. It moves what statements
-- left pending (join and end instants, changes to the attendance sums and to the window counts)
-- into the rollups, in one batch per kind. The writers only append rows of their own to the
-- pending tables, so busy events do not queue on shared rollup rows; readers add what is still
-- pending, so answers stay exact.
--
-- 726473913 is the fold's advisory lock: every fold and every writer that removes instants takes
-- it before any rollup row, so callers take turns and never wait for each other's rows.
--
-- The current definition; the migrations installed it (see README.md).

-- Moves every pending row this statement sees into the rollups; returns how many instants it
-- moved (the attendance and window changes are folded first and not counted).
CREATE OR REPLACE FUNCTION analytics_fold_pending()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  d_events uuid[]; d_companies uuid[]; d_ats timestamptz[]; d_join boolean[]; n integer;
BEGIN
  PERFORM analytics_fold_attendance();
  PERFORM analytics_fold_windows();
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_instants) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(726473913);
  WITH taken AS (DELETE FROM analytics_pending_instants RETURNING event_id, company_id, at, is_join)
  SELECT array_agg(event_id), array_agg(company_id), array_agg(at), array_agg(is_join), count(*)
    INTO d_events, d_companies, d_ats, d_join, n FROM taken;
  IF n > 0 THEN PERFORM analytics_write_instants(d_events, d_companies, d_ats, d_join, array_fill(1, ARRAY[n])); END IF;
  RETURN n;
END $$;
