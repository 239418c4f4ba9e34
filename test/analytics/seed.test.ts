import { startTestApp, TestApp } from "../support/harness";
import { seedAnalytics } from "../../src/scripts/seed-analytics";
import * as ref from "./reference";

/**
 * `seed:analytics` inserts sessions by statements of some attendees, sets their join and end
 * instants aside and folds them by slices of time at the end. What it leaves must be what the
 * product's triggers and fold keep: the rollups of the seeded events are exactly what the slow
 * reference computes from the raw rows. The sizes are small here so that the seed crosses every
 * boundary it has: several statements, several folds of the sums, several slices of instants.
 */

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});

afterAll(async () => {
  await t.close();
});

const asIso = (d: Date | string) => new Date(d).toISOString();
const rows = (sql: string, eventId: string) => t.db.dataSource.query(sql, [eventId]);

test("the seeded rollups are what the raw rows say", async () => {
  const steps: string[] = [];
  const seeded = await seedAnalytics(
    t.db.dataSource,
    t.app.services.companies,
    {
      events: 2,
      registrants: 60,
      sessions: 1_500,
      sessionsPerStatement: 200,
      sessionsPerFold: 500,
      instantsPerFold: 700,
    },
    (step) => steps.push(step),
  );
  // The boundaries were crossed: folds of the sums within each event, slices of instants.
  expect(steps.filter((s) => /sessions; \d+ in/.test(s)).length).toBeGreaterThanOrEqual(6);
  expect(steps.filter((s) => /activity rollups: slice/.test(s)).length).toBeGreaterThanOrEqual(4);
  for (const table of ["analytics_pending_instants", "analytics_pending_attendance", "analytics_pending_windows"]) {
    expect((await t.db.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n).toBe(0);
  }

  const raw = await ref.loadRaw(t, seeded.eventIds);
  for (const eventId of seeded.eventIds) {
    expect(raw.sessions.filter((s) => s.event_id === eventId).length).toBe(1_500);
    const attendance = (
      await rows(
        `SELECT user_id, sessions, first_joined_at, attended_ms, role_rank, session_registrant_ids, registrant_id, registered, metadata
           FROM attendance_rollups WHERE event_id = $1 ORDER BY user_id`,
        eventId,
      )
    ).map((r: any) => ({
      ...r,
      first_joined_at: asIso(r.first_joined_at),
      attended_ms: Number(r.attended_ms),
      session_registrant_ids: [...r.session_registrant_ids].sort(),
    }));
    expect(attendance).toEqual(ref.expectedAttendanceRollups(raw, eventId));
    expect(
      await rows(
        "SELECT attendees, attended_ms::int AS attended_ms, registered FROM attendance_event_rollups WHERE event_id = $1",
        eventId,
      ),
    ).toEqual([ref.expectedEventSums(raw, eventId)]);
    expect(
      ref.sortByKeyAndValue(
        await rows(
          "SELECT key, value, attendees, attended_ms::int AS attended_ms FROM attendance_value_rollups WHERE event_id = $1",
          eventId,
        ),
      ),
    ).toEqual(ref.expectedValueSums(raw, eventId));

    const seconds = (
      await rows(
        `SELECT second, joins, ends, joins_at_start, ends_at_start, max_after, join_offsets, end_offsets
           FROM session_second_rollups WHERE event_id = $1 ORDER BY second`,
        eventId,
      )
    ).map((r: any) => ({
      ...r,
      second: asIso(r.second),
      // Multisets: the order within a second does not matter.
      join_offsets: r.join_offsets.map(Number).sort((x: number, y: number) => x - y),
      end_offsets: r.end_offsets.map(Number).sort((x: number, y: number) => x - y),
    }));
    expect(seconds).toEqual(ref.expectedSecondRollups(raw, eventId));
    const minutes = (
      await rows(
        `SELECT minute, joins, ends, joins_at_start, ends_at_start, max_after FROM session_minute_rollups WHERE event_id = $1 ORDER BY minute`,
        eventId,
      )
    ).map((r: any) => ({ ...r, minute: asIso(r.minute) }));
    expect(minutes).toEqual(ref.expectedMinuteRollups(raw, eventId));
    const hours = (
      await rows(
        `SELECT hour, joins, ends, joins_at_start, ends_at_start, max_after FROM session_hour_rollups WHERE event_id = $1 ORDER BY hour`,
        eventId,
      )
    ).map((r: any) => ({ ...r, hour: asIso(r.hour) }));
    expect(hours).toEqual(ref.expectedHourRollups(raw, eventId));

    const iso = (d: Date | null) => (d ? asIso(d) : null);
    const segments = (
      await rows(
        "SELECT user_id, family, start_at, end_at, prev_end FROM attendance_segments WHERE event_id = $1 ORDER BY user_id, family, start_at",
        eventId,
      )
    ).map((r: any) => ({ ...r, start_at: iso(r.start_at), end_at: iso(r.end_at), prev_end: iso(r.prev_end) }));
    expect(segments).toEqual(ref.expectedSegments(raw, eventId));
    // The per-minute counts of segments are what the segments say.
    const sorted = (sql: string) => rows(`SELECT * FROM (${sql}) x ORDER BY 1, 2`, eventId);
    expect(
      await sorted(`SELECT family, minute, starts, starts_offset_ms::bigint::text AS s_ms, ends, ends_offset_ms::bigint::text AS e_ms
                      FROM attendance_window_minutes WHERE event_id = $1`),
    ).toEqual(
      await sorted(`SELECT family, minute, sum(st)::int AS starts, sum(st_ms)::bigint::text AS s_ms, sum(en)::int AS ends, sum(en_ms)::bigint::text AS e_ms FROM (
          SELECT family, date_trunc('minute', start_at, 'UTC') AS minute, 1 AS st,
                 round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
            FROM attendance_segments WHERE event_id = $1
          UNION ALL
          SELECT family, date_trunc('minute', end_at, 'UTC'), 0, 0, 1, round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
            FROM attendance_segments WHERE event_id = $1) y GROUP BY 1, 2`),
    );
    expect(
      await rows(
        "SELECT family, end_minute, start_minute, gaps FROM attendance_gap_cells WHERE event_id = $1 ORDER BY 1, 2, 3",
        eventId,
      ),
    ).toEqual(
      await rows(
        `SELECT family, date_trunc('minute', prev_end, 'UTC') AS end_minute, date_trunc('minute', start_at, 'UTC') AS start_minute, count(*)::int AS gaps
           FROM attendance_segments WHERE event_id = $1 AND prev_end IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
        eventId,
      ),
    );
  }
}, 180_000);
