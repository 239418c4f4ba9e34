/**
 * `npm run bench:crowd`: a crowd at the door, through GraphQL over HTTP on a fresh database.
 *
 * Round 1: BENCH_CROWD_USERS distinct users (default 20,000) join one event, 64 clients at a
 * time, while everyone already in heartbeats. Time is compressed: each live session heartbeats
 * about once a second (the embed page does every 30 s), sent by 16 connections that cycle through
 * the live sessions, never sooner than a second after that session's last heartbeat, each sending
 * the token its last heartbeat returned. Prints the time to admit everyone, joins/s, join latency
 * p50/p99, heartbeats sent and their p99, and errors. Then checks: no errors, everyone admitted,
 * as many live sessions (event.sessions(active: true) totalCount), and eventAnalytics' attendees
 * and peakConcurrentSessions equal to the crowd (analytics fold the pending join instants once a
 * second on every node: polled for up to 15 s, never allowed above the crowd).
 * Round 2: the same users (now returning) join a new event with capacity half the crowd: exactly
 * that many admitted, every other answer EVENT_FULL.
 * Round 3: a new company with seatLimit three quarters of the crowd: as many new users join its
 * event; exactly seatLimit users are created (company.seatsUsed and, once Admit has stopped, a
 * SQL count), every other answer SEAT_LIMIT_REACHED.
 * The live sessions of every round are counted again in SQL at the end. Join tokens are minted
 * ahead and not timed. Every check prints PASS or FAIL; any FAIL makes the exit code 1.
 *
 * Environment: BENCH_CROWD_USERS (default 20000; 2000 makes a quick run), BENCH_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/postgres: a server on which a fresh database is
 * made and dropped), BENCH_DB=pglite (Admit on embedded PGlite in a temporary DATA_DIR, removed
 * after; a report, with no target).
 */
import http from "node:http";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { PGlite } from "@electric-sql/pglite";
import { gql } from "./support";
import {
  admitCluster,
  BenchDatabase,
  databaseKind,
  freePort,
  freshDatabase,
  parallel,
  percentile,
  sleep,
  startAdmit,
  stopProcess,
} from "./harness";

const USERS = Number(process.env.BENCH_CROWD_USERS ?? 20_000);
const JOIN_CLIENTS = 64;
const HEARTBEAT_CLIENTS = 16;
/** Compressed time: a session's heartbeats come at least this far apart. */
const HEARTBEAT_PERIOD_MS = 1000;
const MINT_CONCURRENCY = 16;
const REQUEST_TIMEOUT_MS = 120_000;
/** How long analytics may take to fold the last joins in. */
const ANALYTICS_WAIT_MS = 15_000;
const PROGRESS_EVERY_MS = 30_000;

