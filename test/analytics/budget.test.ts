/**
 * A request's item budget: timeline buckets, breakdown rows and page items, summed over aliases
 * and multiplied by the pages they sit in, at most 15,000, refused with BAD_USER_INPUT before any
 * SQL of the analytics runs. And the lists of a request are handed out a few thousand items per
 * event-loop turn, so one request does not hold the loop while others (and /healthz) wait.
 */
import { performance } from "node:perf_hooks";
import { GqlResponse, ok, startTestApp, TestApp } from "../support/harness";
import { REQUEST_ITEM_BUDGET } from "../../src/graphql/budget";
import { ITEMS_PER_TURN, Pacer } from "../../src/graphql/pacer";
import { ITEMS_PER_SLICE, stringifyInTurns } from "../../src/graphql/stringify";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { insertSessions, makeUsers, minuteAfter } from "./analytics-helpers";

let t: TestApp;
let company: TestCompany;
const events: TestEvent[] = [];
let T0: Date;
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const iso = (seconds: number) => at(seconds).toISOString();

beforeAll(async () => {
  t = await startTestApp();
  company = await makeCompany(t);
  for (let i = 0; i < 5; i++) events.push(await makeEvent(t, company));
  const [user] = await makeUsers(t, company, [{ externalId: "budget-1" }]);
  T0 = minuteAfter(t);
  t.clock.set(at(20_000));
  // Two events with a session: companyAnalytics finds them.
  await insertSessions(t, company.id, [
    { eventId: events[0].id, userId: user, joinedAt: at(0), endedAt: at(600) },
    { eventId: events[1].id, userId: user, joinedAt: at(60), endedAt: at(900) },
  ]);
  // The key's first use is recorded once; later requests are counted from here.
  ok(await t.gql(`{ company { id } }`, {}, { key: company.key }));
});
afterAll(async () => {
  await t.close();
});

/** The statements of the analytics a request ran (the API-key check is not one of them). */
async function analyticsStatements(
  work: () => Promise<GqlResponse>,
): Promise<{ res: GqlResponse; statements: string[] }> {
  const { result, statements } = await t.statements.count(work);
  return {
    res: result,
    statements: statements.filter((s) => /\bevents\b|sessions|rollups|registrants|generate_series/.test(s)),
  };
}

function expectRefused(res: GqlResponse, field: string): void {
  expect(res.status).toBe(400);
  expect(res.data).toBeUndefined();
  expect(res.errors).toHaveLength(1);
  expect(res.errors![0].extensions).toEqual({ code: "BAD_USER_INPUT", field });
  expect(res.errors![0].message).toMatch(/the limit is 15,000 per request/);
}

