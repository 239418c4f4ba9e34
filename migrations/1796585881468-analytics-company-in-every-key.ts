import { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The analytics tables join the rest in naming the company in every key, as a PostgreSQL
 * distributed by company (Citus) requires (docs/scaling-out.md): each gets a company_id, copied
 * from its event; it ends every primary key ((event_id, ..., company_id), or (id, company_id) for
 * the pending rows), so that lookups by event keep reading the same index; foreign keys to events
 * and users become (event_id, company_id) and (user_id, company_id), with their ON DELETE kept.
 *
 * The functions and triggers that write them carry company_id from the rows that start them
 * (sessions, registrants, users, attendance_rollups, the pending rows): no lookup is added per
 * row. Their sources are in src/modules/analytics/sql/; admit_occupancy_of_event and
 * admit_occupancy_of_session keep event_occupancy.
 */
export class AnalyticsCompanyInEveryKey1796585881468 implements MigrationInterface {
  name = "AnalyticsCompanyInEveryKey1796585881468";

  async up(queryRunner: QueryRunner): Promise<void> {
    // Every writer of the analytics rollups takes the fold's lock first: none runs until this commits.
    await queryRunner.query(`SELECT pg_advisory_xact_lock(726473913)`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_f92709da37fdc626cff2b926759"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_39c00119886bc1ab87f11b64b42"`);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" DROP CONSTRAINT "FK_4fee681baf47c3321909589b41f"`);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" DROP CONSTRAINT "FK_78ad99c1795d02850b61e5f2af2"`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" DROP CONSTRAINT "FK_03f2dde2a0011bd7b0baf1bba56"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_segments" DROP CONSTRAINT "FK_d9bf3832d730c2d9bf08750d526"`);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" DROP CONSTRAINT "FK_3e4fd0519457ecfb325f705df20"`);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" DROP CONSTRAINT "FK_0afaa98be80e67825de129df991"`);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" DROP CONSTRAINT "FK_0a6ae4088cc49274b8ab4a3dabe"`);
    await queryRunner.query(`ALTER TABLE "event_occupancy" DROP CONSTRAINT "FK_b9e969d6fec7689e7456b7435fd"`);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" DROP CONSTRAINT "FK_4d89507ecf5541f6a2eaa6515c5"`);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" DROP CONSTRAINT "FK_7b2d4b8cb469ce89403e759fcb4"`);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" DROP CONSTRAINT "FK_27e17a721e8b2ac8ffdfdf39615"`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" DROP CONSTRAINT "FK_1658f8f4b6c2df9e7bf904dbbea"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "attendance_event_rollups" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "attendance_value_rollups" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "analytics_pending_attendance" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "analytics_pending_attendance" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_attendance" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "attendance_segments" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "attendance_segments" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_segments" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "attendance_window_minutes" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "attendance_gap_cells" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "analytics_pending_windows" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "event_occupancy" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "event_occupancy" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "event_occupancy" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "session_second_rollups" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "session_minute_rollups" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "session_hour_rollups" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "analytics_pending_instants" ADD "company_id" uuid`);
    await queryRunner.query(`
      UPDATE "analytics_pending_instants" t SET "company_id" = e."company_id" FROM "events" e
        WHERE e."id" = t."event_id"
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_instants" ALTER COLUMN "company_id" SET NOT NULL`);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" DROP CONSTRAINT "PK_4fee681baf47c3321909589b41f"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_event_rollups" ADD CONSTRAINT "PK_f3c3b7f11612d2cd30a1da42801" PRIMARY KEY
        ("event_id", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" DROP CONSTRAINT "PK_e2a39ac55aa68020d5d87ac4e96"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_value_rollups" ADD CONSTRAINT "PK_2b43a5be3f42e016e60b505ee45" PRIMARY KEY
        ("event_id", "key", "value", "company_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" DROP CONSTRAINT "PK_6efa0dbcfb5c8f9710f5fda54fe"
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" ADD CONSTRAINT "PK_148fd6aa4ed027b8358540255e4" PRIMARY
        KEY ("id", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_segments" DROP CONSTRAINT "PK_e220e3e303b4ebe149986aa6500"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_segments" ADD CONSTRAINT "PK_4031fd5c8059a412765eab157ef" PRIMARY KEY
        ("event_id", "user_id", "family", "start_at", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" DROP CONSTRAINT "PK_19efd3f708f12f695c3c2d3d369"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_window_minutes" ADD CONSTRAINT "PK_ac6b6c5133c85eed6bff89d3070" PRIMARY KEY
        ("event_id", "family", "minute", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" DROP CONSTRAINT "PK_ada73dbb3246955383cdb9387c5"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_gap_cells" ADD CONSTRAINT "PK_8bcfe0867d3d78fa0d944d4a84f" PRIMARY KEY
        ("event_id", "family", "end_minute", "start_minute", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" DROP CONSTRAINT "PK_7c3deb82e503313dd2313c5938e"`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_windows" ADD CONSTRAINT "PK_392f9aa5c2d13f26b35527b0147" PRIMARY KEY
        ("id", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "event_occupancy" DROP CONSTRAINT "PK_b9e969d6fec7689e7456b7435fd"`);
    await queryRunner.query(`
      ALTER TABLE "event_occupancy" ADD CONSTRAINT "PK_c5c01481302bd1b2ad2199f0f64" PRIMARY KEY
        ("event_id", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" DROP CONSTRAINT "PK_ee0971fa900aee334a807f8c93f"`);
    await queryRunner.query(`
      ALTER TABLE "session_second_rollups" ADD CONSTRAINT "PK_9c299454a8a801bd11482e60c03" PRIMARY KEY
        ("event_id", "second", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" DROP CONSTRAINT "PK_c5e213cf41d9c414e1da727cdb2"`);
    await queryRunner.query(`
      ALTER TABLE "session_minute_rollups" ADD CONSTRAINT "PK_55a3096f197edeba022980526ab" PRIMARY KEY
        ("event_id", "minute", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" DROP CONSTRAINT "PK_df22891c3bb69f09be82758a2e4"`);
    await queryRunner.query(`
      ALTER TABLE "session_hour_rollups" ADD CONSTRAINT "PK_50cd46cc09160c166f2485dedc0" PRIMARY KEY
        ("event_id", "hour", "company_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" DROP CONSTRAINT "PK_5a5fc3e8902bce6051ec49496c4"
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" ADD CONSTRAINT "PK_5f8f1dc60ae19e47ac1a442d129" PRIMARY KEY
        ("id", "company_id")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "PK_b81d9e658fc343536b80dd723a9"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "PK_4fb02f07dab7f89925bd5787532" PRIMARY KEY
        ("event_id", "user_id", "company_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_fa944b9f58b62ea5c8f87113726"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_ffe18c5bd96ee267d0c6326f993"
        FOREIGN KEY ("user_id", "company_id") REFERENCES "users"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_event_rollups" ADD CONSTRAINT "FK_f3c3b7f11612d2cd30a1da42801"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_value_rollups" ADD CONSTRAINT "FK_0e4e5cf5a352ec40e74ed19c663"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" ADD CONSTRAINT "FK_a8edc1456f59d8421d995251c62"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_segments" ADD CONSTRAINT "FK_9e4c05516cd74a0386be3da0edc"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_window_minutes" ADD CONSTRAINT "FK_496ebb74fdeab1254d18ca829ef"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_gap_cells" ADD CONSTRAINT "FK_834c4a824408f606be02614095e"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_windows" ADD CONSTRAINT "FK_b29c339f5860de7c38ca0eef25c"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_occupancy" ADD CONSTRAINT "FK_c5c01481302bd1b2ad2199f0f64"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_second_rollups" ADD CONSTRAINT "FK_e76d472b518acb7b3b65773689d"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_minute_rollups" ADD CONSTRAINT "FK_001872b471a13918b033ad911e9"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_hour_rollups" ADD CONSTRAINT "FK_9cfd79a0ff5c65e05b862aa3bd8"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" ADD CONSTRAINT "FK_7d3ae003fbb72e0effdb79907d7"
        FOREIGN KEY ("event_id", "company_id") REFERENCES "events"("id","company_id")
        ON DELETE CASCADE ON UPDATE NO ACTION
    `);

    // The functions that write these tables, with company_id carried from the rows that start them.
    await queryRunner.query(`DROP FUNCTION analytics_refresh_minutes(uuid[], timestamptz[], boolean)`);
    await queryRunner.query(`DROP FUNCTION analytics_refresh_hours(uuid[], timestamptz[], boolean)`);
    await queryRunner.query(`DROP FUNCTION analytics_write_instants(uuid[], timestamptz[], boolean[], integer[])`);
    await queryRunner.query(`DROP FUNCTION analytics_apply_instants(uuid[], timestamptz[], boolean[], integer[])`);
    await queryRunner.query(`DROP FUNCTION analytics_refresh_attendance(uuid[], uuid[])`);
    await queryRunner.query(`DROP FUNCTION analytics_refresh_segments(uuid[], uuid[])`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_minutes(event_ids uuid[], company_ids uuid[], minutes timestamptz[],
                                                     removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO session_minute_rollups (event_id, minute, company_id)
  SELECT DISTINCT p.e, p.m, p.c FROM unnest(event_ids, company_ids, minutes) AS p(e, c, m)
    JOIN events ev ON ev.id = p.e AND ev.company_id = p.c
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM session_minute_rollups t
    JOIN (SELECT DISTINCT e, c, m FROM unnest(event_ids, company_ids, minutes) AS p(e, c, m)) p
      ON t.event_id = p.e AND t.minute = p.m AND t.company_id = p.c
   ORDER BY t.event_id, t.minute FOR UPDATE OF t;
  WITH p AS (SELECT DISTINCT e, c, m FROM unnest(event_ids, company_ids, minutes) AS p(e, c, m)),
  s AS (
    SELECT r.event_id, r.company_id, p.m AS minute, r.second, r.joins, r.ends, r.joins_at_start, r.ends_at_start, r.max_after,
           coalesce(sum(r.joins - r.ends) OVER (PARTITION BY r.event_id, p.m ORDER BY r.second
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
      FROM p JOIN session_second_rollups r
        ON r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute' AND r.company_id = p.c
  ), agg AS (
    SELECT event_id, company_id, minute, sum(joins)::int AS joins, sum(ends)::int AS ends,
           coalesce(sum(joins_at_start) FILTER (WHERE second = minute), 0)::int AS joins_at_start,
           coalesce(sum(ends_at_start) FILTER (WHERE second = minute), 0)::int AS ends_at_start,
           max(prior + max_after)::int AS max_after
      FROM s GROUP BY event_id, company_id, minute
  )
  UPDATE session_minute_rollups t
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.minute = agg.minute AND t.company_id = agg.company_id;
  IF removals THEN
    DELETE FROM session_minute_rollups t
     USING (SELECT DISTINCT e, c, m FROM unnest(event_ids, company_ids, minutes) AS p(e, c, m)) p
     WHERE t.event_id = p.e AND t.minute = p.m AND t.company_id = p.c
       AND NOT EXISTS (SELECT 1 FROM session_second_rollups r
                        WHERE r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute'
                          AND r.company_id = p.c);
  END IF;
  PERFORM analytics_refresh_hours(event_ids, company_ids, minutes, removals);
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_hours(event_ids uuid[], company_ids uuid[], instants timestamptz[],
                                                   removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO session_hour_rollups (event_id, hour, company_id)
  SELECT DISTINCT p.e, date_trunc('hour', p.at, 'UTC'), p.c FROM unnest(event_ids, company_ids, instants) AS p(e, c, at)
    JOIN events ev ON ev.id = p.e AND ev.company_id = p.c
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM session_hour_rollups t
    JOIN (SELECT DISTINCT e, c, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, company_ids, instants) AS p(e, c, at)) p
      ON t.event_id = p.e AND t.hour = p.h AND t.company_id = p.c
   ORDER BY t.event_id, t.hour FOR UPDATE OF t;
  WITH p AS (SELECT DISTINCT e, c, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, company_ids, instants) AS p(e, c, at)),
  s AS (
    SELECT m.event_id, m.company_id, p.h AS hour, m.minute, m.joins, m.ends, m.joins_at_start, m.ends_at_start, m.max_after,
           coalesce(sum(m.joins - m.ends) OVER (PARTITION BY m.event_id, p.h ORDER BY m.minute
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
      FROM p JOIN session_minute_rollups m
        ON m.event_id = p.e AND m.minute >= p.h AND m.minute < p.h + interval '1 hour' AND m.company_id = p.c
  ), agg AS (
    SELECT event_id, company_id, hour, sum(joins)::int AS joins, sum(ends)::int AS ends,
           coalesce(sum(joins_at_start) FILTER (WHERE minute = hour), 0)::int AS joins_at_start,
           coalesce(sum(ends_at_start) FILTER (WHERE minute = hour), 0)::int AS ends_at_start,
           max(prior + max_after)::int AS max_after
      FROM s GROUP BY event_id, company_id, hour
  )
  UPDATE session_hour_rollups t
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.hour = agg.hour AND t.company_id = agg.company_id;
  IF removals THEN
    DELETE FROM session_hour_rollups t
     USING (SELECT DISTINCT e, c, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, company_ids, instants) AS p(e, c, at)) p
     WHERE t.event_id = p.e AND t.hour = p.h AND t.company_id = p.c
       AND NOT EXISTS (SELECT 1 FROM session_minute_rollups m
                        WHERE m.event_id = p.e AND m.minute >= p.h AND m.minute < p.h + interval '1 hour'
                          AND m.company_id = p.c);
  END IF;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_write_instants(event_ids uuid[], company_ids uuid[], ats timestamptz[],
                                                    is_join boolean[], signs integer[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  removals boolean;
  m_events uuid[];
  m_companies uuid[];
  m_minutes timestamptz[];
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  removals := -1 = ANY (signs);
  IF NOT removals THEN
    INSERT INTO session_second_rollups AS t (event_id, second, company_id, join_offsets, end_offsets)
    SELECT u.e, date_trunc('second', u.at, 'UTC'), u.c,
           coalesce(array_agg(analytics_ms_offset(u.at)) FILTER (WHERE u.j), '{}'),
           coalesce(array_agg(analytics_ms_offset(u.at)) FILTER (WHERE NOT u.j), '{}')
      FROM unnest(event_ids, company_ids, ats, is_join) AS u(e, c, at, j)
     WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e AND ev.company_id = u.c)
     GROUP BY 1, 2, 3 ORDER BY 1, 2
    ON CONFLICT (event_id, second, company_id) DO UPDATE
      SET join_offsets = t.join_offsets || EXCLUDED.join_offsets,
          end_offsets = t.end_offsets || EXCLUDED.end_offsets;
  ELSE
    WITH d AS (
      SELECT u.e AS event_id, u.c AS company_id, date_trunc('second', u.at, 'UTC') AS second, analytics_ms_offset(u.at) AS o,
             u.j, u.s
        FROM unnest(event_ids, company_ids, ats, is_join, signs) AS u(e, c, at, j, s)
       WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e AND ev.company_id = u.c)
    ), g AS (
      SELECT event_id, company_id, second,
             coalesce(array_agg(o) FILTER (WHERE j AND s > 0), '{}') AS add_j,
             coalesce(array_agg(o) FILTER (WHERE NOT j AND s > 0), '{}') AS add_e,
             coalesce(array_agg(o) FILTER (WHERE j AND s < 0), '{}') AS del_j,
             coalesce(array_agg(o) FILTER (WHERE NOT j AND s < 0), '{}') AS del_e
        FROM d GROUP BY event_id, company_id, second
    )
    INSERT INTO session_second_rollups AS t (event_id, second, company_id, join_offsets, end_offsets)
    SELECT event_id, second, company_id, analytics_multiset_minus(add_j, del_j), analytics_multiset_minus(add_e, del_e)
      FROM g ORDER BY event_id, second
    ON CONFLICT (event_id, second, company_id) DO UPDATE
      SET join_offsets = analytics_multiset_minus(
            t.join_offsets || (SELECT g.add_j FROM g WHERE g.event_id = t.event_id AND g.second = t.second),
            (SELECT g.del_j FROM g WHERE g.event_id = t.event_id AND g.second = t.second)),
          end_offsets = analytics_multiset_minus(
            t.end_offsets || (SELECT g.add_e FROM g WHERE g.event_id = t.event_id AND g.second = t.second),
            (SELECT g.del_e FROM g WHERE g.event_id = t.event_id AND g.second = t.second));
    DELETE FROM session_second_rollups t
     USING (SELECT DISTINCT e, c, date_trunc('second', at, 'UTC') AS second
              FROM unnest(event_ids, company_ids, ats) AS u(e, c, at)) u
     WHERE t.event_id = u.e AND t.second = u.second AND t.company_id = u.c AND t.joins = 0 AND t.ends = 0;
  END IF;
  SELECT array_agg(e), array_agg(c), array_agg(m) INTO m_events, m_companies, m_minutes
    FROM (SELECT DISTINCT e, c, date_trunc('minute', at, 'UTC') AS m FROM unnest(event_ids, company_ids, ats) AS u(e, c, at)) x;
  PERFORM analytics_refresh_minutes(m_events, m_companies, m_minutes, removals);
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_apply_instants(event_ids uuid[], company_ids uuid[], ats timestamptz[],
                                                    is_join boolean[], signs integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  IF -1 = ANY (signs) THEN
    -- The fold's lock first, whatever is pending: everything that writes the activity rollups
    -- takes it before their rows, so a fold and a removal never wait for each other's rows.
    PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
    PERFORM analytics_fold_pending();
    PERFORM analytics_write_instants(event_ids, company_ids, ats, is_join, signs);
  ELSE
    INSERT INTO analytics_pending_instants (event_id, company_id, at, is_join)
    SELECT u.e, u.c, u.at, u.j FROM unnest(event_ids, company_ids, ats, is_join) AS u(e, c, at, j)
     WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e AND ev.company_id = u.c);
  END IF;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_fold_pending()
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_attendance(event_ids uuid[], company_ids uuid[], user_ids uuid[])
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_sessions_changed()
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_registrants_changed()
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_users_changed()
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_attendance_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH changed AS (SELECT 1 AS sign, event_id, company_id, attended_ms, registered, metadata FROM new_rows),
    deltas AS (
      SELECT event_id, company_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id, company_id
      UNION ALL
      SELECT c.event_id, c.company_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3, 4
    )
    INSERT INTO analytics_pending_attendance (event_id, company_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.company_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
  ELSIF TG_OP = 'DELETE' THEN
    WITH changed AS (SELECT -1 AS sign, event_id, company_id, attended_ms, registered, metadata FROM old_rows),
    deltas AS (
      SELECT event_id, company_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id, company_id
      UNION ALL
      SELECT c.event_id, c.company_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3, 4
    )
    INSERT INTO analytics_pending_attendance (event_id, company_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.company_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
  ELSE
    -- A refresh rewrites rows whose shares may not change: those net out.
    WITH changed AS (SELECT -1 AS sign, event_id, company_id, attended_ms, registered, metadata FROM old_rows
                     UNION ALL SELECT 1, event_id, company_id, attended_ms, registered, metadata FROM new_rows),
    deltas AS (
      SELECT event_id, company_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id, company_id
      UNION ALL
      SELECT c.event_id, c.company_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3, 4
    )
    INSERT INTO analytics_pending_attendance (event_id, company_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.company_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
  END IF;
  RETURN NULL;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_fold_attendance()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  e uuid[]; c uuid[]; k text[]; v text[]; n_att integer[]; n_ms bigint[]; n_reg integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_attendance) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
  WITH taken AS (
    DELETE FROM analytics_pending_attendance RETURNING event_id, company_id, key, value, attendees, attended_ms, registered
  ),
  summed AS (
    SELECT event_id, company_id, key, value, sum(attendees)::int AS a, sum(attended_ms)::bigint AS ms,
           sum(registered)::int AS r, count(*) AS rows
      FROM taken GROUP BY 1, 2, 3, 4
  )
  SELECT array_agg(event_id ORDER BY event_id, key, value), array_agg(company_id ORDER BY event_id, key, value),
         array_agg(key ORDER BY event_id, key, value), array_agg(value ORDER BY event_id, key, value),
         array_agg(a ORDER BY event_id, key, value), array_agg(ms ORDER BY event_id, key, value),
         array_agg(r ORDER BY event_id, key, value), coalesce(sum(rows), 0)
    INTO e, c, k, v, n_att, n_ms, n_reg, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO attendance_event_rollups AS t (event_id, company_id, attendees, attended_ms, registered)
  SELECT u.e, u.c, u.a, u.ms, u.r FROM unnest(e, c, k, n_att, n_ms, n_reg) AS u(e, c, k, a, ms, r) WHERE u.k IS NULL
  ON CONFLICT (event_id, company_id) DO UPDATE
    SET attendees = t.attendees + EXCLUDED.attendees, attended_ms = t.attended_ms + EXCLUDED.attended_ms,
        registered = t.registered + EXCLUDED.registered;
  INSERT INTO attendance_value_rollups AS t (event_id, key, value, company_id, attendees, attended_ms)
  SELECT u.e, u.k, u.v, u.c, u.a, u.ms FROM unnest(e, c, k, v, n_att, n_ms) AS u(e, c, k, v, a, ms) WHERE u.k IS NOT NULL
  ON CONFLICT (event_id, key, value, company_id) DO UPDATE
    SET attendees = t.attendees + EXCLUDED.attendees, attended_ms = t.attended_ms + EXCLUDED.attended_ms;
  DELETE FROM attendance_event_rollups t USING unnest(e, c, k) AS u(e, c, k)
   WHERE u.k IS NULL AND t.event_id = u.e AND t.company_id = u.c
     AND t.attendees = 0 AND t.attended_ms = 0 AND t.registered = 0;
  DELETE FROM attendance_value_rollups t USING unnest(e, c, k, v) AS u(e, c, k, v)
   WHERE t.event_id = u.e AND t.key = u.k AND t.value = u.v AND t.company_id = u.c AND t.attendees = 0 AND t.attended_ms = 0;
  RETURN n;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_segments(event_ids uuid[], company_ids uuid[], user_ids uuid[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  WITH p AS (SELECT DISTINCT e, c, u FROM unnest(event_ids, company_ids, user_ids) AS p(e, c, u)),
  gone AS (
    DELETE FROM attendance_segments s USING p WHERE s.event_id = p.e AND s.user_id = p.u AND s.company_id = p.c
    RETURNING -1 AS sign, s.event_id, s.company_id, s.family, s.start_at, s.end_at, s.prev_end
  ),
  deltas AS (
    -- What the segments of gone add to (sign 1) or take from (sign -1) the counts: a start and
    -- its offset in its minute, an end and its offset in its minute, a gap between two minutes.
    SELECT event_id, company_id, family, minute, NULL::timestamptz AS start_minute, sum(st)::int AS starts,
           sum(st_ms)::bigint AS starts_ms, sum(en)::int AS ends, sum(en_ms)::bigint AS ends_ms, 0 AS gaps
      FROM (
        SELECT event_id, company_id, family, date_trunc('minute', start_at, 'UTC') AS minute, sign AS st,
               sign * round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
          FROM gone
        UNION ALL
        SELECT event_id, company_id, family, date_trunc('minute', end_at, 'UTC'), 0, 0, sign,
               sign * round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
          FROM gone
      ) x GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT event_id, company_id, family, date_trunc('minute', prev_end, 'UTC'), date_trunc('minute', start_at, 'UTC'),
           0, 0, 0, 0, sum(sign)::int
      FROM gone WHERE prev_end IS NOT NULL GROUP BY 1, 2, 3, 4, 5
  )
  INSERT INTO analytics_pending_windows (event_id, company_id, family, minute, start_minute, starts, starts_offset_ms, ends,
                                         ends_offset_ms, gaps)
  SELECT d.event_id, d.company_id, d.family, d.minute, d.start_minute, d.starts, d.starts_ms, d.ends, d.ends_ms, d.gaps
    FROM deltas d
   WHERE (d.starts <> 0 OR d.starts_ms <> 0 OR d.ends <> 0 OR d.ends_ms <> 0 OR d.gaps <> 0)
     AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
  WITH p AS (SELECT DISTINCT e, c, u FROM unnest(event_ids, company_ids, user_ids) AS p(e, c, u)),
  iv AS (
    -- The pairs' ended sessions, and whether each makes its user registered (family 1).
    SELECT s.event_id, s.company_id, s.user_id, s.joined_at AS a, GREATEST(s.joined_at, s.ended_at) AS b,
           (EXISTS (SELECT 1 FROM registrants x WHERE x.event_id = s.event_id AND x.user_id = s.user_id AND x.cancelled_at IS NULL)
            OR EXISTS (SELECT 1 FROM registrants x WHERE x.id = s.registrant_id AND x.event_id = s.event_id AND x.cancelled_at IS NULL)) AS reg
      FROM p JOIN users us ON us.id = p.u AND us.company_id = p.c
      JOIN sessions s ON s.event_id = p.e AND s.user_id = p.u AND s.company_id = p.c
     WHERE s.ended_at IS NOT NULL
  ), fam AS (
    SELECT event_id, company_id, user_id, 0::smallint AS family, a, b FROM iv
    UNION ALL
    SELECT event_id, company_id, user_id, 1::smallint, a, b FROM iv WHERE reg
  ), cov AS (
    -- Gaps and islands: a session starts a new segment when it starts after every earlier end.
    SELECT fam.*, max(b) OVER (PARTITION BY event_id, user_id, family ORDER BY a, b
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered
      FROM fam
  ), grp AS (
    SELECT cov.*, count(*) FILTER (WHERE covered IS NULL OR a > covered)
                    OVER (PARTITION BY event_id, user_id, family ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS g
      FROM cov
  ), seg AS (
    SELECT event_id, company_id, user_id, family, min(a) AS start_at, max(b) AS end_at
      FROM grp GROUP BY event_id, company_id, user_id, family, g
  ), segments AS (
    SELECT seg.*, lag(end_at) OVER (PARTITION BY event_id, user_id, family ORDER BY start_at) AS prev_end FROM seg
  ),
  added AS (
    INSERT INTO attendance_segments (event_id, company_id, user_id, family, start_at, end_at, prev_end)
    SELECT event_id, company_id, user_id, family, start_at, end_at, prev_end FROM segments
    RETURNING 1 AS sign, event_id, company_id, family, start_at, end_at, prev_end
  ),
  deltas AS (
    -- What the segments of added add to (sign 1) or take from (sign -1) the counts: a start and
    -- its offset in its minute, an end and its offset in its minute, a gap between two minutes.
    SELECT event_id, company_id, family, minute, NULL::timestamptz AS start_minute, sum(st)::int AS starts,
           sum(st_ms)::bigint AS starts_ms, sum(en)::int AS ends, sum(en_ms)::bigint AS ends_ms, 0 AS gaps
      FROM (
        SELECT event_id, company_id, family, date_trunc('minute', start_at, 'UTC') AS minute, sign AS st,
               sign * round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
          FROM added
        UNION ALL
        SELECT event_id, company_id, family, date_trunc('minute', end_at, 'UTC'), 0, 0, sign,
               sign * round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
          FROM added
      ) x GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT event_id, company_id, family, date_trunc('minute', prev_end, 'UTC'), date_trunc('minute', start_at, 'UTC'),
           0, 0, 0, 0, sum(sign)::int
      FROM added WHERE prev_end IS NOT NULL GROUP BY 1, 2, 3, 4, 5
  )
  INSERT INTO analytics_pending_windows (event_id, company_id, family, minute, start_minute, starts, starts_offset_ms, ends,
                                         ends_offset_ms, gaps)
  SELECT d.event_id, d.company_id, d.family, d.minute, d.start_minute, d.starts, d.starts_ms, d.ends, d.ends_ms, d.gaps
    FROM deltas d
   WHERE (d.starts <> 0 OR d.starts_ms <> 0 OR d.ends <> 0 OR d.ends_ms <> 0 OR d.gaps <> 0)
     AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id AND e.company_id = d.company_id);
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_attendance_segments_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p_events uuid[]; p_companies uuid[]; p_users uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- analytics_refresh_attendance inserts empty placeholders first and fills them by an UPDATE.
    SELECT array_agg(event_id), array_agg(company_id), array_agg(user_id) INTO p_events, p_companies, p_users
      FROM new_rows WHERE sessions > 0;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(event_id), array_agg(company_id), array_agg(user_id) INTO p_events, p_companies, p_users FROM old_rows;
  ELSE
    SELECT array_agg(event_id), array_agg(company_id), array_agg(user_id) INTO p_events, p_companies, p_users
      FROM (SELECT event_id, company_id, user_id FROM old_rows UNION SELECT event_id, company_id, user_id FROM new_rows) x;
  END IF;
  PERFORM analytics_refresh_segments(p_events, p_companies, p_users);
  RETURN NULL;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_fold_windows()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  e uuid[]; c uuid[]; f smallint[]; m timestamptz[]; sm timestamptz[]; st integer[]; st_ms bigint[]; en integer[];
  en_ms bigint[]; g integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_windows) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
  WITH taken AS (DELETE FROM analytics_pending_windows RETURNING *),
  summed AS (
    SELECT event_id, company_id, family, minute, start_minute, sum(starts)::int AS s_st,
           sum(starts_offset_ms)::bigint AS s_st_ms, sum(ends)::int AS s_en, sum(ends_offset_ms)::bigint AS s_en_ms,
           sum(gaps)::int AS gp, count(*) AS rows
      FROM taken GROUP BY 1, 2, 3, 4, 5
  )
  SELECT array_agg(event_id ORDER BY event_id, family, minute, start_minute),
         array_agg(company_id ORDER BY event_id, family, minute, start_minute),
         array_agg(family ORDER BY event_id, family, minute, start_minute),
         array_agg(minute ORDER BY event_id, family, minute, start_minute), array_agg(start_minute ORDER BY event_id, family, minute, start_minute),
         array_agg(s_st ORDER BY event_id, family, minute, start_minute), array_agg(s_st_ms ORDER BY event_id, family, minute, start_minute),
         array_agg(s_en ORDER BY event_id, family, minute, start_minute), array_agg(s_en_ms ORDER BY event_id, family, minute, start_minute),
         array_agg(gp ORDER BY event_id, family, minute, start_minute), coalesce(sum(rows), 0)
    INTO e, c, f, m, sm, st, st_ms, en, en_ms, g, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO attendance_window_minutes AS t (event_id, family, minute, company_id, starts, starts_offset_ms, ends,
                                              ends_offset_ms)
  SELECT u.e, u.f, u.m, u.c, u.st, u.st_ms, u.en, u.en_ms
    FROM unnest(e, c, f, m, sm, st, st_ms, en, en_ms) AS u(e, c, f, m, sm, st, st_ms, en, en_ms)
   WHERE u.sm IS NULL
  ON CONFLICT (event_id, family, minute, company_id) DO UPDATE
    SET starts = t.starts + EXCLUDED.starts, starts_offset_ms = t.starts_offset_ms + EXCLUDED.starts_offset_ms,
        ends = t.ends + EXCLUDED.ends, ends_offset_ms = t.ends_offset_ms + EXCLUDED.ends_offset_ms;
  INSERT INTO attendance_gap_cells AS t (event_id, family, end_minute, start_minute, company_id, gaps)
  SELECT u.e, u.f, u.m, u.sm, u.c, u.g FROM unnest(e, c, f, m, sm, g) AS u(e, c, f, m, sm, g) WHERE u.sm IS NOT NULL
  ON CONFLICT (event_id, family, end_minute, start_minute, company_id) DO UPDATE SET gaps = t.gaps + EXCLUDED.gaps;
  DELETE FROM attendance_window_minutes t USING unnest(e, c, f, m, sm) AS u(e, c, f, m, sm)
   WHERE u.sm IS NULL AND t.event_id = u.e AND t.family = u.f AND t.minute = u.m AND t.company_id = u.c
     AND t.starts = 0 AND t.starts_offset_ms = 0 AND t.ends = 0 AND t.ends_offset_ms = 0;
  DELETE FROM attendance_gap_cells t USING unnest(e, c, f, m, sm) AS u(e, c, f, m, sm)
   WHERE t.event_id = u.e AND t.family = u.f AND t.end_minute = u.m AND t.start_minute = u.sm AND t.company_id = u.c
     AND t.gaps = 0;
  RETURN n;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION admit_occupancy_of_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.capacity IS NULL THEN
    DELETE FROM event_occupancy o WHERE o.event_id = NEW.id AND o.company_id = NEW.company_id;
  ELSIF TG_OP = 'INSERT' THEN
    INSERT INTO event_occupancy (event_id, company_id, live) VALUES (NEW.id, NEW.company_id, 0);
  ELSIF NOT EXISTS (SELECT 1 FROM event_occupancy o WHERE o.event_id = NEW.id AND o.company_id = NEW.company_id) THEN
    PERFORM 1 FROM events e WHERE e.id = NEW.id AND e.company_id = NEW.company_id FOR UPDATE;
    INSERT INTO event_occupancy (event_id, company_id, live)
    SELECT NEW.id, NEW.company_id, count(*) FROM sessions s
     WHERE s.event_id = NEW.id AND s.company_id = NEW.company_id AND s.ended_at IS NULL;
  END IF;
  RETURN NULL;
END $$`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION admit_occupancy_of_session() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE event_occupancy o SET live = o.live + 1 WHERE o.event_id = NEW.event_id AND o.company_id = NEW.company_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE event_occupancy o SET live = o.live - 1 WHERE o.event_id = OLD.event_id AND o.company_id = OLD.company_id;
  ELSIF NEW.ended_at IS NULL THEN
    UPDATE event_occupancy o SET live = o.live + 1 WHERE o.event_id = NEW.event_id AND o.company_id = NEW.company_id;
  ELSE
    UPDATE event_occupancy o SET live = o.live - 1 WHERE o.event_id = NEW.event_id AND o.company_id = NEW.company_id;
  END IF;
  RETURN NULL;
END $$`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION analytics_refresh_minutes(uuid[], uuid[], timestamptz[], boolean)`);
    await queryRunner.query(`DROP FUNCTION analytics_refresh_hours(uuid[], uuid[], timestamptz[], boolean)`);
    await queryRunner.query(`
      DROP FUNCTION analytics_write_instants(uuid[], uuid[], timestamptz[], boolean[], integer[])
    `);
    await queryRunner.query(`
      DROP FUNCTION analytics_apply_instants(uuid[], uuid[], timestamptz[], boolean[], integer[])
    `);
    await queryRunner.query(`DROP FUNCTION analytics_refresh_attendance(uuid[], uuid[], uuid[])`);
    await queryRunner.query(`DROP FUNCTION analytics_refresh_segments(uuid[], uuid[], uuid[])`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_minutes(event_ids uuid[], minutes timestamptz[], removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
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
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.minute = agg.minute;
  IF removals THEN
    DELETE FROM session_minute_rollups t
     USING (SELECT DISTINCT e, m FROM unnest(event_ids, minutes) AS p(e, m)) p
     WHERE t.event_id = p.e AND t.minute = p.m
       AND NOT EXISTS (SELECT 1 FROM session_second_rollups r
                        WHERE r.event_id = p.e AND r.second >= p.m AND r.second < p.m + interval '1 minute');
  END IF;
  PERFORM analytics_refresh_hours(event_ids, minutes, removals);
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_hours(event_ids uuid[], instants timestamptz[], removals boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  INSERT INTO session_hour_rollups (event_id, hour)
  SELECT DISTINCT p.e, date_trunc('hour', p.at, 'UTC') FROM unnest(event_ids, instants) AS p(e, at) JOIN events ev ON ev.id = p.e
   ORDER BY 1, 2
  ON CONFLICT DO NOTHING;
  PERFORM 1 FROM session_hour_rollups t
    JOIN (SELECT DISTINCT e, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, instants) AS p(e, at)) p
      ON t.event_id = p.e AND t.hour = p.h
   ORDER BY t.event_id, t.hour FOR UPDATE OF t;
  WITH p AS (SELECT DISTINCT e, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, instants) AS p(e, at)),
  s AS (
    SELECT m.event_id, p.h AS hour, m.minute, m.joins, m.ends, m.joins_at_start, m.ends_at_start, m.max_after,
           coalesce(sum(m.joins - m.ends) OVER (PARTITION BY m.event_id, p.h ORDER BY m.minute
                                                ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
      FROM p JOIN session_minute_rollups m ON m.event_id = p.e AND m.minute >= p.h AND m.minute < p.h + interval '1 hour'
  ), agg AS (
    SELECT event_id, hour, sum(joins)::int AS joins, sum(ends)::int AS ends,
           coalesce(sum(joins_at_start) FILTER (WHERE minute = hour), 0)::int AS joins_at_start,
           coalesce(sum(ends_at_start) FILTER (WHERE minute = hour), 0)::int AS ends_at_start,
           max(prior + max_after)::int AS max_after
      FROM s GROUP BY event_id, hour
  )
  UPDATE session_hour_rollups t
     SET joins = agg.joins, ends = agg.ends, joins_at_start = agg.joins_at_start, ends_at_start = agg.ends_at_start,
         max_after = agg.max_after
    FROM agg WHERE t.event_id = agg.event_id AND t.hour = agg.hour;
  IF removals THEN
    DELETE FROM session_hour_rollups t
     USING (SELECT DISTINCT e, date_trunc('hour', at, 'UTC') AS h FROM unnest(event_ids, instants) AS p(e, at)) p
     WHERE t.event_id = p.e AND t.hour = p.h
       AND NOT EXISTS (SELECT 1 FROM session_minute_rollups m
                        WHERE m.event_id = p.e AND m.minute >= p.h AND m.minute < p.h + interval '1 hour');
  END IF;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_write_instants(event_ids uuid[], ats timestamptz[], is_join boolean[], signs integer[])
RETURNS void LANGUAGE plpgsql AS $$
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
      SET join_offsets = t.join_offsets || EXCLUDED.join_offsets,
          end_offsets = t.end_offsets || EXCLUDED.end_offsets;
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_apply_instants(event_ids uuid[], ats timestamptz[], is_join boolean[], signs integer[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  IF -1 = ANY (signs) THEN
    -- The fold's lock first, whatever is pending: everything that writes the activity rollups
    -- takes it before their rows, so a fold and a removal never wait for each other's rows.
    PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
    PERFORM analytics_fold_pending();
    PERFORM analytics_write_instants(event_ids, ats, is_join, signs);
  ELSE
    INSERT INTO analytics_pending_instants (event_id, at, is_join)
    SELECT u.e, u.at, u.j FROM unnest(event_ids, ats, is_join) AS u(e, at, j)
     WHERE EXISTS (SELECT 1 FROM events ev WHERE ev.id = u.e);
  END IF;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_fold_pending()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  d_events uuid[]; d_ats timestamptz[]; d_join boolean[]; n integer;
BEGIN
  PERFORM analytics_fold_attendance();
  PERFORM analytics_fold_windows();
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_instants) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(726473913);
  WITH taken AS (DELETE FROM analytics_pending_instants RETURNING event_id, at, is_join)
  SELECT array_agg(event_id), array_agg(at), array_agg(is_join), count(*) INTO d_events, d_ats, d_join, n FROM taken;
  IF n > 0 THEN PERFORM analytics_write_instants(d_events, d_ats, d_join, array_fill(1, ARRAY[n])); END IF;
  RETURN n;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_attendance(event_ids uuid[], user_ids uuid[])
RETURNS void LANGUAGE plpgsql AS $$
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_sessions_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_registrants_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
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
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_users_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p_events uuid[];
  p_users uuid[];
BEGIN
  SELECT array_agg(a.event_id), array_agg(a.user_id) INTO p_events, p_users
    FROM attendance_rollups a
   WHERE a.user_id IN (SELECT o.id FROM old_rows o JOIN new_rows n ON n.id = o.id WHERE o.metadata IS DISTINCT FROM n.metadata);
  PERFORM analytics_refresh_attendance(p_events, p_users);
  RETURN NULL;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_attendance_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH changed AS (SELECT 1 AS sign, event_id, attended_ms, registered, metadata FROM new_rows),
    deltas AS (
      SELECT event_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id
      UNION ALL
      SELECT c.event_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3
    )
    INSERT INTO analytics_pending_attendance (event_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  ELSIF TG_OP = 'DELETE' THEN
    WITH changed AS (SELECT -1 AS sign, event_id, attended_ms, registered, metadata FROM old_rows),
    deltas AS (
      SELECT event_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id
      UNION ALL
      SELECT c.event_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3
    )
    INSERT INTO analytics_pending_attendance (event_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  ELSE
    -- A refresh rewrites rows whose shares may not change: those net out.
    WITH changed AS (SELECT -1 AS sign, event_id, attended_ms, registered, metadata FROM old_rows
                     UNION ALL SELECT 1, event_id, attended_ms, registered, metadata FROM new_rows),
    deltas AS (
      SELECT event_id, NULL::text AS key, NULL::text AS value, sum(sign)::int AS attendees,
             sum(sign * attended_ms)::bigint AS attended_ms, sum(sign * registered::int)::int AS registered
        FROM changed GROUP BY event_id
      UNION ALL
      SELECT c.event_id, m.key, m.value, sum(c.sign)::int, sum(c.sign * c.attended_ms)::bigint, 0
        FROM changed c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN jsonb_typeof(c.metadata) = 'object' THEN c.metadata ELSE '{}' END) m
       WHERE m.value IS NOT NULL
       GROUP BY 1, 2, 3
    )
    INSERT INTO analytics_pending_attendance (event_id, key, value, attendees, attended_ms, registered)
    SELECT d.event_id, d.key, d.value, d.attendees, d.attended_ms, d.registered FROM deltas d
     WHERE (d.attendees <> 0 OR d.attended_ms <> 0 OR d.registered <> 0)
       AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  END IF;
  RETURN NULL;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_fold_attendance()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  e uuid[]; k text[]; v text[]; n_att integer[]; n_ms bigint[]; n_reg integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_attendance) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
  WITH taken AS (DELETE FROM analytics_pending_attendance RETURNING event_id, key, value, attendees, attended_ms, registered),
  summed AS (
    SELECT event_id, key, value, sum(attendees)::int AS a, sum(attended_ms)::bigint AS ms, sum(registered)::int AS r, count(*) AS rows
      FROM taken GROUP BY 1, 2, 3
  )
  SELECT array_agg(event_id ORDER BY event_id, key, value), array_agg(key ORDER BY event_id, key, value),
         array_agg(value ORDER BY event_id, key, value), array_agg(a ORDER BY event_id, key, value),
         array_agg(ms ORDER BY event_id, key, value), array_agg(r ORDER BY event_id, key, value), coalesce(sum(rows), 0)
    INTO e, k, v, n_att, n_ms, n_reg, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO attendance_event_rollups AS t (event_id, attendees, attended_ms, registered)
  SELECT u.e, u.a, u.ms, u.r FROM unnest(e, k, n_att, n_ms, n_reg) AS u(e, k, a, ms, r) WHERE u.k IS NULL
  ON CONFLICT (event_id) DO UPDATE
    SET attendees = t.attendees + EXCLUDED.attendees, attended_ms = t.attended_ms + EXCLUDED.attended_ms,
        registered = t.registered + EXCLUDED.registered;
  INSERT INTO attendance_value_rollups AS t (event_id, key, value, attendees, attended_ms)
  SELECT u.e, u.k, u.v, u.a, u.ms FROM unnest(e, k, v, n_att, n_ms) AS u(e, k, v, a, ms) WHERE u.k IS NOT NULL
  ON CONFLICT (event_id, key, value) DO UPDATE
    SET attendees = t.attendees + EXCLUDED.attendees, attended_ms = t.attended_ms + EXCLUDED.attended_ms;
  DELETE FROM attendance_event_rollups t USING unnest(e, k) AS u(e, k)
   WHERE u.k IS NULL AND t.event_id = u.e AND t.attendees = 0 AND t.attended_ms = 0 AND t.registered = 0;
  DELETE FROM attendance_value_rollups t USING unnest(e, k, v) AS u(e, k, v)
   WHERE t.event_id = u.e AND t.key = u.k AND t.value = u.v AND t.attendees = 0 AND t.attended_ms = 0;
  RETURN n;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_refresh_segments(event_ids uuid[], user_ids uuid[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(event_ids), 0) = 0 THEN RETURN; END IF;
  WITH p AS (SELECT DISTINCT e, u FROM unnest(event_ids, user_ids) AS p(e, u)),
  gone AS (
    DELETE FROM attendance_segments s USING p WHERE s.event_id = p.e AND s.user_id = p.u
    RETURNING -1 AS sign, s.event_id, s.family, s.start_at, s.end_at, s.prev_end
  ),
  deltas AS (
    -- What the segments of gone add to (sign 1) or take from (sign -1) the counts: a start and
    -- its offset in its minute, an end and its offset in its minute, a gap between two minutes.
    SELECT event_id, family, minute, NULL::timestamptz AS start_minute, sum(st)::int AS starts, sum(st_ms)::bigint AS starts_ms,
           sum(en)::int AS ends, sum(en_ms)::bigint AS ends_ms, 0 AS gaps
      FROM (
        SELECT event_id, family, date_trunc('minute', start_at, 'UTC') AS minute, sign AS st,
               sign * round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
          FROM gone
        UNION ALL
        SELECT event_id, family, date_trunc('minute', end_at, 'UTC'), 0, 0, sign,
               sign * round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
          FROM gone
      ) x GROUP BY 1, 2, 3
    UNION ALL
    SELECT event_id, family, date_trunc('minute', prev_end, 'UTC'), date_trunc('minute', start_at, 'UTC'), 0, 0, 0, 0, sum(sign)::int
      FROM gone WHERE prev_end IS NOT NULL GROUP BY 1, 2, 3, 4
  )
  INSERT INTO analytics_pending_windows (event_id, family, minute, start_minute, starts, starts_offset_ms, ends, ends_offset_ms, gaps)
  SELECT d.event_id, d.family, d.minute, d.start_minute, d.starts, d.starts_ms, d.ends, d.ends_ms, d.gaps FROM deltas d
   WHERE (d.starts <> 0 OR d.starts_ms <> 0 OR d.ends <> 0 OR d.ends_ms <> 0 OR d.gaps <> 0)
     AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
  WITH p AS (SELECT DISTINCT e, u FROM unnest(event_ids, user_ids) AS p(e, u)),
  iv AS (
    -- The pairs' ended sessions, and whether each makes its user registered (family 1).
    SELECT s.event_id, s.user_id, s.joined_at AS a, GREATEST(s.joined_at, s.ended_at) AS b,
           (EXISTS (SELECT 1 FROM registrants x WHERE x.event_id = s.event_id AND x.user_id = s.user_id AND x.cancelled_at IS NULL)
            OR EXISTS (SELECT 1 FROM registrants x WHERE x.id = s.registrant_id AND x.event_id = s.event_id AND x.cancelled_at IS NULL)) AS reg
      FROM p JOIN users us ON us.id = p.u JOIN sessions s ON s.event_id = p.e AND s.user_id = p.u
     WHERE s.ended_at IS NOT NULL
  ), fam AS (
    SELECT event_id, user_id, 0::smallint AS family, a, b FROM iv
    UNION ALL
    SELECT event_id, user_id, 1::smallint, a, b FROM iv WHERE reg
  ), cov AS (
    -- Gaps and islands: a session starts a new segment when it starts after every earlier end.
    SELECT fam.*, max(b) OVER (PARTITION BY event_id, user_id, family ORDER BY a, b
                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS covered
      FROM fam
  ), grp AS (
    SELECT cov.*, count(*) FILTER (WHERE covered IS NULL OR a > covered)
                    OVER (PARTITION BY event_id, user_id, family ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS g
      FROM cov
  ), seg AS (
    SELECT event_id, user_id, family, min(a) AS start_at, max(b) AS end_at FROM grp GROUP BY event_id, user_id, family, g
  ), segments AS (
    SELECT seg.*, lag(end_at) OVER (PARTITION BY event_id, user_id, family ORDER BY start_at) AS prev_end FROM seg
  ),
  added AS (
    INSERT INTO attendance_segments (event_id, user_id, family, start_at, end_at, prev_end)
    SELECT event_id, user_id, family, start_at, end_at, prev_end FROM segments
    RETURNING 1 AS sign, event_id, family, start_at, end_at, prev_end
  ),
  deltas AS (
    -- What the segments of added add to (sign 1) or take from (sign -1) the counts: a start and
    -- its offset in its minute, an end and its offset in its minute, a gap between two minutes.
    SELECT event_id, family, minute, NULL::timestamptz AS start_minute, sum(st)::int AS starts, sum(st_ms)::bigint AS starts_ms,
           sum(en)::int AS ends, sum(en_ms)::bigint AS ends_ms, 0 AS gaps
      FROM (
        SELECT event_id, family, date_trunc('minute', start_at, 'UTC') AS minute, sign AS st,
               sign * round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
          FROM added
        UNION ALL
        SELECT event_id, family, date_trunc('minute', end_at, 'UTC'), 0, 0, sign,
               sign * round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
          FROM added
      ) x GROUP BY 1, 2, 3
    UNION ALL
    SELECT event_id, family, date_trunc('minute', prev_end, 'UTC'), date_trunc('minute', start_at, 'UTC'), 0, 0, 0, 0, sum(sign)::int
      FROM added WHERE prev_end IS NOT NULL GROUP BY 1, 2, 3, 4
  )
  INSERT INTO analytics_pending_windows (event_id, family, minute, start_minute, starts, starts_offset_ms, ends, ends_offset_ms, gaps)
  SELECT d.event_id, d.family, d.minute, d.start_minute, d.starts, d.starts_ms, d.ends, d.ends_ms, d.gaps FROM deltas d
   WHERE (d.starts <> 0 OR d.starts_ms <> 0 OR d.ends <> 0 OR d.ends_ms <> 0 OR d.gaps <> 0)
     AND EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id);
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_attendance_segments_changed()
RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  p_events uuid[]; p_users uuid[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    -- analytics_refresh_attendance inserts empty placeholders first and fills them by an UPDATE.
    SELECT array_agg(event_id), array_agg(user_id) INTO p_events, p_users FROM new_rows WHERE sessions > 0;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(event_id), array_agg(user_id) INTO p_events, p_users FROM old_rows;
  ELSE
    SELECT array_agg(event_id), array_agg(user_id) INTO p_events, p_users
      FROM (SELECT event_id, user_id FROM old_rows UNION SELECT event_id, user_id FROM new_rows) x;
  END IF;
  PERFORM analytics_refresh_segments(p_events, p_users);
  RETURN NULL;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION analytics_fold_windows()
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  e uuid[]; f smallint[]; m timestamptz[]; sm timestamptz[]; st integer[]; st_ms bigint[]; en integer[]; en_ms bigint[];
  g integer[]; n integer;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM analytics_pending_windows) THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(726473913);  -- the fold's lock (fold.sql)
  WITH taken AS (DELETE FROM analytics_pending_windows RETURNING *),
  summed AS (
    SELECT event_id, family, minute, start_minute, sum(starts)::int AS s_st, sum(starts_offset_ms)::bigint AS s_st_ms,
           sum(ends)::int AS s_en, sum(ends_offset_ms)::bigint AS s_en_ms, sum(gaps)::int AS gp, count(*) AS rows
      FROM taken GROUP BY 1, 2, 3, 4
  )
  SELECT array_agg(event_id ORDER BY event_id, family, minute, start_minute), array_agg(family ORDER BY event_id, family, minute, start_minute),
         array_agg(minute ORDER BY event_id, family, minute, start_minute), array_agg(start_minute ORDER BY event_id, family, minute, start_minute),
         array_agg(s_st ORDER BY event_id, family, minute, start_minute), array_agg(s_st_ms ORDER BY event_id, family, minute, start_minute),
         array_agg(s_en ORDER BY event_id, family, minute, start_minute), array_agg(s_en_ms ORDER BY event_id, family, minute, start_minute),
         array_agg(gp ORDER BY event_id, family, minute, start_minute), coalesce(sum(rows), 0)
    INTO e, f, m, sm, st, st_ms, en, en_ms, g, n FROM summed;
  IF n = 0 THEN RETURN 0; END IF;
  INSERT INTO attendance_window_minutes AS t (event_id, family, minute, starts, starts_offset_ms, ends, ends_offset_ms)
  SELECT u.e, u.f, u.m, u.st, u.st_ms, u.en, u.en_ms FROM unnest(e, f, m, sm, st, st_ms, en, en_ms) AS u(e, f, m, sm, st, st_ms, en, en_ms)
   WHERE u.sm IS NULL
  ON CONFLICT (event_id, family, minute) DO UPDATE
    SET starts = t.starts + EXCLUDED.starts, starts_offset_ms = t.starts_offset_ms + EXCLUDED.starts_offset_ms,
        ends = t.ends + EXCLUDED.ends, ends_offset_ms = t.ends_offset_ms + EXCLUDED.ends_offset_ms;
  INSERT INTO attendance_gap_cells AS t (event_id, family, end_minute, start_minute, gaps)
  SELECT u.e, u.f, u.m, u.sm, u.g FROM unnest(e, f, m, sm, g) AS u(e, f, m, sm, g) WHERE u.sm IS NOT NULL
  ON CONFLICT (event_id, family, end_minute, start_minute) DO UPDATE SET gaps = t.gaps + EXCLUDED.gaps;
  DELETE FROM attendance_window_minutes t USING unnest(e, f, m, sm) AS u(e, f, m, sm)
   WHERE u.sm IS NULL AND t.event_id = u.e AND t.family = u.f AND t.minute = u.m
     AND t.starts = 0 AND t.starts_offset_ms = 0 AND t.ends = 0 AND t.ends_offset_ms = 0;
  DELETE FROM attendance_gap_cells t USING unnest(e, f, m, sm) AS u(e, f, m, sm)
   WHERE t.event_id = u.e AND t.family = u.f AND t.end_minute = u.m AND t.start_minute = u.sm AND t.gaps = 0;
  RETURN n;
END $$;`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION admit_occupancy_of_event() RETURNS trigger LANGUAGE plpgsql AS $$
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
END $$`);
    await queryRunner.query(`CREATE OR REPLACE FUNCTION admit_occupancy_of_session() RETURNS trigger LANGUAGE plpgsql AS $$
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
END $$`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" DROP CONSTRAINT "FK_7d3ae003fbb72e0effdb79907d7"
    `);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" DROP CONSTRAINT "FK_9cfd79a0ff5c65e05b862aa3bd8"`);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" DROP CONSTRAINT "FK_001872b471a13918b033ad911e9"`);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" DROP CONSTRAINT "FK_e76d472b518acb7b3b65773689d"`);
    await queryRunner.query(`ALTER TABLE "event_occupancy" DROP CONSTRAINT "FK_c5c01481302bd1b2ad2199f0f64"`);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" DROP CONSTRAINT "FK_b29c339f5860de7c38ca0eef25c"`);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" DROP CONSTRAINT "FK_834c4a824408f606be02614095e"`);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" DROP CONSTRAINT "FK_496ebb74fdeab1254d18ca829ef"`);
    await queryRunner.query(`ALTER TABLE "attendance_segments" DROP CONSTRAINT "FK_9e4c05516cd74a0386be3da0edc"`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" DROP CONSTRAINT "FK_a8edc1456f59d8421d995251c62"
    `);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" DROP CONSTRAINT "FK_0e4e5cf5a352ec40e74ed19c663"`);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" DROP CONSTRAINT "FK_f3c3b7f11612d2cd30a1da42801"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_ffe18c5bd96ee267d0c6326f993"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "FK_fa944b9f58b62ea5c8f87113726"`);
    await queryRunner.query(`ALTER TABLE "attendance_rollups" DROP CONSTRAINT "PK_4fb02f07dab7f89925bd5787532"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "PK_b81d9e658fc343536b80dd723a9" PRIMARY KEY
        ("event_id", "user_id")
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" DROP CONSTRAINT "PK_5f8f1dc60ae19e47ac1a442d129"
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" ADD CONSTRAINT "PK_5a5fc3e8902bce6051ec49496c4" PRIMARY KEY
        ("id")
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_instants" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" DROP CONSTRAINT "PK_50cd46cc09160c166f2485dedc0"`);
    await queryRunner.query(`
      ALTER TABLE "session_hour_rollups" ADD CONSTRAINT "PK_df22891c3bb69f09be82758a2e4" PRIMARY KEY
        ("event_id", "hour")
    `);
    await queryRunner.query(`ALTER TABLE "session_hour_rollups" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" DROP CONSTRAINT "PK_55a3096f197edeba022980526ab"`);
    await queryRunner.query(`
      ALTER TABLE "session_minute_rollups" ADD CONSTRAINT "PK_c5e213cf41d9c414e1da727cdb2" PRIMARY KEY
        ("event_id", "minute")
    `);
    await queryRunner.query(`ALTER TABLE "session_minute_rollups" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" DROP CONSTRAINT "PK_9c299454a8a801bd11482e60c03"`);
    await queryRunner.query(`
      ALTER TABLE "session_second_rollups" ADD CONSTRAINT "PK_ee0971fa900aee334a807f8c93f" PRIMARY KEY
        ("event_id", "second")
    `);
    await queryRunner.query(`ALTER TABLE "session_second_rollups" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "event_occupancy" DROP CONSTRAINT "PK_c5c01481302bd1b2ad2199f0f64"`);
    await queryRunner.query(`
      ALTER TABLE "event_occupancy" ADD CONSTRAINT "PK_b9e969d6fec7689e7456b7435fd" PRIMARY KEY
        ("event_id")
    `);
    await queryRunner.query(`ALTER TABLE "event_occupancy" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" DROP CONSTRAINT "PK_392f9aa5c2d13f26b35527b0147"`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_windows" ADD CONSTRAINT "PK_7c3deb82e503313dd2313c5938e" PRIMARY KEY
        ("id")
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_windows" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" DROP CONSTRAINT "PK_8bcfe0867d3d78fa0d944d4a84f"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_gap_cells" ADD CONSTRAINT "PK_ada73dbb3246955383cdb9387c5" PRIMARY KEY
        ("event_id", "family", "end_minute", "start_minute")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_gap_cells" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" DROP CONSTRAINT "PK_ac6b6c5133c85eed6bff89d3070"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_window_minutes" ADD CONSTRAINT "PK_19efd3f708f12f695c3c2d3d369" PRIMARY KEY
        ("event_id", "family", "minute")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_window_minutes" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "attendance_segments" DROP CONSTRAINT "PK_4031fd5c8059a412765eab157ef"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_segments" ADD CONSTRAINT "PK_e220e3e303b4ebe149986aa6500" PRIMARY KEY
        ("event_id", "user_id", "family", "start_at")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_segments" DROP COLUMN "company_id"`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" DROP CONSTRAINT "PK_148fd6aa4ed027b8358540255e4"
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" ADD CONSTRAINT "PK_6efa0dbcfb5c8f9710f5fda54fe" PRIMARY
        KEY ("id")
    `);
    await queryRunner.query(`ALTER TABLE "analytics_pending_attendance" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" DROP CONSTRAINT "PK_2b43a5be3f42e016e60b505ee45"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_value_rollups" ADD CONSTRAINT "PK_e2a39ac55aa68020d5d87ac4e96" PRIMARY KEY
        ("event_id", "key", "value")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_value_rollups" DROP COLUMN "company_id"`);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" DROP CONSTRAINT "PK_f3c3b7f11612d2cd30a1da42801"`);
    await queryRunner.query(`
      ALTER TABLE "attendance_event_rollups" ADD CONSTRAINT "PK_4fee681baf47c3321909589b41f" PRIMARY KEY
        ("event_id")
    `);
    await queryRunner.query(`ALTER TABLE "attendance_event_rollups" DROP COLUMN "company_id"`);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_instants" ADD CONSTRAINT "FK_1658f8f4b6c2df9e7bf904dbbea"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_hour_rollups" ADD CONSTRAINT "FK_27e17a721e8b2ac8ffdfdf39615"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_minute_rollups" ADD CONSTRAINT "FK_7b2d4b8cb469ce89403e759fcb4"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "session_second_rollups" ADD CONSTRAINT "FK_4d89507ecf5541f6a2eaa6515c5"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "event_occupancy" ADD CONSTRAINT "FK_b9e969d6fec7689e7456b7435fd"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_windows" ADD CONSTRAINT "FK_0a6ae4088cc49274b8ab4a3dabe"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_gap_cells" ADD CONSTRAINT "FK_0afaa98be80e67825de129df991"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_window_minutes" ADD CONSTRAINT "FK_3e4fd0519457ecfb325f705df20"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_segments" ADD CONSTRAINT "FK_d9bf3832d730c2d9bf08750d526"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "analytics_pending_attendance" ADD CONSTRAINT "FK_03f2dde2a0011bd7b0baf1bba56"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_value_rollups" ADD CONSTRAINT "FK_78ad99c1795d02850b61e5f2af2"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_event_rollups" ADD CONSTRAINT "FK_4fee681baf47c3321909589b41f"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_39c00119886bc1ab87f11b64b42"
        FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
    await queryRunner.query(`
      ALTER TABLE "attendance_rollups" ADD CONSTRAINT "FK_f92709da37fdc626cff2b926759"
        FOREIGN KEY ("event_id") REFERENCES "events"("id") ON DELETE CASCADE ON UPDATE NO ACTION
    `);
  }
}
