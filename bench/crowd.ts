/**
 * The crowd at the door, as pieces: an HTTP client light enough to be a crowd, the companies,
 * events, join tokens, registrants and login links it comes with, the three rounds of
 * `npm run bench:crowd` (see crowd-bench.ts) and their checks. Used by crowd-bench.ts,
 * cluster-bench.ts and the cluster test (test/process/cluster.test.ts).
 */
import http from "node:http";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { PGlite } from "@electric-sql/pglite";
import { gql } from "./support";
import { BenchDatabase, parallel, percentile, sleep } from "./harness";

export const JOIN_CLIENTS = 64;
export const HEARTBEAT_CLIENTS = 16;
/** Compressed time: a session's heartbeats come at least this far apart. */
const HEARTBEAT_PERIOD_MS = 1000;
const MINT_CONCURRENCY = 16;
const REQUEST_TIMEOUT_MS = 120_000;
/** How long analytics may take to fold the last joins in. */
const ANALYTICS_WAIT_MS = 15_000;
const PROGRESS_EVERY_MS = 30_000;

const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`;
export const JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken } }`;
const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active sessionToken } }`;

/** One request's answer: its status (0 when none came), text, when it was sent and how long it took (ms). */
export interface Answer {
  status: number;
  text: string;
  /** performance.now() when it was sent. */
  at: number;
  ms: number;
}

/** Requests to one origin over at most `sockets` kept-alive connections; lighter than fetch per request. */
export class Poster {
  private readonly agent: http.Agent;
  private readonly target: URL;

  /**
   * `url`: where `post` sends (a /graphql URL); `get` takes other paths of the same origin.
   * `keepAlive` false: a connection of its own for each request (`connection: close`; Node's
   * agent says so only without a socket limit, and would otherwise hand a freed socket to a
   * waiting request), at most `sockets` at once all the same when the caller awaits each answer.
   */
  constructor(url: string, sockets: number, keepAlive = true) {
    this.target = new URL(url);
    this.agent = keepAlive ? new http.Agent({ keepAlive, maxSockets: sockets }) : new http.Agent({ keepAlive: false });
  }

  post(body: string): Promise<Answer> {
    return this.send("POST", this.target.pathname, body);
  }

  /** A GET of a path (a login link's /login/<code>); redirects are not followed. */
  get(pathname: string): Promise<Answer> {
    return this.send("GET", pathname, null);
  }

  private send(method: string, pathname: string, body: string | null): Promise<Answer> {
    const at = performance.now();
    return new Promise((resolve) => {
      const done = (status: number, text: string) => resolve({ status, text, at, ms: performance.now() - at });
      const request = http.request(
        {
          host: this.target.hostname,
          port: this.target.port,
          path: pathname,
          method,
          agent: this.agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers:
            body === null ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => done(response.statusCode ?? 0, Buffer.concat(chunks).toString()));
          response.on("error", (error) => done(0, String(error)));
        },
      );
      request.on("timeout", () => request.destroy(new Error("timed out")));
      request.on("error", (error) => done(0, String(error)));
      request.end(body ?? undefined);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface GraphQLAnswer {
  data?: Record<string, { sessionToken?: string | null; active?: boolean } | null> | null;
  errors?: { extensions?: { code?: string } }[];
}

/** The session token of a joinEvent answer, or the reason there is none (an error code). */
export function joinOutcome(status: number, text: string): { sessionToken: string } | { code: string } {
  if (status === 0) return { code: `no answer (${text})` };
  try {
    const answer = JSON.parse(text) as GraphQLAnswer;
    const sessionToken = answer.data?.joinEvent?.sessionToken;
    if (sessionToken) return { sessionToken };
    return { code: answer.errors?.[0]?.extensions?.code ?? `HTTP ${status}` };
  } catch {
    return { code: `HTTP ${status}, not JSON` };
  }
}

export interface RoundFigures {
  seconds: number;
  admitted: number;
  /** Answers without a session, by error code. */
  refused: Map<string, number>;
  joinMs: number[];
  heartbeatMs: number[];
  heartbeatErrors: number;
}

/**
 * Sends every token to joinEvent of `event`, JOIN_CLIENTS at a time, while the admitted sessions
 * heartbeat (see crowd-bench.ts); the heartbeats stop when the last join has its answer.
 */
async function crowd(url: string, event: string, tokens: string[]): Promise<RoundFigures> {
  const joins = new Poster(url, JOIN_CLIENTS);
  const beats = new Poster(url, HEARTBEAT_CLIENTS);
  const live: { token: string; lastBeat: number; busy: boolean }[] = [];
  const figures: RoundFigures = {
    seconds: 0,
    admitted: 0,
    refused: new Map(),
    joinMs: [],
    heartbeatMs: [],
    heartbeatErrors: 0,
  };
  let joinsDone = false;

  let nextToken = 0;
  const joiner = async () => {
    while (nextToken < tokens.length) {
      const credential = tokens[nextToken++];
      const { status, text, ms } = await joins.post(
        JSON.stringify({ query: JOIN, variables: { input: { event, credential } } }),
      );
      figures.joinMs.push(ms);
      const outcome = joinOutcome(status, text);
      if ("sessionToken" in outcome) {
        figures.admitted++;
        live.push({ token: outcome.sessionToken, lastBeat: Date.now(), busy: false });
      } else {
        figures.refused.set(outcome.code, (figures.refused.get(outcome.code) ?? 0) + 1);
      }
    }
  };

  let cursor = 0;
  const heartbeater = async () => {
    while (!joinsDone) {
      if (live.length === 0) {
        await sleep(10);
        continue;
      }
      const session = live[cursor++ % live.length];
      if (session.busy) {
        // Fewer live sessions than heartbeat connections: wait for one to come free.
        await sleep(live.length <= HEARTBEAT_CLIENTS ? 10 : 0);
        continue;
      }
      session.busy = true;
      const wait = session.lastBeat + HEARTBEAT_PERIOD_MS - Date.now();
      if (wait > 0) await sleep(wait);
      if (joinsDone) break;
      session.lastBeat = Date.now();
      const { status, text, ms } = await beats.post(JSON.stringify({ query: BEAT, variables: { t: session.token } }));
      figures.heartbeatMs.push(ms);
      let refreshed: string | null | undefined;
      try {
        const answer = JSON.parse(text) as GraphQLAnswer;
        refreshed = status === 200 && answer.data?.heartbeat?.active ? answer.data.heartbeat.sessionToken : null;
      } catch {
        refreshed = null;
      }
      if (refreshed) session.token = refreshed;
      else figures.heartbeatErrors++;
      session.busy = false;
    }
  };

  const started = performance.now();
  // A long round says how far it has got.
  const progress = setInterval(() => {
    const answered = figures.admitted + [...figures.refused.values()].reduce((sum, n) => sum + n, 0);
    console.log(
      `  … ${answered} of ${tokens.length} answered after ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
  }, PROGRESS_EVERY_MS);
  const beating = Promise.all(Array.from({ length: HEARTBEAT_CLIENTS }, heartbeater));
  await Promise.all(Array.from({ length: JOIN_CLIENTS }, joiner));
  figures.seconds = (performance.now() - started) / 1000;
  clearInterval(progress);
  joinsDone = true;
  await beating;
  joins.close();
  beats.close();
  figures.joinMs.sort((a, b) => a - b);
  figures.heartbeatMs.sort((a, b) => a - b);
  return figures;
}