const DECADES = (eventId: string) =>
  `{ ${Array.from(
    { length: 19 },
    (_, i) =>
      `a${i}: eventAnalytics(eventId: "${eventId}", from: "2000-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { timeline(bucketSeconds: ${85_025 + i}) { start activeSessions joins } }`,
  ).join(" ")} }`;

describe("the item budget of a request", () => {
  it("is 15,000 items", () => {
    expect(REQUEST_ITEM_BUDGET).toBe(15_000);
  });

  it("refuses 19 aliases of a 26-year timeline (about 183,000 buckets, 12 MB) before any SQL runs", async () => {
    const query = DECADES(events[0].id);
    expect(query.length).toBeLessThan(4_000);
    const { res, statements } = await analyticsStatements(() => t.gql(query, {}, { key: company.key }));
    expectRefused(res, "bucketSeconds");
    expect(res.errors![0].message).toMatch(/^This request asks for up to 183,\d{3} list items/);
    expect(statements).toEqual([]);
  });

  it("counts arguments given as variables the same", async () => {
    const aliases = Array.from(
      { length: 19 },
      (_, i) => `a${i}: eventAnalytics(eventId: $id, from: $from, to: $to) { timeline(bucketSeconds: $w) { start } }`,
    );
    const query = `query($id: ID!, $from: DateTime, $to: DateTime, $w: Int!) { ${aliases.join(" ")} }`;
    const vars = { id: events[0].id, from: "2000-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z", w: 85_025 };
    const { res, statements } = await analyticsStatements(() => t.gql(query, vars, { key: company.key }));
    expectRefused(res, "bucketSeconds");
    expect(statements).toEqual([]);
    // One of them is a normal request.
    const one = `query($id: ID!, $from: DateTime, $to: DateTime, $w: Int!) { ${aliases[0]} }`;
    const width = vars.w * 1000;
    const buckets = Math.floor((Date.parse(vars.to) - 1) / width) - Math.floor(Date.parse(vars.from) / width) + 1;
    expect(buckets).toBeGreaterThan(9_600);
    expect(ok(await t.gql(one, vars, { key: company.key })).a0.timeline).toHaveLength(buckets);
  });

  it("lets the largest timeline through with a breakdown and an attendee page beside it", async () => {
    const query = `query($id: ID!, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) {
      timeline(bucketSeconds: 1) { start activeSessions }
      breakdown(metadataKey: "company", first: 1000) { value attendees }
      attendeeList(first: 100) { edges { node { firstJoinedAt } } } } }`;
    const data = ok(
      await t.gql(query, { id: events[0].id, from: iso(0), to: iso(10_000) }, { key: company.key }),
    ).eventAnalytics;
    expect(data.timeline).toHaveLength(10_000);
    expect(data.timeline[0]).toEqual({ start: iso(0), activeSessions: 1 });
    expect(data.attendeeList.edges).toHaveLength(1);
  });

  it("multiplies what a page's items ask for by the page size", async () => {
    const query = `query($n: Int, $from: DateTime, $to: DateTime) { events(first: $n) { edges { node { id
      analytics(from: $from, to: $to) { timeline(bucketSeconds: 60) { joins } } } } } }`;
    const day = { from: iso(0), to: iso(86_400) };
    // 20 events × 1,440 minutes.
    const { res, statements } = await analyticsStatements(() => t.gql(query, { n: 20, ...day }, { key: company.key }));
    expectRefused(res, "bucketSeconds");
    expect(res.errors![0].message).toMatch(/up to 28,820 list items/);
    expect(statements).toEqual([]);
    const five = ok(await t.gql(query, { n: 5, ...day }, { key: company.key })).events.edges;
    expect(five).toHaveLength(5);
    for (const edge of five) expect(edge.node.analytics.timeline).toHaveLength(1_440);
  });

  it("counts breakdown rows and nested pages, naming first", async () => {
    const breakdowns = Array.from(
      { length: 16 },
      (_, i) => `b${i}: breakdown(metadataKey: "k${i}", first: 1000) { value }`,
    ).join(" ");
    expectRefused(
      await t.gql(
        `query($id: ID!) { eventAnalytics(eventId: $id) { ${breakdowns} } }`,
        { id: events[0].id },
        { key: company.key },
      ),
      "first",
    );
    // Two dashboards of 100 events with 100 registrants each: 2 × (100 + 10,000). Page sizes in
    // variables, as client libraries send them, are out of the cost analysis' sight; not of the budget's.
    const page = `events(first: $n) { edges { node { registrants(first: $n) { edges { node { email } } } } } }`;
    expectRefused(await t.gql(`query($n: Int) { a: ${page} b: ${page} }`, { n: 100 }, { key: company.key }), "first");
    ok(await t.gql(`query($n: Int) { a: ${page} b: ${page} }`, { n: 70 }, { key: company.key }));
  });

  it("counts a timeline without a start at the most buckets a timeline may have", async () => {
    // Its start is the first join, unknown until its query runs: 10,000 buckets each.
    const timeline = (alias: string) =>
      `${alias}: eventAnalytics(eventId: $id) { timeline(bucketSeconds: 60) { joins } }`;
    const { res, statements } = await analyticsStatements(() =>
      t.gql(`query($id: ID!) { ${timeline("a")} ${timeline("b")} }`, { id: events[0].id }, { key: company.key }),
    );
    expectRefused(res, "bucketSeconds");
    expect(statements).toEqual([]);
    expect(
      ok(await t.gql(`query($id: ID!) { ${timeline("a")} }`, { id: events[0].id }, { key: company.key })).a.timeline,
    ).toHaveLength(10);
  });

  it("charges the company's events when they are found, before any of their timelines is drawn", async () => {
    const query = `query($from: DateTime, $to: DateTime) { companyAnalytics(from: $from, to: $to) { events { timeline(bucketSeconds: 1) { joins } } } }`;
    // Two events with sessions in the window, 10,000 buckets each.
    const { res, statements } = await analyticsStatements(() =>
      t.gql(query, { from: iso(0), to: iso(10_000) }, { key: company.key }),
    );
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "bucketSeconds" });
    expect(res.errors![0].message).toMatch(/up to 20,000 list items.*the limit is 15,000/);
    expect(statements.filter((s) => s.includes("generate_series"))).toEqual([]);
    // Half as many buckets each fit.
    const data = ok(await t.gql(query, { from: iso(0), to: iso(5_000) }, { key: company.key })).companyAnalytics;
    expect(data.events.map((e: { timeline: unknown[] }) => e.timeline.length)).toEqual([5_000, 5_000]);
  });

  it("still refuses a single timeline over 10,000 buckets by its own limit", async () => {
    const res = await t.gql(
      `query($id: ID!, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) { timeline(bucketSeconds: 1) { start } } }`,
      { id: events[0].id, from: iso(0), to: iso(12_000) },
      { key: company.key },
    );
    expect(res.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "bucketSeconds" });
    expect(res.errors![0].message).toMatch(/makes 12000 buckets; at most 10000/);
  });
});

describe("pacing", () => {
  /** Event-loop turns since it started: a setImmediate that queues itself runs once per turn. */
  function turnCounter(): { readonly turns: number; stop(): void } {
    let turns = 0;
    let stopped = false;
    const tick = () => {
      turns++;
      if (!stopped) setImmediate(tick);
    };
    setImmediate(tick);
    return {
      get turns() {
        return turns;
      },
      stop: () => (stopped = true),
    };
  }

  it("hands a request's lists out in turns of at most ITEMS_PER_TURN items, with the event loop free in between", async () => {
    const counter = turnCounter();
    const pacer = new Pacer();
    const seen: [string, number][] = [];
    const big = (name: string) =>
      pacer.pace(new Array(ITEMS_PER_TURN * 0.75).fill(0)).then(() => seen.push([name, counter.turns]));
    const small = (name: string) => pacer.pace([1, 2, 3]).then(() => seen.push([name, counter.turns]));
    await Promise.all([big("a"), small("a'"), big("b"), big("c")]);
    counter.stop();
    const turnOf = Object.fromEntries(seen);
    // a and a small list share a turn; b and c each have one of their own, later.
    expect(turnOf["a'"]).toBe(turnOf.a);
    expect(turnOf.b).toBeGreaterThan(turnOf.a);
    expect(turnOf.c).toBeGreaterThan(turnOf.b);
  });

  it("writes a response's long lists a slice per turn, exactly as JSON.stringify would", async () => {
    const bucket = (i: number) => {
      const row = Object.create(null) as Record<string, unknown>; // as graphql-js builds them
      row.start = new Date(i * 1000);
      row.activeSessions = i;
      row.joins = i % 2 ? null : 1;
      return row;
    };
    const long = Array.from({ length: ITEMS_PER_SLICE * 2 + 7 }, (_, i) => bucket(i));
    const responses = [
      { data: { a: { timeline: long, from: null }, b: { timeline: long.slice(0, 3) }, c: [] } },
      { data: { a: { timeline: long.slice(0, ITEMS_PER_SLICE) } } },
      { errors: [{ message: "x", extensions: { code: "BAD_USER_INPUT" } }], data: null },
      { data: { nested: [{ timeline: long }], empty: {}, gone: undefined, list: long.map((b) => [b.activeSessions]) } },
    ];
    for (const response of responses)
      expect(await stringifyInTurns(response as never)).toBe(`${JSON.stringify(response)}\n`);

    const counter = turnCounter();
    const before = counter.turns;
    await stringifyInTurns({ data: { a: { timeline: long } } });
    counter.stop();
    // Three slices, a turn apart.
    expect(counter.turns - before).toBeGreaterThanOrEqual(2);
  });

  it("keeps /healthz answering while 3 requests at the budget run (figures printed, not asserted: a shared machine is noisy)", async () => {
    const timeline = (alias: string, seconds: number) =>
      `${alias}: eventAnalytics(eventId: "${events[0].id}", from: "${iso(0)}", to: "${iso(seconds)}") { timeline(bucketSeconds: 1) { start activeSessions joins } }`;
    const query = `{ ${timeline("a", 10_000)} ${timeline("b", 4_900)} }`;
    let running = true;
    const probes: number[] = [];
    const probe = (async () => {
      while (running) {
        const started = performance.now();
        expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
        probes.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
    const started = performance.now();
    const answers = await Promise.all([1, 2, 3].map(() => t.gql(query, {}, { key: company.key })));
    const took = performance.now() - started;
    running = false;
    await probe;
    for (const answer of answers) expect(ok(answer).a.timeline).toHaveLength(10_000);
    probes.sort((a, b) => a - b);
    const rank = (p: number) => probes[Math.min(probes.length - 1, Math.ceil((p / 100) * probes.length) - 1)];
    process.stdout.write(
      `healthz while 3 requests of 14,900 buckets ran (${Math.round(took)} ms, in-process under jest, graphql-js in development mode; ` +
        `npm run bench:healthz measures a production build): ${probes.length} probes, p50 ${rank(50).toFixed(1)} ms, p99 ${rank(99).toFixed(1)} ms, max ${probes[probes.length - 1].toFixed(1)} ms\n`,
    );
  }, 60_000);
});
