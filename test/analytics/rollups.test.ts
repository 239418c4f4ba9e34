import { ok, startTestApp, TestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { expectRollupsOfReference, insertSessions, makeUsers, minuteAfter, SessionRow } from "./analytics-helpers";
import * as ref from "./reference";

/**
 * The rollups are exactly what the raw rows say, after any mix of writes: random sessions (live,
 * ended, overlapping, zero-length, on second and minute boundaries), then ends, moved times,
 * deletions, cancelled and relinked registrations, edited metadata, concurrent ends, and sessions
 * moved across an hour's edge while folds run. And what
 * the API shows (from the rollups, or from the raw rows when a window cuts sessions) is what the
 * slow reference in reference.ts computes from the raw rows, both while instants wait in
 * analytics_pending_instants and once they are folded into the rollups.
 */

let t: TestApp;
let company: TestCompany;
let events: TestEvent[];
let T0: Date;
let NOW: number;
/** The first hour's edge (UTC) at or after T0, relative to it: sessions and windows meet it. */
let HOUR: number;
const at = (ms: number) => new Date(T0.getTime() + ms);

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = random(20260501);
const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
const int = (n: number) => Math.floor(rnd() * n);

beforeAll(async () => {
  t = await startTestApp();
  company = await makeCompany(t);
  ok(
    await t.gql(
      `mutation { updateCompanySettings(input: { sessionInactivityTimeoutSeconds: 900 }) { id } }`,
      {},
      { key: company.key },
    ),
  );
  T0 = minuteAfter(t);
  HOUR = Math.ceil(T0.getTime() / 3_600_000) * 3_600_000 - T0.getTime();
  events = [await makeEvent(t, company), await makeEvent(t, company, { endsAt: at(2_400_000).toISOString() })];
  const teams = ["red", "blue", "green", null];
  const users = await makeUsers(
    t,
    company,
    Array.from({ length: 25 }, (_, i) => ({
      externalId: `r${i}`,
      metadata: i % 4 === 0 ? {} : { team: pick(teams), level: int(4), ...(i % 3 === 0 ? { vip: true } : {}) },
    })),
  );
  // Registrations: most linked to a user, some not, metadata that overrides the user's.
  const registrants: { id: string; event_id: string; user_id: string | null }[] = await t.db.dataSource.query(
    `INSERT INTO registrants (company_id, event_id, user_id, name, email, email_normalized, metadata, created_at)
     SELECT $1, e, u, 'R', m, m, md::jsonb, now() + n * interval '1 millisecond'
       FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[]) AS x(e, u, m, md, n)
     RETURNING id, event_id, user_id`,
    (() => {
      const cols: unknown[][] = [[], [], [], [], []];
      for (let i = 0; i < 30; i++) {
        cols[0].push(i < 20 ? events[0].id : events[1].id);
        cols[1].push(i % 6 === 5 ? null : users[i % users.length]);
        cols[2].push(`reg${i}@example.com`);
        cols[3].push(JSON.stringify(i % 2 === 0 ? { team: pick(["red", "blue", "gold"]) } : {}));
        cols[4].push(i);
      }
      return [company.id, ...cols];
    })(),
  );

  NOW = 4_000_000;
  t.clock.set(at(NOW));
  const rows: SessionRow[] = [];
  for (let i = 0; i < 400; i++) {
    const event = i % 3 === 0 ? events[1] : events[0];
    const userId = users[Math.floor(Math.pow(rnd(), 1.7) * users.length)];
    const own = registrants.filter((r) => r.event_id === event.id && r.user_id === userId);
    const registrantId =
      own.length && rnd() < 0.5
        ? own[0].id
        : rnd() < 0.05
          ? pick(registrants.filter((r) => r.event_id === event.id)).id
          : null;
    let joined = int(3_600_000);
    if (rnd() < 0.15) {
      const unit = rnd() < 0.5 ? 1000 : 60_000;
      joined = Math.floor(joined / unit) * unit;
    }
    const live = rnd() < 0.2;
    let end = joined + (rnd() < 0.05 ? 0 : int(1_200_000));
    if (rnd() < 0.1) end = Math.ceil(end / 60_000) * 60_000;
    rows.push({
      eventId: event.id,
      userId,
      registrantId,
      role: pick(["ATTENDEE", "ATTENDEE", "ATTENDEE", "PRESENTER", "ORGANIZER"]),
      joinedAt: at(joined),
      lastSeenAt: at(live ? Math.min(NOW, joined + int(2_000_000)) : end),
      endedAt: live ? null : at(end),
      ejectAt: live && rnd() < 0.3 ? at(joined + int(3_000_000)) : null,
      metadata: rnd() < 0.5 ? { team: pick(teams), source: pick(["mail", "web"]) } : {},
    });
  }
  // Sessions that join or end on the hour's edge, a millisecond either side of it, or span it.
  for (const [joined, end] of [
    [HOUR, HOUR + 90_000],
    [HOUR - 120_000, HOUR],
    [HOUR - 1, HOUR + 1],
    [HOUR, HOUR],
    [HOUR - 1000, HOUR + 3_000_000],
    [HOUR - 1, null],
  ] as [number, number | null][]) {
    rows.push({
      eventId: events[0].id,
      userId: users[rows.length % users.length],
      role: "ATTENDEE",
      joinedAt: at(joined),
      lastSeenAt: at(end ?? Math.min(NOW, joined + 60_000)),
      endedAt: end === null ? null : at(end),
      metadata: {},
    });
  }
  // Several statement shapes: two multi-row inserts and single-row ones.
  await insertSessions(t, company.id, rows.slice(0, 200));
  await insertSessions(t, company.id, rows.slice(200, 350));
  for (const row of rows.slice(350)) await insertSessions(t, company.id, [row]);

  // Churn.
  const q = (sql: string, params: unknown[] = []) => t.db.dataSource.query(sql, params);
  const ids = async (where: string, n: number): Promise<string[]> =>
    (await q(`SELECT id FROM sessions WHERE company_id = $1 AND ${where} ORDER BY id LIMIT ${n}`, [company.id])).map(
      (r: { id: string }) => r.id,
    );
  await q(`UPDATE sessions SET ended_at = last_seen_at, end_reason = 'INACTIVE' WHERE id = ANY($1)`, [
    await ids("ended_at IS NULL", 8),
  ]);
  await q(`UPDATE sessions SET ended_at = ended_at + interval '7.5 seconds' WHERE id = ANY($1)`, [
    await ids("ended_at IS NOT NULL AND id::text LIKE '%a%'", 6),
  ]);
  await q(`UPDATE sessions SET joined_at = joined_at - interval '1 second' WHERE id = ANY($1)`, [
    await ids("id::text LIKE '%b%'", 4),
  ]);
  await q(`DELETE FROM sessions WHERE id = ANY($1)`, [
    [...(await ids("ended_at IS NOT NULL AND id::text LIKE '%c%'", 5)), ...(await ids("ended_at IS NULL", 2))],
  ]);
  await q(`UPDATE sessions SET metadata = '{"team":"black"}', role = 'ORGANIZER' WHERE id = ANY($1)`, [
    await ids("ended_at IS NOT NULL AND id::text LIKE '%d%'", 3),
  ]);
  await q(`UPDATE sessions SET last_seen_at = $2 WHERE id = ANY($1)`, [
    await ids("ended_at IS NULL", 5),
    at(NOW - 1000),
  ]);
  await q(`UPDATE registrants SET cancelled_at = now() WHERE id = ANY($1)`, [
    registrants.filter((_, i) => i % 7 === 3).map((r) => r.id),
  ]);
  await q(`UPDATE registrants SET user_id = $2 WHERE id = $1`, [
    registrants.find((r) => r.user_id === null)!.id,
    users[1],
  ]);
  await q(`UPDATE registrants SET metadata = '{"team":"silver","tier":2}' WHERE id = $1`, [registrants[0].id]);
  await q(`UPDATE users SET metadata = '{"team":"teal","level":9}' WHERE id = ANY($1)`, [users.slice(0, 3)]);
  await q(`DELETE FROM registrants WHERE id = $1`, [registrants[2].id]);
  // Concurrent transactions ending live sessions that share users, seconds and minutes.
  const concurrent = await ids("ended_at IS NULL", 12);
  await Promise.all(
    concurrent.map((id, i) =>
      t.db.dataSource.transaction(async (manager) => {
        await manager.query(`UPDATE sessions SET ended_at = $2, end_reason = 'LEFT' WHERE id = $1`, [
          id,
          at(3_700_000 + (i % 3) * 250),
        ]);
      }),
    ),
  );
  // Sessions moved across the hour's edge (removals: written at once, under the fold's lock) in
  // concurrent transactions, while folds run: the hours they leave and reach stay exact.
  const moved = await ids("ended_at IS NOT NULL AND id::text LIKE '%e%'", 8);
  await Promise.all([
    ...moved.map((id, i) =>
      t.db.dataSource.transaction(async (manager) => {
        await manager.query(
          `UPDATE sessions SET joined_at = $2, last_seen_at = GREATEST(ended_at, $2), ended_at = GREATEST(ended_at, $2) WHERE id = $1`,
          [id, at(HOUR + (i % 2 === 0 ? -1 : 0) + (i % 4) * 500)],
        );
      }),
    ),
    ...[1, 2].map(() => t.app.services.analytics.foldPending()),
  ]);
  // Last, sessions that only add instants (joins, and ends): those wait in
  // analytics_pending_instants until a fold, so the API's first answers must add them.
  const shift = (d: Date | null | undefined) => (d ? new Date(d.getTime() + 1234) : null);
  await insertSessions(
    t,
    company.id,
    rows.slice(0, 12).map((r) => ({
      ...r,
      joinedAt: shift(r.joinedAt)!,
      lastSeenAt: shift(r.lastSeenAt)!,
      endedAt: shift(r.endedAt),
      ejectAt: shift(r.ejectAt),
    })),
  );
  // A user whose only sessions are live, one in each event: in no attendance row, and one
  // attendee of the company.
  const [liveOnly] = await makeUsers(t, company, [{ externalId: "live-only" }]);
  await insertSessions(
    t,
    company.id,
    events.map((e) => ({
      eventId: e.id,
      userId: liveOnly,
      role: "ATTENDEE",
      joinedAt: at(NOW - 400_000),
      lastSeenAt: at(NOW - 5_000),
      endedAt: null,
      metadata: {},
    })),
  );
  // In each event, users with ended sessions who come back live: one with a value of "source"
  // (only sessions have it) that their rollup row does not have, one with another registration.
  for (const event of events) {
    const [a, b] = (
      await q(`SELECT user_id FROM attendance_rollups WHERE event_id = $1 ORDER BY user_id LIMIT 2`, [event.id])
    ).map((r: { user_id: string }) => r.user_id);
    const other = registrants.find((r) => r.event_id === event.id && r.user_id !== b && r.user_id !== null)!;
    await insertSessions(
      t,
      company.id,
      [
        { userId: a, metadata: { source: "phone" } },
        { userId: b, registrantId: other.id, metadata: {} },
      ].map((row) => ({
        eventId: event.id,
        role: "ATTENDEE",
        joinedAt: at(NOW - 200_000),
        lastSeenAt: at(NOW - 5_000),
        endedAt: null,
        ...row,
      })),
    );
  }
  // And registrations that wait in analytics_pending_registrants: a cancellation and a new one.
  await q(`UPDATE registrants SET cancelled_at = now() WHERE id = $1`, [registrants[5].id]);
  await q(
    `INSERT INTO registrants (company_id, event_id, user_id, name, email, email_normalized)
     VALUES ($1, $2, $3, 'Late', 'late@example.com', 'late@example.com')`,
    [company.id, events[1].id, liveOnly],
  );
}, 120_000);
afterAll(async () => {
  await t.close();
});

// The API first answers with the last writes' instants still pending, then once they are folded.
agreesWithTheReference("with instants still pending");

describe("rollups", () => {
  it("hold exactly what the raw sessions say, once what is pending is folded (by callers taking turns)", async () => {
    const [{ n: pending }] = await t.db.dataSource.query("SELECT count(*)::int AS n FROM analytics_pending_instants");
    expect(pending).toBeGreaterThan(10);
    const [{ n: pendingSums }] = await t.db.dataSource.query(
      "SELECT count(*)::int AS n FROM analytics_pending_attendance",
    );
    expect(pendingSums).toBeGreaterThan(3);
    const [{ n: pendingWindows }] = await t.db.dataSource.query(
      "SELECT count(*)::int AS n FROM analytics_pending_windows",
    );
    expect(pendingWindows).toBeGreaterThan(3);
    const [{ n: pendingRegistrants }] = await t.db.dataSource.query(
      "SELECT count(*)::int AS n FROM analytics_pending_registrants",
    );
    expect(pendingRegistrants).toBe(2);
    const moved = await Promise.all([1, 2, 3].map(() => t.app.services.analytics.foldPending()));
    expect(moved.reduce((a, b) => a + b, 0)).toBe(pending);
    expect((await t.db.dataSource.query("SELECT count(*)::int AS n FROM analytics_pending_instants"))[0].n).toBe(0);
    expect((await t.db.dataSource.query("SELECT count(*)::int AS n FROM analytics_pending_attendance"))[0].n).toBe(0);
    expect((await t.db.dataSource.query("SELECT count(*)::int AS n FROM analytics_pending_windows"))[0].n).toBe(0);
    expect((await t.db.dataSource.query("SELECT count(*)::int AS n FROM analytics_pending_registrants"))[0].n).toBe(0);
    // What each node does every minute (PGlite has no autovacuum): it runs on both databases.
    await t.app.services.analytics.vacuumPending();
    const raw = await ref.loadRaw(
      t,
      events.map((e) => e.id),
    );
    // The data set has what the rules are about: live sessions (some past their inactivity window,
    // ejectAt or event end), zero-length ones, and users with overlapping sessions.
    const now = at(NOW).getTime();
    const live = raw.sessions.filter((s) => !s.ended_at);
    expect(live.length).toBeGreaterThan(20);
    expect(live.filter((s) => ref.endOf(s, raw, now) < now).length).toBeGreaterThan(5);
    expect(
      raw.sessions.filter((s) => s.ended_at && s.ended_at.getTime() === s.joined_at.getTime()).length,
    ).toBeGreaterThan(3);
    const overlapping = raw.sessions.filter((a) =>
      raw.sessions.some(
        (b) =>
          b.id !== a.id &&
          b.user_id === a.user_id &&
          b.event_id === a.event_id &&
          b.joined_at >= a.joined_at &&
          b.joined_at.getTime() < ref.endOf(a, raw, now),
      ),
    );
    expect(overlapping.length).toBeGreaterThan(20);
    // The company's attendees (one row per user, counting the events with an attendance row) and
    // the live registrations per event are what the raw rows say.
    const attendedEvents = new Map<string, number>();
    for (const event of events) {
      for (const row of ref.expectedAttendanceRollups(raw, event.id))
        attendedEvents.set(row.user_id, (attendedEvents.get(row.user_id) ?? 0) + 1);
    }
    expect(
      await t.db.dataSource.query(
        "SELECT user_id, events FROM company_attendees WHERE company_id = $1 ORDER BY user_id",
        [company.id],
      ),
    ).toEqual(
      [...attendedEvents.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([user_id, n]) => ({ user_id, events: n })),
    );
    expect(
      await t.db.dataSource.query(
        "SELECT event_id, registrants FROM registrant_counts WHERE company_id = $1 ORDER BY event_id",
        [company.id],
      ),
    ).toEqual(
      events
        .map((e) => e.id)
        .sort()
        .map((id) => ({
          event_id: id,
          registrants: raw.registrants.filter((r) => r.event_id === id && r.cancelled_at === null).length,
        }))
        .filter((r) => r.registrants > 0),
    );
    for (const event of events) {
      const read = await expectRollupsOfReference(t, raw, event.id);
      // The data set has what each rollup is about.
      expect(read.attendance.length).toBeGreaterThan(5);
      expect(read.values.length).toBeGreaterThan(5);
      expect(read.hours.length).toBeGreaterThan(1);
      expect(read.segments.filter((s) => s.family === 1).length).toBeGreaterThan(3);
      expect(read.cells.length).toBeGreaterThan(5);
    }
  });
});

agreesWithTheReference("once folded");

function agreesWithTheReference(state: string) {
  describe(`analytics against the reference, ${state}`, () => {
    const HEADLINE = `query($id: ID!, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) {
      registrants attendees attendanceRate sessions totalAttendanceSeconds averageAttendanceSeconds peakConcurrentSessions } }`;
    const windows: ref.Window[] = [
      { from: null, to: null },
      { from: null, to: 1_800_000 },
      { from: 1_200_000, to: null },
      { from: 600_123, to: 2_400_456 },
      { from: 3_000_000, to: 3_060_000 },
      { from: 2_400_000, to: 4_500_000 }, // past the event end of the second event, and past now
      { from: -60_000, to: 5_000_000 }, // around everything: the rollups answer
    ];
    // On and a millisecond around the hour's edge, and whole hours (HOUR is set by beforeAll).
    const hourWindows = (): ref.Window[] => [
      { from: null, to: HOUR },
      { from: HOUR, to: null },
      { from: HOUR - 1, to: HOUR + 1 },
      { from: HOUR, to: HOUR + 3_600_000 },
      { from: HOUR - 3_600_000, to: HOUR },
    ];
    const vars = (w: ref.Window) => ({
      from: w.from === null ? null : at(w.from).toISOString(),
      to: w.to === null ? null : at(w.to).toISOString(),
    });
    const abs = (w: ref.Window): ref.Window => ({
      from: w.from === null ? null : at(w.from).getTime(),
      to: w.to === null ? null : at(w.to).getTime(),
    });

    it("agrees on the headline numbers, in every window", async () => {
      const raw = await ref.loadRaw(
        t,
        events.map((e) => e.id),
      );
      for (const event of events) {
        for (const w of [...windows, ...hourWindows()]) {
          const got = ok(await t.gql(HEADLINE, { id: event.id, ...vars(w) }, { key: company.key })).eventAnalytics;
          const want = ref.headline(raw, event.id, abs(w), at(NOW).getTime());
          expect({
            window: w,
            ...got,
            averageAttendanceSeconds: got.averageAttendanceSeconds?.toFixed(6) ?? null,
          }).toEqual({
            window: w,
            ...want,
            averageAttendanceSeconds: want.averageAttendanceSeconds?.toFixed(6) ?? null,
          });
        }
      }
    });

    it("agrees on the headline numbers over windows that cut sessions: at and inside minutes, on session instants", async () => {
      const raw = await ref.loadRaw(
        t,
        events.map((e) => e.id),
      );
      const now = at(NOW).getTime();
      // Instants (relative to T0) where sessions join or end, live ones as of now: windows starting
      // or ending exactly on one test the edges (a session ending at `from` is out, one joining at `to` too).
      const instants = raw.sessions
        .flatMap((s) => [s.joined_at.getTime(), ref.endOf(s, raw, now)])
        .map((ms) => ms - T0.getTime());
      const r = random(4242);
      const edge = (): number => {
        const kind = r();
        if (kind < 0.3) return instants[Math.floor(r() * instants.length)];
        if (kind < 0.35) return HOUR + (Math.floor(r() * 3) - 1) * 3_600_000 + Math.floor(r() * 3) - 1; // at or by an hour edge
        if (kind < 0.5) return Math.floor(r() * 70) * 60_000; // a minute edge
        if (kind < 0.6) return Math.floor(r() * 4_200) * 1000; // a second edge
        return Math.floor(r() * 4_200_000); // inside a minute
      };
      const windows: ref.Window[] = [];
      while (windows.length < 40) {
        const [a, b] = [edge(), edge()].sort((x, y) => x - y);
        if (a === b) continue;
        const open = r();
        windows.push({ from: open < 0.1 ? null : a, to: open > 0.9 ? null : b });
      }
      windows.push(
        { from: 59_999, to: 60_001 },
        { from: 60_000, to: 120_000 },
        { from: 60_000, to: 60_001 },
        { from: 3_599_999, to: 3_600_000 },
        // Whole minutes on both sides, several apart: the gaps inside come from whole cells alone.
        { from: 120_000, to: 3_540_000 },
        { from: 600_000, to: 2_400_000 },
      );
      for (const event of events) {
        for (const w of windows) {
          const got = ok(await t.gql(HEADLINE, { id: event.id, ...vars(w) }, { key: company.key })).eventAnalytics;
          const want = ref.headline(raw, event.id, abs(w), now);
          expect({
            window: w,
            ...got,
            averageAttendanceSeconds: got.averageAttendanceSeconds?.toFixed(6) ?? null,
          }).toEqual({
            window: w,
            ...want,
            averageAttendanceSeconds: want.averageAttendanceSeconds?.toFixed(6) ?? null,
          });
        }
      }
    }, 120_000);

    it("agrees on companyAnalytics, whole range and windows: users of both events count once", async () => {
      const raw = await ref.loadRaw(
        t,
        events.map((e) => e.id),
      );
      const now = at(NOW).getTime();
      const whole = ref.company(
        raw,
        events.map((e) => e.id),
        { from: null, to: null },
        now,
      );
      // What the whole range's count is about: users attending both events, and users whose only
      // sessions are live (in no attendance row).
      const perEvent = events.map((e) => ref.attendees(raw, e.id, { from: null, to: null }, now).length);
      expect(perEvent[0] + perEvent[1]).toBeGreaterThan(whole.uniqueAttendees);
      const ended = new Set(raw.sessions.filter((s) => s.ended_at).map((s) => s.user_id));
      expect(raw.sessions.some((s) => !s.ended_at && !ended.has(s.user_id))).toBe(true);
      const COMPANY = `query($from: DateTime, $to: DateTime) { companyAnalytics(from: $from, to: $to) {
        totals { events uniqueAttendees sessions registrants totalAttendanceSeconds } } }`;
      for (const w of [...windows, ...hourWindows()]) {
        const got = ok(await t.gql(COMPANY, vars(w), { key: company.key })).companyAnalytics.totals;
        const want = ref.company(
          raw,
          events.map((e) => e.id),
          abs(w),
          now,
        );
        expect({ window: w, ...got }).toEqual({ window: w, ...want });
      }
    });

    it("agrees on timelines, breakdowns and attendee lists", async () => {
      const raw = await ref.loadRaw(
        t,
        events.map((e) => e.id),
      );
      const now = at(NOW).getTime();
      const TIMELINE = `query($id: ID!, $w: Int!, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) {
        timeline(bucketSeconds: $w) { start activeSessions joins } } }`;
      const BREAKDOWN = `query($id: ID!, $key: String!, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) {
        breakdown(metadataKey: $key, first: 1000) { value attendees totalAttendanceSeconds } } }`;
      const LIST = `query($id: ID!, $after: String, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) {
        attendeeList(first: 7, after: $after) { totalCount edges { node { user { id } registrant { id } metadata firstJoinedAt totalAttendanceSeconds sessions role } }
        pageInfo { hasNextPage endCursor } } } }`;
      const byValue = (rows: { value: string | null }[]) =>
        [...rows].sort((a, b) => String(a.value).localeCompare(String(b.value)));
      // What breakdowns are about: live users whose value of a key differs from their rollup row's
      // (their ended sessions'), which move from one value to the other, and live users whose value
      // does not, which only add time.
      for (const event of events) {
        const whole = { from: null, to: null };
        const live = new Set(raw.sessions.filter((s) => s.event_id === event.id && !s.ended_at).map((s) => s.user_id));
        const stored = new Map(ref.attendees(raw, event.id, whole, now, true).map((a) => [a.userId, a.metadata]));
        const liveStored = ref
          .attendees(raw, event.id, whole, now)
          .filter((a) => live.has(a.userId) && stored.has(a.userId));
        const moves = (a: ref.RefAttendee) =>
          ["team", "source"].some((k) => stored.get(a.userId)![k] !== a.metadata[k]);
        expect(liveStored.filter(moves).length).toBeGreaterThan(0);
        expect(liveStored.filter((a) => !moves(a)).length).toBeGreaterThan(0);
      }
      for (const event of events) {
        for (const w of [...windows.slice(0, 5), ...hourWindows().slice(0, 3)]) {
          for (const bucketSeconds of [60, 7, 300, 3600, 7200]) {
            const got = ok(await t.gql(TIMELINE, { id: event.id, w: bucketSeconds, ...vars(w) }, { key: company.key }))
              .eventAnalytics.timeline;
            expect({ w, bucketSeconds, got }).toEqual({
              w,
              bucketSeconds,
              got: ref.timeline(raw, event.id, abs(w), now, bucketSeconds),
            });
          }
          for (const key of ["team", "level", "vip", "source", "tier"]) {
            const got = ok(await t.gql(BREAKDOWN, { id: event.id, key, ...vars(w) }, { key: company.key }))
              .eventAnalytics.breakdown;
            expect({ w, key, got: byValue(got) }).toEqual({
              w,
              key,
              got: byValue(ref.breakdown(raw, event.id, abs(w), now, key)),
            });
            // Most attendees first.
            expect(got.map((r: any) => r.attendees)).toEqual(
              [...got.map((r: any) => r.attendees)].sort((a, b) => b - a),
            );
          }
          const seen = [];
          let after: string | null = null;
          for (let page = 0; page < 50; page++) {
            const conn: any = ok(await t.gql(LIST, { id: event.id, after, ...vars(w) }, { key: company.key }))
              .eventAnalytics.attendeeList;
            seen.push(...conn.edges.map((e: any) => e.node));
            if (!conn.pageInfo.hasNextPage) break;
            after = conn.pageInfo.endCursor;
          }
          const want = ref.attendeeList(raw, event.id, abs(w), now);
          expect(
            seen.map((n: any) => ({
              userId: n.user.id,
              registrantId: n.registrant?.id ?? null,
              metadata: n.metadata,
              firstJoinedAt: n.firstJoinedAt,
              totalAttendanceSeconds: n.totalAttendanceSeconds,
              sessions: n.sessions,
              role: n.role,
            })),
          ).toEqual(want);
        }
      }
    }, 180_000); // a few hundred requests: slow on a busy machine, on PGlite above all
  });
}
