import { codeOf, ok, startTestApp, TestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import {
  HEADLINE,
  insertSessions,
  join,
  Joined,
  leave,
  makeUsers,
  mintToken,
  minuteAfter,
  register,
  Registered,
  tokenOf,
} from "./analytics-helpers";

/**
 * One event built through the API with the clock moved between steps (seconds from T0):
 *
 *   U1 (organizer)  r1 ─────────────────────────────── [0, 300)
 *   U2              r2 ──────────── [0, 120)
 *   U3              r3     ──────────────────── [30, 240)
 *   U3              token              ──────────────────────── [150, 360)   overlaps its other session
 *   U4 (presenter)  r4         ─────────── [60, 180)
 *   r5 registers and never comes.
 *
 * Running sessions: [0,30) 2, [30,60) 3, [60,120) 4, [120,150) 3, [150,180) 4, [180,240) 3,
 * [240,300) 2, [300,360) 1. Registrants 5, attendees 4, all four registered: rate 0.8, peak 4,
 * 5 sessions. Seconds: U1 300, U2 120, U3 330 (not 210 + 210), U4 120: 870 in all.
 */

let t: TestApp;
let company: TestCompany;
let event: TestEvent;
let T0: Date;
const users: string[] = [];
const regs: Registered[] = [];
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();

beforeAll(async () => {
  t = await startTestApp();
  company = await makeCompany(t);
  event = await makeEvent(t, company, {
    maxSessionsPerUser: 3,
    organizers: [{ email: "a1@example.com" }],
    presenters: [{ email: "a4@example.com" }],
  });
  users.push(
    ...(await makeUsers(t, company, [
      { externalId: "u1", email: "a1@example.com", metadata: { jobTitle: "Engineer", country: "DE" } },
      { externalId: "u2", email: "a2@example.com", metadata: { jobTitle: "Manager" } },
      { externalId: "u3", email: "a3@example.com" },
      { externalId: "u4", email: "a4@example.com", metadata: { country: "FR" } },
    ])),
  );
  regs.push(await register(t, company, event, "a1@example.com", { company: "Acme" }));
  regs.push(await register(t, company, event, "a2@example.com", { company: "Acme", jobTitle: "VP" }));
  regs.push(await register(t, company, event, "a3@example.com", { company: "Globex" }));
  regs.push(await register(t, company, event, "a4@example.com", {}));
  regs.push(await register(t, company, event, "a5@example.com", { company: "Initech" }));
  const u3Token = await mintToken(t, company, {
    eventId: event.id,
    user: { id: "u3", email: "a3@example.com" },
    metadata: { company: "TokenCo", source: "email" },
  });

  T0 = minuteAfter(t);
  t.clock.set(at(0));
  const s1 = await join(t, event, tokenOf(regs[0].joinUrl));
  const s2 = await join(t, event, tokenOf(regs[1].joinUrl));
  t.clock.set(at(30));
  const s3 = await join(t, event, tokenOf(regs[2].joinUrl));
  t.clock.set(at(60));
  const s4 = await join(t, event, tokenOf(regs[3].joinUrl));
  t.clock.set(at(120));
  await leave(t, s2);
  t.clock.set(at(150));
  const s3b = await join(t, event, u3Token);
  t.clock.set(at(180));
  await leave(t, s4);
  t.clock.set(at(240));
  await leave(t, s3);
  t.clock.set(at(300));
  await leave(t, s1);
  t.clock.set(at(360));
  await leave(t, s3b);
  expect([s1, s2, s3, s3b, s4].map((s: Joined) => s.session.userId)).toEqual([
    users[0],
    users[1],
    users[2],
    users[2],
    users[3],
  ]);
  t.clock.set(at(1000));
});
afterAll(async () => {
  await t.close();
});

describe("eventAnalytics", () => {
  it("counts registrants, attendees, rate, sessions, time and peak by hand", async () => {
    const data = ok(await t.gql(HEADLINE, { id: event.id }, { key: company.key }));
    expect(data.eventAnalytics).toEqual({
      registrants: 5,
      attendees: 4,
      attendanceRate: 0.8,
      sessions: 5,
      totalAttendanceSeconds: 870,
      averageAttendanceSeconds: 217.5,
      peakConcurrentSessions: 4,
    });
  });

  it("clips sessions to the window", async () => {
    // [100, 200): U1 100, U2 20, U3 100 (two sessions merged), U4 80; at 100 all four run.
    const mid = ok(await t.gql(HEADLINE, { id: event.id, from: iso(100), to: iso(200) }, { key: company.key }));
    expect(mid.eventAnalytics).toEqual({
      registrants: 5,
      attendees: 4,
      attendanceRate: 0.8,
      sessions: 5,
      totalAttendanceSeconds: 300,
      averageAttendanceSeconds: 75,
      peakConcurrentSessions: 4,
    });
    // [200, 260): U1 60, U3 60; sessions s1, s3, s3b; three run at 200.
    const late = ok(await t.gql(HEADLINE, { id: event.id, from: iso(200), to: iso(260) }, { key: company.key }));
    expect(late.eventAnalytics).toEqual({
      registrants: 5,
      attendees: 2,
      attendanceRate: 0.4,
      sessions: 3,
      totalAttendanceSeconds: 120,
      averageAttendanceSeconds: 60,
      peakConcurrentSessions: 3,
    });
    // A session ending exactly where the window starts is not in it: [120.000, 121) has s1, s3, s4.
    const edge = ok(await t.gql(HEADLINE, { id: event.id, from: iso(120), to: iso(121) }, { key: company.key }));
    expect(edge.eventAnalytics).toMatchObject({
      attendees: 3,
      sessions: 3,
      totalAttendanceSeconds: 3,
      peakConcurrentSessions: 3,
    });
    // Milliseconds count: [119.5, 120.5) holds the last half second of s2.
    const half = ok(
      await t.gql(
        HEADLINE,
        {
          id: event.id,
          from: new Date(at(119).getTime() + 500).toISOString(),
          to: new Date(at(120).getTime() + 500).toISOString(),
        },
        { key: company.key },
      ),
    );
    expect(half.eventAnalytics).toMatchObject({
      attendees: 4,
      sessions: 4,
      peakConcurrentSessions: 4,
      averageAttendanceSeconds: 0.875,
    });
    // Nothing happened before T0.
    const before = ok(await t.gql(HEADLINE, { id: event.id, from: iso(-600), to: iso(0) }, { key: company.key }));
    expect(before.eventAnalytics).toMatchObject({
      attendees: 0,
      sessions: 0,
      totalAttendanceSeconds: 0,
      averageAttendanceSeconds: null,
      peakConcurrentSessions: 0,
    });
    // A window around everything answers as no window.
    const around = ok(await t.gql(HEADLINE, { id: event.id, from: iso(-60), to: iso(900) }, { key: company.key }));
    expect(around.eventAnalytics).toMatchObject({
      attendees: 4,
      sessions: 5,
      totalAttendanceSeconds: 870,
      peakConcurrentSessions: 4,
    });
  });

  it("draws a timeline in buckets", async () => {
    const QUERY = `query($id: ID!, $w: Int!, $from: DateTime, $to: DateTime) {
      eventAnalytics(eventId: $id, from: $from, to: $to) { timeline(bucketSeconds: $w) { start activeSessions joins } } }`;
    const minutes = ok(await t.gql(QUERY, { id: event.id, w: 60 }, { key: company.key })).eventAnalytics.timeline;
    expect(minutes).toEqual([
      { start: iso(0), activeSessions: 3, joins: 3 },
      { start: iso(60), activeSessions: 4, joins: 1 },
      // s2 ended exactly at 120: not running in [120, 180).
      { start: iso(120), activeSessions: 4, joins: 1 },
      { start: iso(180), activeSessions: 3, joins: 0 },
      { start: iso(240), activeSessions: 2, joins: 0 },
      { start: iso(300), activeSessions: 1, joins: 0 },
    ]);
    // 90-second buckets read seconds, not minutes; the window cuts the first and last.
    const cut = ok(await t.gql(QUERY, { id: event.id, w: 90, from: iso(100), to: iso(200) }, { key: company.key }))
      .eventAnalytics.timeline;
    const bucket = (k: number) => new Date(Math.floor((at(0).getTime() / 1000 + k) / 90) * 90 * 1000).toISOString();
    const expected = [];
    for (let s = Math.floor(at(100).getTime() / 1000 / 90) * 90; s * 1000 < at(200).getTime(); s += 90) {
      const b0 = Math.max(s * 1000, at(100).getTime());
      const b1 = Math.min((s + 90) * 1000, at(200).getTime());
      const sessions: [number, number][] = [
        [0, 300],
        [0, 120],
        [30, 240],
        [150, 360],
        [60, 180],
      ];
      const ms = sessions.map(([a, b]) => [at(a).getTime(), at(b).getTime()]);
      expected.push({
        start: new Date(s * 1000).toISOString(),
        activeSessions: ms.filter(([a, b]) => a < b1 && b > b0).length,
        joins: ms.filter(([a]) => a >= b0 && a < b1).length,
      });
    }
    expect(cut).toEqual(expected);
    expect(cut[0].start).toBe(bucket(100));
  });

  it("breaks attendees down by metadata: registrant, else user, else session", async () => {
    const QUERY = `query($id: ID!, $key: String!) { eventAnalytics(eventId: $id) { breakdown(metadataKey: $key) { value attendees totalAttendanceSeconds } } }`;
    const by = async (key: string) =>
      ok(await t.gql(QUERY, { id: event.id, key }, { key: company.key })).eventAnalytics.breakdown;
    expect(await by("company")).toEqual([
      { value: "Acme", attendees: 2, totalAttendanceSeconds: 420 },
      // U3's registrant says Globex; its latest session's token said TokenCo.
      { value: "Globex", attendees: 1, totalAttendanceSeconds: 330 },
      { value: null, attendees: 1, totalAttendanceSeconds: 120 },
    ]);
    expect(await by("jobTitle")).toEqual([
      { value: null, attendees: 2, totalAttendanceSeconds: 450 },
      // U1's user metadata; U2's registrant (VP) beats its user (Manager).
      { value: "Engineer", attendees: 1, totalAttendanceSeconds: 300 },
      { value: "VP", attendees: 1, totalAttendanceSeconds: 120 },
    ]);
    expect(await by("source")).toEqual([
      { value: null, attendees: 3, totalAttendanceSeconds: 540 },
      { value: "email", attendees: 1, totalAttendanceSeconds: 330 },
    ]);
    expect(await by("nothing")).toEqual([{ value: null, attendees: 4, totalAttendanceSeconds: 870 }]);
    const empty = await t.gql(QUERY, { id: event.id, key: "  " }, { key: company.key });
    expect(empty.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "metadataKey" });
  });

  it("pages attendees with their metadata, first join, time, sessions and highest role", async () => {
    const QUERY = `query($id: ID!, $after: String) { eventAnalytics(eventId: $id) {
      attendeeList(first: 3, after: $after) {
        totalCount
        edges { cursor node { user { id externalId } registrant { id email } metadata firstJoinedAt totalAttendanceSeconds sessions role } }
        pageInfo { hasNextPage endCursor }
      } } }`;
    const first = ok(await t.gql(QUERY, { id: event.id }, { key: company.key })).eventAnalytics.attendeeList;
    expect(first.totalCount).toBe(4);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = ok(await t.gql(QUERY, { id: event.id, after: first.pageInfo.endCursor }, { key: company.key }))
      .eventAnalytics.attendeeList;
    expect(second.pageInfo.hasNextPage).toBe(false);
    const nodes = [...first.edges, ...second.edges].map((e: any) => e.node);
    // By first join, then user id: U1 and U2 both joined at 0.
    const [a, b] = [users[0], users[1]].sort();
    expect(nodes.map((n: any) => n.user.id)).toEqual([a, b, users[2], users[3]]);
    const byUser = Object.fromEntries(nodes.map((n: any) => [n.user.externalId, n]));
    expect(byUser.u1).toEqual({
      user: { id: users[0], externalId: "u1" },
      registrant: { id: regs[0].id, email: "a1@example.com" },
      metadata: { company: "Acme", jobTitle: "Engineer", country: "DE" },
      firstJoinedAt: iso(0),
      totalAttendanceSeconds: 300,
      sessions: 1,
      role: "ORGANIZER",
    });
    expect(byUser.u3).toEqual({
      user: { id: users[2], externalId: "u3" },
      // The latest session came with a token, not the registration: the registration is the user's.
      registrant: { id: regs[2].id, email: "a3@example.com" },
      metadata: { company: "Globex", source: "email" },
      firstJoinedAt: iso(30),
      totalAttendanceSeconds: 330,
      sessions: 2,
      role: "ATTENDEE",
    });
    expect(byUser.u2.metadata).toEqual({ company: "Acme", jobTitle: "VP" });
    expect(byUser.u4).toMatchObject({
      role: "PRESENTER",
      metadata: { country: "FR" },
      sessions: 1,
      totalAttendanceSeconds: 120,
    });

    // Windowed pages come from the raw sessions, in the same order.
    const WINDOWED = `query($id: ID!, $from: DateTime, $after: String) { eventAnalytics(eventId: $id, from: $from) {
      attendeeList(first: 1, after: $after) { edges { node { user { externalId } totalAttendanceSeconds sessions } } pageInfo { hasNextPage endCursor } } } }`;
    const seen = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: any = ok(await t.gql(WINDOWED, { id: event.id, from: iso(200), after }, { key: company.key }))
        .eventAnalytics.attendeeList;
      seen.push(...page.edges.map((e: any) => e.node));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual([
      { user: { externalId: "u1" }, totalAttendanceSeconds: 100, sessions: 1 },
      { user: { externalId: "u3" }, totalAttendanceSeconds: 160, sessions: 2 },
    ]);

    const bad = await t.gql(QUERY, { id: event.id, after: "nope" }, { key: company.key });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "after" });
  });

  it("answers Event.analytics the same, and companyAnalytics per event and in total", async () => {
    const viaEvent = ok(
      await t.gql(
        `query($id: ID!) { event(id: $id) { analytics { registrants attendees attendanceRate sessions totalAttendanceSeconds peakConcurrentSessions } } }`,
        { id: event.id },
        { key: company.key },
      ),
    );
    expect(viaEvent.event.analytics).toEqual({
      registrants: 5,
      attendees: 4,
      attendanceRate: 0.8,
      sessions: 5,
      totalAttendanceSeconds: 870,
      peakConcurrentSessions: 4,
    });

    const COMPANY = `query($from: DateTime, $to: DateTime) { companyAnalytics(from: $from, to: $to) {
      events { event { id name } registrants attendees sessions totalAttendanceSeconds peakConcurrentSessions }
      totals { events uniqueAttendees sessions registrants totalAttendanceSeconds } } }`;
    const all = ok(await t.gql(COMPANY, {}, { key: company.key })).companyAnalytics;
    expect(all.events).toEqual([
      {
        event: { id: event.id, name: expect.any(String) },
        registrants: 5,
        attendees: 4,
        sessions: 5,
        totalAttendanceSeconds: 870,
        peakConcurrentSessions: 4,
      },
    ]);
    expect(all.totals).toEqual({
      events: 1,
      uniqueAttendees: 4,
      sessions: 5,
      registrants: 5,
      totalAttendanceSeconds: 870,
    });
    const late = ok(await t.gql(COMPANY, { from: iso(200), to: iso(260) }, { key: company.key })).companyAnalytics;
    expect(late.totals).toEqual({
      events: 1,
      uniqueAttendees: 2,
      sessions: 3,
      registrants: 5,
      totalAttendanceSeconds: 120,
    });
    const none = ok(await t.gql(COMPANY, { from: iso(-600), to: iso(-300) }, { key: company.key })).companyAnalytics;
    expect(none).toEqual({
      events: [],
      totals: { events: 0, uniqueAttendees: 0, sessions: 0, registrants: 0, totalAttendanceSeconds: 0 },
    });
  });
});

