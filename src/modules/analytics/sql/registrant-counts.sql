-- Live registrations per event (registrant_counts), so that analytics reads a row per event
-- instead of counting every registration. A statement trigger on registrants appends each
-- statement's changes to analytics_pending_registrants; analytics_fold_registrants, which every
-- node calls beside analytics_fold_pending each second, moves them into the counts; readers add
-- what is pending. As with the attendance sums, no registration waits for its event's row.
--
-- The current definitions; the migrations installed them (see README.md).

-- After any statement on registrants: per event, the live registrations it added minus those it
-- took away (a cancellation is an update), pending. Nothing for an event being deleted.
CREATE OR REPLACE FUNCTION analytics_registrant_counts_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO analytics_pending_registrants (company_id, event_id, registrants)
    SELECT d.company_id, d.event_id, d.n FROM (
      SELECT company_id, event_id, count(*)::int AS n FROM new_rows WHERE cancelled_at IS NULL GROUP BY 1, 2) d
     WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO analytics_pending_registrants (company_id, event_id, registrants)
    SELECT d.company_id, d.event_id, d.n FROM (
      SELECT company_id, event_id, -count(*)::int AS n FROM old_rows WHERE cancelled_at IS NULL GROUP BY 1, 2) d
     WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  ELSE
    INSERT INTO analytics_pending_registrants (company_id, event_id, registrants)
    SELECT d.company_id, d.event_id, d.n FROM (
      SELECT company_id, event_id, sum(sign)::int AS n FROM (
        SELECT 1 AS sign, company_id, event_id FROM new_rows WHERE cancelled_at IS NULL
        UNION ALL
        SELECT -1, company_id, event_id FROM old_rows WHERE cancelled_at IS NULL) x
       GROUP BY 1, 2 HAVING sum(sign) <> 0) d
     WHERE EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_registrant_counts_inserted AFTER INSERT ON registrants
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrant_counts_changed();

CREATE TRIGGER analytics_registrant_counts_updated AFTER UPDATE ON registrants
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrant_counts_changed();

CREATE TRIGGER analytics_registrant_counts_deleted AFTER DELETE ON registrants
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_registrant_counts_changed();

-- Moves the pending changes into the counts, in one batch, rows upserted in key order (two nodes
-- folding at once lock the counts they share in the same order). Counts back to zero go. Returns
-- how many pending rows it moved.
CREATE OR REPLACE FUNCTION analytics_fold_registrants()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  c uuid[]; e uuid[]; d integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_registrants) THEN RETURN 0; END IF;
  WITH taken AS (DELETE FROM analytics_pending_registrants RETURNING company_id, event_id, registrants),
  summed AS (SELECT company_id, event_id, sum(registrants)::int AS r, count(*) AS rows FROM taken GROUP BY 1, 2)
  SELECT array_agg(company_id ORDER BY company_id, event_id), array_agg(event_id ORDER BY company_id, event_id),
         array_agg(r ORDER BY company_id, event_id), coalesce(sum(rows), 0)
    INTO c, e, d, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO registrant_counts AS t (company_id, event_id, registrants)
  SELECT u.c, u.e, u.d FROM unnest(c, e, d) AS u(c, e, d) WHERE u.d <> 0
    AND EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e)
  ON CONFLICT (company_id, event_id) DO UPDATE SET registrants = t.registrants + EXCLUDED.registrants;
  DELETE FROM registrant_counts t USING unnest(c, e) AS u(c, e)
   WHERE t.company_id = u.c AND t.event_id = u.e AND t.registrants = 0;
  RETURN n;
END $$;
