import { ok, startTestApp, TestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { insertSessions, makeUsers, minuteAfter } from "./analytics-helpers";

/**
 * A dashboard listing events with their analytics, registrant counts and organizers costs the same
 * number of SQL statements for 10 events as for 100: one batched statement per group of numbers.
 */

let t: TestApp;
let company: TestCompany;
const events: TestEvent[] = [];
let T0: Date;
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

const DASHBOARD = `query($n: Int, $from: DateTime, $to: DateTime) { events(first: $n) { edges { node {
  id
  analytics(from: $from, to: $to) { registrants attendees attendanceRate sessions totalAttendanceSeconds peakConcurrentSessions }
  registrants(first: 3) { totalCount }
  organizers { email }
} } } }`;

beforeAll(async () => {
  t = await startTestApp();
  company = await makeCompany(t);
  for (let i = 0; i < 100; i++)
    events.push(await makeEvent(t, company, { organizers: [{ email: `boss${i}@example.com` }] }));
  const [u1, u2, u3] = await makeUsers(t, company, [{ externalId: "d1" }, { externalId: "d2" }, { externalId: "d3" }]);
  T0 = minuteAfter(t);
  t.clock.set(at(600));
  // Event i: (i % 3) + 1 registrants; u1 attends [0, 60), u2 [30, 90) when i is even, u3 is live from 100 when i % 5 == 0.
  const registrants: unknown[] = [];
  const sessions = [];
  for (const [i, e] of events.entries()) {
    for (let r = 0; r <= i % 3; r++)
      registrants.push([company.id, e.id, r === 0 ? u1 : null, `R${r}`, `r${r}@example.com`]);
    sessions.push({ eventId: e.id, userId: u1, joinedAt: at(0), endedAt: at(60) });
    if (i % 2 === 0) sessions.push({ eventId: e.id, userId: u2, joinedAt: at(30), endedAt: at(90) });
    if (i % 5 === 0)
      sessions.push({ eventId: e.id, userId: u3, joinedAt: at(100), lastSeenAt: at(590), endedAt: null });
  }
  await t.db.dataSource.query(
    `INSERT INTO registrants (company_id, event_id, user_id, name, email, email_normalized)
     SELECT c, e, u, n, m, m FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[]) AS x(c, e, u, n, m)`,
    [0, 1, 2, 3, 4].map((col) => registrants.map((r) => (r as unknown[])[col])),
  );
  await insertSessions(t, company.id, sessions);
});
afterAll(async () => {
  await t.close();
});

const expected = (i: number) => {
  const registrants = (i % 3) + 1;
  const live = i % 5 === 0;
  const attendees = 1 + (i % 2 === 0 ? 1 : 0) + (live ? 1 : 0);
  return {
    registrants,
    attendees,
    attendanceRate: 1 / registrants, // only u1 is linked to a registration
    sessions: attendees,
    totalAttendanceSeconds: 60 + (i % 2 === 0 ? 60 : 0) + (live ? 500 : 0),
    peakConcurrentSessions: i % 2 === 0 ? 2 : 1,
  };
};

describe("a dashboard of many events", () => {
  it("takes the same number of SQL statements for 10 and for 100 events", async () => {
    // Warm up: the first use of a key records its lastUsedAt, one statement more.
    ok(await t.gql(DASHBOARD, { n: 1 }, { key: company.key }));
    const ten = await t.statements.count(() => t.gql(DASHBOARD, { n: 10 }, { key: company.key }));
    const hundred = await t.statements.count(() => t.gql(DASHBOARD, { n: 100 }, { key: company.key }));
    const nodes = ok(hundred.result).events.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(100);
    expect(nodes.map((n: any) => n.id)).toEqual(events.map((e) => e.id));
    nodes.forEach((node: any, i: number) => {
      expect(node.analytics).toEqual(expected(i));
      expect(node.registrants.totalCount).toBe((i % 3) + 1);
      expect(node.organizers).toEqual([{ email: `boss${i}@example.com` }]);
    });
    expect(ok(ten.result).events.edges).toHaveLength(10);
    expect(hundred.statements.length).toBe(ten.statements.length);
    // Auth, the events page, the tenant check, registrant counts, attendee totals, activity,
    // the registrant page, its count, the principal lists: nothing per event.
    expect(hundred.statements.length).toBeLessThanOrEqual(9);
  });

  it("stays bounded with a window that cuts some sessions, and for companyAnalytics", async () => {
    const vars = { from: at(45).toISOString(), to: at(200).toISOString() };
    const ten = await t.statements.count(() => t.gql(DASHBOARD, { n: 10, ...vars }, { key: company.key }));
    const hundred = await t.statements.count(() => t.gql(DASHBOARD, { n: 100, ...vars }, { key: company.key }));
    expect(hundred.statements.length).toBe(ten.statements.length);
    const nodes = ok(hundred.result).events.edges.map((e: any) => e.node);
    // [45, 200): u1 15 s, u2 45 s, u3 100 s.
    expect(nodes[0].analytics).toMatchObject({
      attendees: 3,
      totalAttendanceSeconds: 160,
      sessions: 3,
      peakConcurrentSessions: 2,
    });
    expect(nodes[1].analytics).toMatchObject({
      attendees: 1,
      totalAttendanceSeconds: 15,
      sessions: 1,
      peakConcurrentSessions: 1,
    });

    const COMPANY = `query { companyAnalytics { events { event { id } attendees } totals { events uniqueAttendees sessions registrants totalAttendanceSeconds } } }`;
    const company100 = await t.statements.count(() => t.gql(COMPANY, {}, { key: company.key }));
    const data = ok(company100.result).companyAnalytics;
    expect(data.events).toHaveLength(100);
    expect(data.totals).toEqual({
      events: 100,
      uniqueAttendees: 3,
      sessions: events.reduce((sum, _, i) => sum + expected(i).sessions, 0),
      registrants: events.reduce((sum, _, i) => sum + expected(i).registrants, 0),
      totalAttendanceSeconds: events.reduce((sum, _, i) => sum + expected(i).totalAttendanceSeconds, 0),
    });
    expect(company100.statements.length).toBeLessThanOrEqual(10);
  });
});