describe("an event whose attendance outgrows 32-bit integers", () => {
  it("answers its total and its breakdown's exactly", async () => {
    // 10 people who each stayed 2,500 days: 2,160,000,000 s, past 2,147,483,647 (a GraphQL Int).
    const long = await makeEvent(t, company);
    const people = await makeUsers(
      t,
      company,
      Array.from({ length: 10 }, (_, i) => ({ externalId: `marathon-${i}`, metadata: { team: "Long" } })),
    );
    const end = t.clock.now();
    const start = new Date(end.getTime() - 2_500 * 86_400_000);
    await insertSessions(
      t,
      company.id,
      people.map((userId) => ({ eventId: long.id, userId, joinedAt: start, endedAt: end })),
    );
    const QUERY = `query($id: ID!) { eventAnalytics(eventId: $id) {
      attendees totalAttendanceSeconds breakdown(metadataKey: "team") { value attendees totalAttendanceSeconds } } }`;
    expect(ok(await t.gql(QUERY, { id: long.id }, { key: company.key })).eventAnalytics).toEqual({
      attendees: 10,
      totalAttendanceSeconds: 2_160_000_000,
      breakdown: [{ value: "Long", attendees: 10, totalAttendanceSeconds: 2_160_000_000 }],
    });
  });
});