const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`;
const JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken } }`;
const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active sessionToken } }`;

/** POSTs to one URL over at most `sockets` kept-alive connections; lighter than fetch per request. */
class Poster {
  private readonly agent: http.Agent;
  private readonly target: URL;

  constructor(url: string, sockets: number) {
    this.target = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  /** The answer's status and text, and how long it took (ms); status 0 when the request failed. */
  post(body: string): Promise<{ status: number; text: string; ms: number }> {
    const started = performance.now();
    return new Promise((resolve) => {
      const request = http.request(
        {
          host: this.target.hostname,
          port: this.target.port,
          path: this.target.pathname,
          method: "POST",
          agent: this.agent,
          timeout: REQUEST_TIMEOUT_MS,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString(), ms: performance.now() - started }));
          response.on("error", (error) => resolve({ status: 0, text: String(error), ms: performance.now() - started }));
        },
      );
      request.on("timeout", () => request.destroy(new Error("timed out")));
      request.on("error", (error) => resolve({ status: 0, text: String(error), ms: performance.now() - started }));
      request.end(body);
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
function joinOutcome(status: number, text: string): { sessionToken: string } | { code: string } {
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

interface RoundFigures {
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
 * heartbeat (see the file's comment); the heartbeats stop when the last join has its answer.
 */
async function crowd(url: string, event: string, tokens: string[]): Promise<RoundFigures> {
  const joins = new Poster(url, JOIN_CLIENTS);
  const beats = new Poster(url, HEARTBEAT_CLIENTS);
  const live: { token: string; lastBeat: number; busy: boolean }[] = [];
  const figures: RoundFigures = { seconds: 0, admitted: 0, refused: new Map(), joinMs: [], heartbeatMs: [], heartbeatErrors: 0 };
  let joinsDone = false;

  let nextToken = 0;
  const joiner = async () => {
    while (nextToken < tokens.length) {
      const credential = tokens[nextToken++];
      const { status, text, ms } = await joins.post(JSON.stringify({ query: JOIN, variables: { input: { event, credential } } }));
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
    console.log(`  … ${answered} of ${tokens.length} answered after ${((performance.now() - started) / 1000).toFixed(0)} s`);
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

const checks: { name: string; pass: boolean }[] = [];

function check(name: string, actual: unknown, expected: unknown): void {
  const pass = actual === expected;
  checks.push({ name, pass });
  console.log(`  ${pass ? "PASS" : "FAIL"}  ${name}: ${String(actual)}${pass ? "" : ` (expected ${String(expected)})`}`);
}

/** Prints a round's figures and checks its answers: `admitted` sessions, every other answer `refusal`. */
function report(round: RoundFigures, tokens: number, admitted: number, refusal: string | null): void {
  const ms = (values: number[], p: number) => percentile(values, p).toFixed(0);
  const everyone = round.admitted === tokens ? "admitted everyone" : `answered everyone (${round.admitted} admitted)`;
  console.log(
    `  ${everyone} in ${round.seconds.toFixed(1)} s: ${(tokens / round.seconds).toFixed(0)} joins/s, ` +
      `join latency p50 ${ms(round.joinMs, 50)} ms, p99 ${ms(round.joinMs, 99)} ms`,
  );
  console.log(`  heartbeats sent ${round.heartbeatMs.length}, p99 ${ms(round.heartbeatMs, 99)} ms`);
  const unexpected = [...round.refused].filter(([code]) => code !== refusal);
  const errors = unexpected.reduce((sum, [, n]) => sum + n, 0) + round.heartbeatErrors;
  if (unexpected.length) console.log(`  unexpected answers: ${unexpected.map(([code, n]) => `${code} × ${n}`).join(", ")}`);
  if (round.heartbeatErrors) console.log(`  heartbeats without an active session or an answer: ${round.heartbeatErrors}`);
  check("errors", errors, 0);
  check("admitted", round.admitted, admitted);
  if (refusal) check(`answered ${refusal}`, round.refused.get(refusal) ?? 0, tokens - admitted);
}

interface Company {
  key: string;
  id: string;
  createEvent(slug: string, capacity?: number): Promise<string>;
  mint(prefix: string, count: number): Promise<string[]>;
  query(query: string, variables?: object): Promise<any>;
}

async function makeCompany(url: string, adminKey: string, name: string, seatLimit: number | null): Promise<Company> {
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
      (await query(`mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }`, { input: { name: slug, slug, privacy: "PRIVATE", capacity } }))
        .createEvent.id,
    mint: async (prefix, count) => {
      const started = performance.now();
      const tokens = await parallel(Array.from({ length: count }, (_, i) => i), MINT_CONCURRENCY, async (i) =>
        (await query(MINT, { input: { eventSpecific: false, user: { id: `${prefix}-${i}`, name: `Crowd ${i}` } } })).mintJoinToken.token as string,
      );
      console.log(`  (${count} join tokens minted ahead in ${((performance.now() - started) / 1000).toFixed(1)} s, not timed)`);
      return tokens;
    },
  };
}

/** Live sessions of an event through the API, and its analytics once they have folded the joins in. */
async function checkThroughApi(company: Company, eventId: string, expected: number): Promise<void> {
  const live = await company.query(`query($id: ID!) { event(id: $id) { sessions(active: true, first: 1) { totalCount } } }`, { id: eventId });
  check("live sessions (event.sessions(active: true).totalCount)", live.event.sessions.totalCount, expected);

  const started = performance.now();
  let seen: { attendees: number; peakConcurrentSessions: number };
  let highest = 0;
  for (;;) {
    seen = (await company.query(`query($id: ID!) { eventAnalytics(eventId: $id) { attendees peakConcurrentSessions } }`, { id: eventId })).eventAnalytics;
    highest = Math.max(highest, seen.attendees, seen.peakConcurrentSessions);
    const exact = seen.attendees === expected && seen.peakConcurrentSessions === expected;
    if (exact || performance.now() - started > ANALYTICS_WAIT_MS) break;
    await sleep(500);
  }
  const after = ((performance.now() - started) / 1000).toFixed(1);
  check(`eventAnalytics attendees / peakConcurrentSessions (read after ${after} s)`, `${seen.attendees} / ${seen.peakConcurrentSessions}`, `${expected} / ${expected}`);
  check("analytics never above the crowd while folding", highest <= expected, true);
}

/** Runs SQL on the run's database once Admit has stopped (PGlite: opened here, in this process). */
async function withSql(database: BenchDatabase, work: (sql: (text: string, params: unknown[]) => Promise<number>) => Promise<void>): Promise<void> {
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

async function main(): Promise<void> {
  const kind = databaseKind();
  const database = await freshDatabase(kind, "crowd");
  const port = await freePort();
  const cluster = admitCluster(database, port);
  const node = await startAdmit(cluster, port);
  const url = `http://127.0.0.1:${port}/graphql`;
  let stopped = false;
  try {
    const capacity = Math.floor(USERS / 2);
    const seatLimit = Math.floor((USERS * 3) / 4);
    console.log(`A crowd of ${USERS} on Admit with ${database.label}; ${JOIN_CLIENTS} join clients, heartbeats from ${HEARTBEAT_CLIENTS} connections, each live session about once a second\n`);

    const company = await makeCompany(url, cluster.adminKey, "Crowd Co", null);
    console.log(`Round 1: ${USERS} new users join one event`);
    const first = await company.createEvent("crowd-1");
    const tokens = await company.mint("crowd", USERS);
    report(await crowd(url, "crowd-1", tokens), USERS, USERS, null);
    await checkThroughApi(company, first, USERS);

    console.log(`\nRound 2: the same ${USERS} users join a new event with capacity ${capacity}`);
    const second = await company.createEvent("crowd-2", capacity);
    report(await crowd(url, "crowd-2", tokens), USERS, capacity, "EVENT_FULL");
    await checkThroughApi(company, second, capacity);

    console.log(`\nRound 3: ${USERS} new users of a new company with seatLimit ${seatLimit} join its event`);
    const seated = await makeCompany(url, cluster.adminKey, "Crowd Seats", seatLimit);
    const third = await seated.createEvent("crowd-3");
    report(await crowd(url, "crowd-3", await seated.mint("seat", USERS)), USERS, seatLimit, "SEAT_LIMIT_REACHED");
    check("company.seatsUsed", (await seated.query(`{ company { seatsUsed } }`)).company.seatsUsed, seatLimit);
    await checkThroughApi(seated, third, seatLimit);

    await stopProcess(node);
    stopped = true;
    console.log("\nIn SQL, once Admit has stopped");
    await withSql(database, async (sql) => {
      const liveIn = (eventId: string) => sql("SELECT count(*) AS n FROM sessions WHERE event_id = $1 AND ended_at IS NULL", [eventId]);
      check("round 1: live sessions", await liveIn(first), USERS);
      check("round 2: live sessions", await liveIn(second), capacity);
      check("round 3: live sessions", await liveIn(third), seatLimit);
      check("round 3: users of the company", await sql("SELECT count(*) AS n FROM users WHERE company_id = $1", [seated.id]), seatLimit);
    });
  } finally {
    if (!stopped) await stopProcess(node);
    await database.drop();
  }
  const failed = checks.filter((c) => !c.pass);
  console.log(`\n${failed.length === 0 ? "PASS" : "FAIL"}: ${checks.length - failed.length} of ${checks.length} checks passed${kind === "pglite" ? " (PGlite: a report, no target)" : ""}`);
  if (failed.length) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
