import { ok, startTestApp, TestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { BEAT, HEADLINE, join, Joined, leave, mintToken, minuteAfter } from "./analytics-helpers";

/**
 * Live sessions count up to now, as the clock moves; one that idled out or passed its ejectAt
 * counts up to where the sweep will end it, before and after the sweep writes it down.
 *
 * The company's inactivity window is 600 s. Seconds from T0:
 *   U: X joins at 0, heartbeats at 300, never again (idles out at 900: ends at 300)
 *   V: joins at 250, leaves at 300
 *   U: Y joins at 350, never heartbeats (idles out at 950: ends at 350), overlapping X
 *   W: joins at 400 with ejectAfterElapsedSeconds 100 (ejected at 500)
 */

let t: TestApp;
let company: TestCompany;
let event: TestEvent;
let T0: Date;
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();
const headline = async (variables: Record<string, unknown> = {}) =>
  ok(await t.gql(HEADLINE, { id: event.id, ...variables }, { key: company.key })).eventAnalytics;

beforeAll(async () => {
  t = await startTestApp();
  company = await makeCompany(t);
  ok(
    await t.gql(
      `mutation { updateCompanySettings(input: { sessionInactivityTimeoutSeconds: 600 }) { id } }`,
      {},
      { key: company.key },
    ),
  );
  event = await makeEvent(t, company, { maxSessionsPerUser: 2 });
});
afterAll(async () => {
  await t.close();
});

describe("live sessions", () => {
  it("count up to now as the clock moves, without counting one user twice", async () => {
    const uToken = await mintToken(t, company, { eventId: event.id, user: { id: "u" } });
    const vToken = await mintToken(t, company, { eventId: event.id, user: { id: "v" } });
    const wToken = await mintToken(t, company, { eventId: event.id, user: { id: "w" }, ejectAfterElapsedSeconds: 100 });
    T0 = minuteAfter(t);

    t.clock.set(at(0));
    const x = await join(t, event, uToken);
    t.clock.set(at(100));
    expect(await headline()).toEqual({
      registrants: 0,
      attendees: 1,
      attendanceRate: null,
      sessions: 1,
      totalAttendanceSeconds: 100,
      averageAttendanceSeconds: 100,
      peakConcurrentSessions: 1,
    });
    t.clock.set(at(250));
    expect((await headline()).totalAttendanceSeconds).toBe(250);

    const v: Joined = await join(t, event, vToken);
    t.clock.set(at(300));
    ok(await t.gql(BEAT, { t: x.sessionToken }));
    await leave(t, v);
    t.clock.set(at(350));
    await join(t, event, uToken);
    t.clock.set(at(400));
    await join(t, event, wToken);

    t.clock.set(at(800));
    // U: X [0, 800) and Y [350, 800) merged = 800; V 50; W [400, 500) = 100, ejected though not yet swept.
    expect(await headline()).toMatchObject({
      attendees: 3,
      sessions: 4,
      totalAttendanceSeconds: 950,
      peakConcurrentSessions: 3,
    });
    // In [200, 450): U 250, V 50, W 50; at 400 X, Y and W run.
    expect(await headline({ from: iso(200), to: iso(450) })).toMatchObject({
      attendees: 3,
      sessions: 4,
      totalAttendanceSeconds: 350,
      peakConcurrentSessions: 3,
    });
    const TIMELINE = `query($id: ID!) { eventAnalytics(eventId: $id) { timeline(bucketSeconds: 60) { start activeSessions joins } } }`;
    const timeline = ok(await t.gql(TIMELINE, { id: event.id }, { key: company.key })).eventAnalytics.timeline;
    expect(timeline).toHaveLength(14); // [0, 60) … [780, 840): up to now
    expect(timeline[0]).toEqual({ start: iso(0), activeSessions: 1, joins: 1 });
    expect(timeline[4]).toEqual({ start: iso(240), activeSessions: 2, joins: 1 });
    expect(timeline[5]).toEqual({ start: iso(300), activeSessions: 2, joins: 1 }); // V ended at 300: X and Y
    expect(timeline[6]).toEqual({ start: iso(360), activeSessions: 3, joins: 1 }); // W
    expect(timeline[8]).toEqual({ start: iso(480), activeSessions: 3, joins: 0 }); // W ejected at 500
    expect(timeline[13]).toEqual({ start: iso(780), activeSessions: 2, joins: 0 });

    // Past both inactivity windows: X ends at its last heartbeat (300), Y at its join (350).
    t.clock.set(at(1000));
    const idle = await headline();
    expect(idle).toMatchObject({ attendees: 3, sessions: 4, totalAttendanceSeconds: 450, peakConcurrentSessions: 2 });
    const idleTimeline = ok(await t.gql(TIMELINE, { id: event.id }, { key: company.key })).eventAnalytics.timeline;
    expect(idleTimeline.map((b: any) => b.start)).toEqual([0, 60, 120, 180, 240, 300, 360, 420, 480].map(iso));

    // The sweep writes those ends down: nothing analytics shows changes.
    // (On a shared PostgreSQL test database the sweep also ends other files' sessions.)
    expect(await t.app.services.sessions.sweep()).toBeGreaterThanOrEqual(3);
    expect(await headline()).toEqual(idle);
    expect(ok(await t.gql(TIMELINE, { id: event.id }, { key: company.key })).eventAnalytics.timeline).toEqual(
      idleTimeline,
    );
    const live: { n: number }[] = await t.db.dataSource.query(
      `SELECT count(*)::int AS n FROM sessions WHERE event_id = $1 AND ended_at IS NULL`,
      [event.id],
    );
    expect(live[0].n).toBe(0);
  });
});