/** Named checks, each printed PASS or FAIL as it is made. */
export class Checks {
  private readonly made: { name: string; pass: boolean }[] = [];

  check(name: string, actual: unknown, expected: unknown): void {
    const pass = actual === expected;
    this.made.push({ name, pass });
    console.log(
      `  ${pass ? "PASS" : "FAIL"}  ${name}: ${String(actual)}${pass ? "" : ` (expected ${String(expected)})`}`,
    );
  }

  get failed(): number {
    return this.made.filter((c) => !c.pass).length;
  }

  get count(): number {
    return this.made.length;
  }
}

/** Prints a round's figures and checks its answers: `admitted` sessions, every other answer `refusal`. */
function report(checks: Checks, round: RoundFigures, tokens: number, admitted: number, refusal: string | null): void {
  const ms = (values: number[], p: number) => percentile(values, p).toFixed(0);
  const everyone = round.admitted === tokens ? "admitted everyone" : `answered everyone (${round.admitted} admitted)`;
  console.log(
    `  ${everyone} in ${round.seconds.toFixed(1)} s: ${(tokens / round.seconds).toFixed(0)} joins/s, ` +
      `join latency p50 ${ms(round.joinMs, 50)} ms, p99 ${ms(round.joinMs, 99)} ms`,
  );
  console.log(`  heartbeats sent ${round.heartbeatMs.length}, p99 ${ms(round.heartbeatMs, 99)} ms`);
  const unexpected = [...round.refused].filter(([code]) => code !== refusal);
  const errors = unexpected.reduce((sum, [, n]) => sum + n, 0) + round.heartbeatErrors;
  if (unexpected.length)
    console.log(`  unexpected answers: ${unexpected.map(([code, n]) => `${code} × ${n}`).join(", ")}`);
  if (round.heartbeatErrors)
    console.log(`  heartbeats without an active session or an answer: ${round.heartbeatErrors}`);
  checks.check("errors", errors, 0);
  checks.check("admitted", round.admitted, admitted);
  if (refusal) checks.check(`answered ${refusal}`, round.refused.get(refusal) ?? 0, tokens - admitted);
}