describe("who may read analytics", () => {
  it("gives another company NOT_FOUND, and refuses keys without READ_ANALYTICS", async () => {
    const other = await makeCompany(t);
    const foreign = await t.gql(HEADLINE, { id: event.id }, { key: other.key });
    expect(codeOf(foreign)).toBe("NOT_FOUND");
    expect(JSON.stringify(foreign.data ?? null)).not.toContain("870");
    const missing = await t.gql(HEADLINE, { id: "00000000-0000-4000-8000-000000000000" }, { key: company.key });
    expect(codeOf(missing)).toBe("NOT_FOUND");
    expect(codeOf(await t.gql(HEADLINE, { id: "not-a-uuid" }, { key: company.key }))).toBe("NOT_FOUND");

    const created = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "events only", scopes: [MANAGE_EVENTS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    );
    const narrow = created.createApiKey.secret;
    expect(codeOf(await t.gql(HEADLINE, { id: event.id }, { key: narrow }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(`query { companyAnalytics { totals { events } } }`, {}, { key: narrow }))).toBe(
      "FORBIDDEN",
    );
    const viaEvent = await t.gql(
      `query($id: ID!) { event(id: $id) { id analytics { attendees } } }`,
      { id: event.id },
      { key: narrow },
    );
    expect(codeOf(viaEvent)).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(HEADLINE, { id: event.id }))).toBe("UNAUTHENTICATED");
  });

  it("refuses a window that ends before it starts, and timelines with too many buckets", async () => {
    const reversed = await t.gql(HEADLINE, { id: event.id, from: iso(100), to: iso(100) }, { key: company.key });
    expect(reversed.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "to" });
    const TIMELINE = `query($id: ID!, $w: Int!, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) { timeline(bucketSeconds: $w) { start } } }`;
    for (const w of [0, -60]) {
      const res = await t.gql(TIMELINE, { id: event.id, w }, { key: company.key });
      expect(res.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "bucketSeconds" });
    }
    // A day in seconds is 86,400 buckets.
    const day = await t.gql(TIMELINE, { id: event.id, w: 1, from: iso(0), to: iso(86_400) }, { key: company.key });
    expect(day.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "bucketSeconds" });
    expect(day.data ?? null).toBeNull();
    // Without a window the span comes from the data: 360 one-second buckets are fine, and so is the exact limit.
    expect(
      ok(await t.gql(TIMELINE, { id: event.id, w: 1 }, { key: company.key })).eventAnalytics.timeline,
    ).toHaveLength(360);
    expect(
      ok(await t.gql(TIMELINE, { id: event.id, w: 1, from: iso(0), to: iso(10_000) }, { key: company.key }))
        .eventAnalytics.timeline,
    ).toHaveLength(10_000);
    const over = await t.gql(TIMELINE, { id: event.id, w: 1, from: iso(0), to: iso(10_001) }, { key: company.key });
    expect(over.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "bucketSeconds" });
  });
});

