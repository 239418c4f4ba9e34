-- company_attendees: per company and user, how many of the company's events the user attends
-- (has an attendance_rollups row with an ended session), so that companyAnalytics counts its
-- distinct attendees over the whole range from one row per user instead of the union of every
-- event's rows. A statement trigger on attendance_rollups keeps it in the writer's transaction:
-- only a user's own row is written, so busy events do not queue on a shared row. The placeholder
-- rows analytics_refresh_attendance inserts and deletes for a live session (no ended session)
-- have no session and write nothing here.
--
-- The current definitions; the migrations installed them (see README.md).

-- Adds n to the counts of (company, user) pairs (n < 0 takes away); pairs left at zero go. Rows
-- are locked in key order first, so two writers sharing users never wait for each other in a
-- cycle.
CREATE OR REPLACE FUNCTION analytics_add_company_attendees(company_ids uuid[], user_ids uuid[], deltas integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(company_ids), 0) = 0 THEN RETURN; END IF;
  -- Only pairs that gain: a company being deleted loses its rows, and must get none back.
  INSERT INTO company_attendees (company_id, user_id, events)
  SELECT p.c, p.u, 0 FROM unnest(company_ids, user_ids, deltas) AS p(c, u, n) GROUP BY 1, 2 HAVING sum(p.n) > 0
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM company_attendees t
    JOIN (SELECT DISTINCT c, u FROM unnest(company_ids, user_ids) AS p(c, u)) p ON t.company_id = p.c AND t.user_id = p.u
   ORDER BY t.company_id, t.user_id FOR UPDATE OF t;
  UPDATE company_attendees t SET events = t.events + d.n
    FROM (SELECT c, u, sum(n)::int AS n FROM unnest(company_ids, user_ids, deltas) AS p(c, u, n) GROUP BY 1, 2) d
   WHERE t.company_id = d.c AND t.user_id = d.u;
  DELETE FROM company_attendees t USING unnest(company_ids, user_ids) AS p(c, u)
   WHERE t.company_id = p.c AND t.user_id = p.u AND t.events <= 0;
END $$;

-- After any statement on attendance_rollups: per (company, user), the rows with a session it
-- added minus those it took away. A refresh rewrites rows whose count does not change: those net
-- out, and most statements write nothing here.
CREATE OR REPLACE FUNCTION analytics_company_attendees_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  c uuid[]; u uuid[]; n integer[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(company_id), array_agg(user_id), array_agg(k) INTO c, u, n
      FROM (SELECT company_id, user_id, count(*)::int AS k FROM new_rows WHERE sessions > 0 GROUP BY 1, 2) d;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(company_id), array_agg(user_id), array_agg(k) INTO c, u, n
      FROM (SELECT company_id, user_id, -count(*)::int AS k FROM old_rows WHERE sessions > 0 GROUP BY 1, 2) d;
  ELSE
    SELECT array_agg(company_id), array_agg(user_id), array_agg(k) INTO c, u, n
      FROM (SELECT company_id, user_id, sum(sign)::int AS k FROM (
              SELECT 1 AS sign, company_id, user_id FROM new_rows WHERE sessions > 0
              UNION ALL
              SELECT -1, company_id, user_id FROM old_rows WHERE sessions > 0) x
             GROUP BY 1, 2 HAVING sum(sign) <> 0) d;
  END IF;
  PERFORM analytics_add_company_attendees(c, u, n);
  RETURN NULL;
END $$;

CREATE TRIGGER analytics_company_attendees_inserted AFTER INSERT ON attendance_rollups
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_company_attendees_changed();

CREATE TRIGGER analytics_company_attendees_updated AFTER UPDATE ON attendance_rollups
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_company_attendees_changed();

CREATE TRIGGER analytics_company_attendees_deleted AFTER DELETE ON attendance_rollups
  REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION analytics_company_attendees_changed();