export interface Company {
  key: string;
  id: string;
  /** A PRIVATE event; its id. */
  createEvent(slug: string, capacity?: number): Promise<string>;
  /** Join tokens (any event of the company) of users `<prefix>-0` … `<prefix>-<count - 1>`. */
  mint(prefix: string, count: number): Promise<string[]>;
  /** `count` registrants of the event; the registration token of each (from its join URL). */
  register(eventId: string, prefix: string, count: number): Promise<string[]>;
  /** One-time login links into the event for users already known by their external ids; their ids and codes. */
  loginLinks(eventId: string, externalIds: string[]): Promise<{ id: string; code: string }[]>;
  query(query: string, variables?: object): Promise<any>;
}

export async function makeCompany(
  url: string,
  adminKey: string,
  name: string,
  seatLimit: number | null,
): Promise<Company> {
  const created = await gql(
    url,
    `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { secret company { id } } }`,
    { input: { name, seatLimit } },
    adminKey,
  );
  const key: string = created.createCompany.secret;
  const query = (q: string, variables: object = {}) => gql(url, q, variables, key);
  return {
    key,
    id: created.createCompany.company.id,
    query,
    createEvent: async (slug, capacity) =>
      (
        await query(`mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }`, {
          input: { name: slug, slug, privacy: "PRIVATE", capacity },
        })
      ).createEvent.id,
    mint: async (prefix, count) => {
      const started = performance.now();
      const tokens = await parallel(
        Array.from({ length: count }, (_, i) => i),
        MINT_CONCURRENCY,
        async (i) =>
          (await query(MINT, { input: { eventSpecific: false, user: { id: `${prefix}-${i}`, name: `Crowd ${i}` } } }))
            .mintJoinToken.token as string,
      );
      console.log(
        `  (${count} join tokens minted ahead in ${((performance.now() - started) / 1000).toFixed(1)} s, not timed)`,
      );
      return tokens;
    },
    register: (eventId, prefix, count) =>
      parallel(
        Array.from({ length: count }, (_, i) => i),
        MINT_CONCURRENCY,
        async (i) => {
          const registered = await query(
            `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { joinUrl } }`,
            {
              input: { eventId, name: `Registrant ${i}`, email: `${prefix}-${i}@crowd.example` },
            },
          );
          return new URL(registered.registerForEvent.joinUrl).searchParams.get("token")!;
        },
      ),
    loginLinks: (eventId, externalIds) =>
      parallel(externalIds, MINT_CONCURRENCY, async (externalId) => {
        const link = (
          await query(`mutation($input: CreateLoginLinkInput!) { createLoginLink(input: $input) { id url } }`, {
            input: { eventId, externalId, ttlSeconds: 300 },
          })
        ).createLoginLink;
        return { id: link.id as string, code: new URL(link.url).pathname.replace(/^\/login\//, "") };
      }),
  };
}

/** Live sessions of an event through the API, and its analytics once they have folded the joins in. */
async function checkThroughApi(checks: Checks, company: Company, eventId: string, expected: number): Promise<void> {
  const live = await company.query(
    `query($id: ID!) { event(id: $id) { sessions(active: true, first: 1) { totalCount } } }`,
    { id: eventId },
  );
  checks.check("live sessions (event.sessions(active: true).totalCount)", live.event.sessions.totalCount, expected);

  const started = performance.now();
  let seen: { attendees: number; peakConcurrentSessions: number };
  let highest = 0;
  for (;;) {
    seen = (
      await company.query(`query($id: ID!) { eventAnalytics(eventId: $id) { attendees peakConcurrentSessions } }`, {
        id: eventId,
      })
    ).eventAnalytics;
    highest = Math.max(highest, seen.attendees, seen.peakConcurrentSessions);
    const exact = seen.attendees === expected && seen.peakConcurrentSessions === expected;
    if (exact || performance.now() - started > ANALYTICS_WAIT_MS) break;
    await sleep(500);
  }
  const after = ((performance.now() - started) / 1000).toFixed(1);
  checks.check(
    `eventAnalytics attendees / peakConcurrentSessions (read after ${after} s)`,
    `${seen.attendees} / ${seen.peakConcurrentSessions}`,
    `${expected} / ${expected}`,
  );
  checks.check("analytics never above the crowd while folding", highest <= expected, true);
}

/** What the three rounds leave behind, for the SQL checks, and their figures. */
export interface CrowdRounds {
  users: number;
  capacity: number;
  seatLimit: number;
  events: { first: string; second: string; third: string };
  seatedCompanyId: string;
  figures: RoundFigures[];
}

/**
 * The three rounds of bench:crowd against `url` (a node or a balancer): a crowd of `users` new
 * users; the same users at an event with capacity half of them; new users of a company with a
 * seat limit of three quarters. `tag` keeps the slugs and user ids of two runs on one database apart.
 */
export async function runCrowdRounds(
  url: string,
  adminKey: string,
  users: number,
  checks: Checks,
  tag = "",
  /** Wraps each round's crowd (not the minting ahead or the checks): to read CPU around it. */
  around: (crowd: () => Promise<RoundFigures>) => Promise<RoundFigures> = (crowd) => crowd(),
): Promise<CrowdRounds> {
  const capacity = Math.floor(users / 2);
  const seatLimit = Math.floor((users * 3) / 4);
  const figures: RoundFigures[] = [];
  const company = await makeCompany(url, adminKey, `Crowd Co${tag}`, null);
  console.log(`Round 1: ${users} new users join one event`);
  const first = await company.createEvent(`crowd-1${tag}`);
  const tokens = await company.mint(`crowd${tag}`, users);
  figures.push(await around(() => crowd(url, `crowd-1${tag}`, tokens)));
  report(checks, figures[0], users, users, null);
  await checkThroughApi(checks, company, first, users);

  console.log(`\nRound 2: the same ${users} users join a new event with capacity ${capacity}`);
  const second = await company.createEvent(`crowd-2${tag}`, capacity);
  figures.push(await around(() => crowd(url, `crowd-2${tag}`, tokens)));
  report(checks, figures[1], users, capacity, "EVENT_FULL");
  await checkThroughApi(checks, company, second, capacity);

  console.log(`\nRound 3: ${users} new users of a new company with seatLimit ${seatLimit} join its event`);
  const seated = await makeCompany(url, adminKey, `Crowd Seats${tag}`, seatLimit);
  const third = await seated.createEvent(`crowd-3${tag}`);
  const seatTokens = await seated.mint(`seat${tag}`, users);
  figures.push(await around(() => crowd(url, `crowd-3${tag}`, seatTokens)));
  report(checks, figures[2], users, seatLimit, "SEAT_LIMIT_REACHED");
  checks.check("company.seatsUsed", (await seated.query(`{ company { seatsUsed } }`)).company.seatsUsed, seatLimit);
  await checkThroughApi(checks, seated, third, seatLimit);
  return { users, capacity, seatLimit, events: { first, second, third }, seatedCompanyId: seated.id, figures };
}

/** The rounds' live sessions and seats counted again in SQL. */
export async function checkRoundsInSql(
  checks: Checks,
  sql: (text: string, params: unknown[]) => Promise<number>,
  rounds: CrowdRounds,
): Promise<void> {
  const liveIn = (eventId: string) =>
    sql("SELECT count(*) AS n FROM sessions WHERE event_id = $1 AND ended_at IS NULL", [eventId]);
  checks.check("round 1: live sessions", await liveIn(rounds.events.first), rounds.users);
  checks.check("round 2: live sessions", await liveIn(rounds.events.second), rounds.capacity);
  checks.check("round 3: live sessions", await liveIn(rounds.events.third), rounds.seatLimit);
  checks.check(
    "round 3: users of the company",
    await sql("SELECT count(*) AS n FROM users WHERE company_id = $1", [rounds.seatedCompanyId]),
    rounds.seatLimit,
  );
}

/** Runs SQL on the run's database once Admit has stopped (PGlite: opened here, in this process). */
export async function withSql(
  database: BenchDatabase,
  work: (sql: (text: string, params: unknown[]) => Promise<number>) => Promise<void>,
): Promise<void> {
  if (database.url) {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    try {
      await work(async (text, params) => Number((await client.query(text, params)).rows[0].n));
    } finally {
      await client.end();
    }
    return;
  }
  const pglite = await PGlite.create(path.join(database.dataDir, "pgdata"));
  try {
    await work(async (text, params) => Number((await pglite.query<{ n: number }>(text, params)).rows[0].n));
  } finally {
    await pglite.close();
  }
}