describe("changes after the fact", () => {
  it("follow a cancelled registration and edited user metadata at once", async () => {
    ok(
      await t.gql(
        `mutation($id: ID!) { cancelRegistration(id: $id) { id } }`,
        { id: regs[3].id },
        { key: company.key },
      ),
    );
    ok(
      await t.gql(
        `mutation { upsertUser(input: { externalId: "u1", metadata: { jobTitle: "CTO" } }) { id } }`,
        {},
        { key: company.key },
      ),
    );
    const data = ok(
      await t.gql(
        `query($id: ID!) { eventAnalytics(eventId: $id) {
          registrants attendees attendanceRate
          breakdown(metadataKey: "jobTitle") { value attendees }
          attendeeList(first: 10) { edges { node { user { externalId } registrant { id } } } } } }`,
        { id: event.id },
        { key: company.key },
      ),
    );
    // U4 still attended, but its registration is cancelled: 3 registered attendees of 4 registrants.
    expect(data.eventAnalytics).toMatchObject({ registrants: 4, attendees: 4, attendanceRate: 0.75 });
    expect(data.eventAnalytics.breakdown).toEqual([
      { value: null, attendees: 2 },
      { value: "CTO", attendees: 1 },
      { value: "VP", attendees: 1 },
    ]);
    // The session came with the registration: it is still the one shown, cancelled or not.
    const u4 = data.eventAnalytics.attendeeList.edges
      .map((e: any) => e.node)
      .find((n: any) => n.user.externalId === "u4");
    expect(u4.registrant).toEqual({ id: regs[3].id });
  });
});
