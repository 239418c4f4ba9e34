/**
 * `npm run bench`: each operation of the join path against its own ceiling or floor, measured in
 * the same run, with the same concurrency, on this machine. Everything goes through GraphQL over
 * HTTP (autocannon) except the floors, which are SQL sent from here with `pg`.
 *
 * What it starts: Admit (the built dist/src/main.js) on a fresh database, a second Admit node on
 * the same database (PostgreSQL only), and three bare Apollo-on-Fastify servers
 * (bench/bare-server.ts): one answering a constant, one whose resolver only signs mintJoinToken's
 * claims with fast-jwt, one whose resolver only verifies the join token it is given with
 * fast-jwt, without a cache. Each is a separate process, so its CPU is its own.
 *
 * Lines and what each is measured against:
 * - mintJoinToken ÷ the signing ceiling (target ≥ 0.8).
 * - validateToken of distinct tokens (a pool of thousands, each sent once per cycle) ÷ the
 *   verifying ceiling fed the same pool (≥ 0.8); repeated validation of the same 4 tokens on a
 *   line of its own, for information.
 * - heartbeat on the same node, each client sending the token its last heartbeat returned (Admit
 *   signed it, so it skips verifying it): ratio to bare, for information.
 * - heartbeat behind a load balancer: sessions joined on node B, heartbeats sent to node A with
 *   the token B issued at join, so A verifies every one in full: ratio to bare (≥ 0.3).
 * - joinEvent of distinct new users ÷ the new-user floor (≥ 0.6), and of returning users (the user
 *   exists, without a live session in that event) ÷ the returning floor (≥ 0.6). A floor is the
 *   fewest writes such a join must make, as plain SQL into the same database (the schema's
 *   triggers fire): new = BEGIN; INSERT users; INSERT sessions; COMMIT, returning = BEGIN;
 *   INSERT sessions; COMMIT, one statement per round trip (named prepared statements), from a pg
 *   Pool of BENCH_CONNECTIONS connections with as many concurrent transactions, into events of
 *   the same company kept for the floors.
 * Join tokens are minted ahead; before each join line, one untimed second of the same load sizes
 * the pools so that no token or (user, event) pair is used twice in a run.
 *
 * Every line shows its CPU per request from /proc (Linux): the server under test, PostgreSQL (the
 * backends of the run's database and the server's shared processes, not other databases'
 * backends), and this process (the load generator). Then a final table:
 * operation | req/s | p99 ms | measured against | ratio | target | met?
 *
 * Environment:
 * - BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): a server on which a
 *   fresh database is made for the run and dropped afterwards.
 * - BENCH_DB=pglite: Admit on embedded PGlite instead (a temporary DATA_DIR, removed after): one
 *   node only (no load-balanced heartbeat) and no floors, PGlite being inside Admit's process.
 * - BENCH_SECONDS (default 10) and BENCH_CONNECTIONS (default 16) shape every run.
 * - BENCH_ONLY=mint,validate,join,heartbeat runs a subset (the bare constant always runs).
 * - BENCH_WEBHOOK=1 gives the bench company one webhook endpoint for session.started, pointing at
 *   a tiny receiver in this process (answers 204): every join then writes one outbox row, and
 *   Admit's delivery workers POST it while the load runs. Compare the join lines with and without.
 * - BENCH_CPU_PROF=<dir> writes a V8 CPU profile of Admit (node A) there, to open in Chrome's
 *   DevTools and see where a request's time goes.
 */
import { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import http from "node:http";
import os from "node:os";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import { Pool, PoolClient } from "pg";
import { gql } from "./support";
import {
  admitCluster,
  cpuPerRequest,
  cpuSnapshot,
  databaseKind,
  freePort,
  freshDatabase,
  parallel,
  percentile,
  startAdmit,
  startProcess,
  stopProcess,
} from "./harness";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : null;
const wanted = (name: string) => !ONLY || ONLY.has(name);
const KIND = databaseKind();

/** Tokens minted before anything is timed: enough for thousands of distinct validations. */
const FIRST_POOL = 4000;
/** Live sessions the heartbeat lines cycle through. */
const HEARTBEAT_SESSIONS = 1000;
/** Same-token validation: this many tokens, over and over. */
const REPEATED_TOKENS = 4;
/** Setup requests (minting, joining ahead) in flight at once. */
const SETUP_CONCURRENCY = 16;
/**
 * Pools are sized for this much more than a probe's rate over a run (autocannon may run a second
 * past BENCH_SECONDS): new users' tokens cost a mint each; returning users' events are cheap, and
 * their probe runs while the new users' run is still being folded into analytics.
 */
const NEW_USERS_MARGIN = 1.5;
const RETURNING_MARGIN = 4;
const runSeconds = () => SECONDS + 1;

const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`;
const VALIDATE = `query($t: String!) { validateToken(token: $t) { valid } }`;
const JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken } }`;
const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active sessionToken } }`;

interface Figures {
  name: string;
  rps: number;
  p99: number;
  requests: number;
  errors: number;
  /** CPU ms per request; a null member was not measured (no server process, PGlite in Admit). */
  cpu: { server: number | null; postgres: number | null; loadGenerator: number } | null;
  note?: string;
}

/**
 * What one autocannon run sends. `body` makes each request's body, with the context its
 * connection keeps (a connection has one request out at a time, so `answered` sees the answer
 * with the context its request was made in); it calls `spent` when its pool runs out, which ends
 * the run within a second. `ok` says whether an answer counts as a success (default: no
 * "errors" in it).
 */
interface Load {
  body: (context: Record<string, unknown>, spent: () => void) => string;
  ok?: (text: string) => boolean;
  answered?: (text: string, context: Record<string, unknown>) => void;
}

const noErrors = (text: string) => !text.includes('"errors"');

interface RunOptions {
  key?: string;
  pid?: number;
  seconds?: number;
}

/** One second of the same load, untimed (JIT, caches, connections), then the measured run. */
async function run(name: string, url: string, load: Load, options: RunOptions = {}): Promise<Figures> {
  await probe(url, load, options);
  return measure(name, url, load, options);
}

/** An untimed second of a load: returns its rate, to size the pool of the run that follows. */
async function probe(url: string, load: Load, options: RunOptions = {}): Promise<number> {
  return (await measure("probe", url, load, { ...options, seconds: Math.min(1, SECONDS) })).rps;
}

async function measure(name: string, url: string, load: Load, options: RunOptions = {}): Promise<Figures> {
  const ok = load.ok ?? noErrors;
  let errors = 0;
  let spentAt: number | null = null;
  const started = performance.now();
  const before = cpuSnapshot(options.pid, cpuDatabase);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const spent = () => {
      if (spentAt !== null) return;
      spentAt = (performance.now() - started) / 1000;
      instance.stop();
    };
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: options.seconds ?? SECONDS,
        requests: [
          {
            method: "POST",
            headers: {
              "content-type": "application/json",
              ...(options.key ? { authorization: `Bearer ${options.key}` } : {}),
            },
            setupRequest: (request, context) => ({
              ...request,
              body: load.body(context as Record<string, unknown>, spent),
            }),
            onResponse: (status, text, context) => {
              if (status !== 200 || !ok(text)) errors++;
              else load.answered?.(text, context as Record<string, unknown>);
            },
          },
        ],
      },
      (error: Error | null, done) => (error ? reject(error) : resolve(done)),
    );
  });
  const after = cpuSnapshot(options.pid, cpuDatabase);
  const requests = result.requests.total;
  const cpu = cpuPerRequest(before, after, requests);
  return {
    name,
    rps: requests / result.duration,
    p99: result.latency.p99,
    requests,
    errors: errors + result.errors,
    cpu: cpu && {
      server: options.pid ? cpu.server : null,
      postgres: KIND === "postgres" ? cpu.postgres : null,
      loadGenerator: cpu.loadGenerator,
    },
    note:
      spentAt === null
        ? undefined
        : `pool spent after ${(spentAt as number).toFixed(1)} s: a probe underestimated the rate (see the margins in join-bench.ts)`,
  };
}

/** One line of the final table. */
interface Verdict {
  line: Figures;
  against: Figures | null;
  /** Why there is nothing to measure against, when there is not. */
  missing?: string;
  target: number | null;
}

/** What every part of the run needs from the setup. */
interface Bench {
  /** GraphQL URLs of node A (measured) and node B (signs the foreign heartbeat tokens). */
  admit: string;
  admitB: string | null;
  nodeA: ChildProcess;
  key: string;
  company: { id: string; slug: string; issuer: string };
  /** A property, not a method: it is passed around unbound (to parallel()). */
  createEvent: (slug: string) => Promise<string>;
  /** Not event-specific: a user who joined one event comes back to others with the same token. */
  mintTokens(prefix: string, count: number): Promise<string[]>;
}

const cycle = <T>(items: T[]) => {
  let i = 0;
  return () => items[i++ % items.length];
};

/** Cycles through a pool of tokens, each once per cycle; an answer counts when it says valid. */
const validations = (pool: string[]): Load => {
  const next = cycle(pool);
  return {
    body: () => JSON.stringify({ query: VALIDATE, variables: { t: next() } }),
    ok: (text) => text.includes('"valid":true'),
  };
};

/** The run's database: PostgreSQL's CPU counts its backends only (see cpuSnapshot). */
let cpuDatabase: string | undefined;

async function main(): Promise<void> {
  const database = await freshDatabase(KIND, "bench");
  cpuDatabase = database.name ?? undefined;
  const children: ChildProcess[] = [];
  try {
    const [portA, portB, barePort, signPort, verifyPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const cluster = admitCluster(database, portA);
    const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROF] : [];
    const nodeA = await startAdmit(cluster, portA, profile);
    children.push(nodeA);
    // Started once A has migrated the database.
    const nodeB = KIND === "postgres" && wanted("heartbeat") ? await startAdmit(cluster, portB) : null;
    if (nodeB) children.push(nodeB);
    const admit = `http://127.0.0.1:${portA}/graphql`;

    const created = await gql(
      admit,
      `mutation { createCompany(input: { name: "Bench Co" }) { secret company { id slug issuer } } }`,
      {},
      cluster.adminKey,
    );
    const key: string = created.createCompany.secret;
    const bench: Bench = {
      admit,
      admitB: nodeB ? `http://127.0.0.1:${portB}/graphql` : null,
      nodeA,
      key,
      company: created.createCompany.company,
      createEvent: async (slug) =>
        (
          await gql(
            admit,
            `mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }`,
            { input: { name: slug, slug, privacy: "PRIVATE" } },
            key,
          )
        ).createEvent.id,
      mintTokens: (prefix, count) =>
        parallel(
          Array.from({ length: count }, (_, i) => i),
          SETUP_CONCURRENCY,
          async (i) =>
            (
              await gql(
                admit,
                MINT,
                { input: { eventSpecific: false, user: { id: `${prefix}-${i}`, name: "Joiner" } } },
                key,
              )
            ).mintJoinToken.token as string,
        ),
    };
    const webhook = process.env.BENCH_WEBHOOK === "1" ? await webhookReceiver(admit, key) : null;
    const eventId = await bench.createEvent("bench");
    const jwks = (await (
      await fetch(`http://127.0.0.1:${portA}/c/${bench.company.slug}/.well-known/jwks.json`)
    ).json()) as { keys: { kid: string }[] };
    const signingKey = jwks.keys[0];

    const bare = await startProcess("bench/bare-server.js", { PORT: String(barePort), BARE_MODE: "constant" });
    children.push(bare);
    const figures: Figures[] = [];
    const verdicts: Verdict[] = [];
    const notes: string[] = [];
    const ping = JSON.stringify({ query: "{ ping }" });
    const baseline = await run(
      "bare Apollo+Fastify (constant)",
      `http://127.0.0.1:${barePort}/graphql`,
      { body: () => ping },
      { pid: bare.pid },
    );
    figures.push(baseline);

    if (wanted("mint")) {
      const signer = await startProcess("bench/bare-server.js", {
        PORT: String(signPort),
        BARE_MODE: "sign",
        BARE_ISSUER: bench.company.issuer,
        BARE_KID: signingKey.kid,
      });
      children.push(signer);
      let n = 0;
      const mint: Load = {
        body: () =>
          JSON.stringify({
            query: MINT,
            variables: { input: { eventId, user: { id: `u${n++}`, name: "Bench User" } } },
          }),
      };
      const ceiling = await run("signing ceiling (fast-jwt)", `http://127.0.0.1:${signPort}/graphql`, mint, {
        pid: signer.pid,
      });
      const line = await run("mintJoinToken", admit, mint, { key, pid: nodeA.pid });
      figures.push(ceiling, line);
      verdicts.push({ line, against: ceiling, target: 0.8 });
    }

    // Distinct users' join tokens, minted ahead: validated, then joined once each.
    const tokens = await bench.mintTokens("join", FIRST_POOL);

    if (wanted("validate")) {
      const verifier = await startProcess("bench/bare-server.js", {
        PORT: String(verifyPort),
        BARE_MODE: "verify",
        BARE_ISSUER: bench.company.issuer,
        BARE_VERIFY_JWK: JSON.stringify(signingKey),
      });
      children.push(verifier);
      const ceiling = await run(
        `verifying ceiling (fast-jwt, ${tokens.length} tokens)`,
        `http://127.0.0.1:${verifyPort}/graphql`,
        validations(tokens),
        {
          pid: verifier.pid,
        },
      );
      const line = await run(`validateToken (${tokens.length} distinct tokens)`, admit, validations(tokens), {
        pid: nodeA.pid,
      });
      const repeated = await run(
        `validateToken (same ${REPEATED_TOKENS} tokens)`,
        admit,
        validations(tokens.slice(0, REPEATED_TOKENS)),
        { pid: nodeA.pid },
      );
      figures.push(ceiling, line, repeated);
      verdicts.push({ line, against: ceiling, target: 0.8 }, { line: repeated, against: ceiling, target: null });
    }

    if (wanted("heartbeat")) {
      const measured = await heartbeats(bench, baseline);
      figures.push(...measured.figures);
      verdicts.push(...measured.verdicts);
      if (!bench.admitB)
        notes.push(
          "heartbeat with a token signed by another node: skipped, PGlite runs one node only (it is inside Admit's process).",
        );
    }

    if (wanted("join")) {
      const measured = await joins(bench, tokens, database.url);
      figures.push(...measured.figures);
      verdicts.push(...measured.verdicts);
    }

    if (webhook) {
      const backlog = await webhook.backlog();
      notes.push(
        `webhook endpoint for session.started: the receiver got ${webhook.received()} messages; ${backlog} deliveries still pending at the end.`,
      );
      await webhook.close();
    }
    print(figures, verdicts, notes, database.label);
  } finally {
    await Promise.all(children.map(stopProcess));
    await database.drop();
  }
}

/**
 * BENCH_WEBHOOK=1: a receiver on loopback that answers 204 to every POST, and an endpoint of the
 * bench company for session.started pointing at it.
 */
async function webhookReceiver(admit: string, key: string) {
  let received = 0;
  const server = http.createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      received++;
      response.statusCode = 204;
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hooks`;
  const created = await gql(
    admit,
    `mutation($u: String!) { createWebhookEndpoint(input: { url: $u, eventTypes: [SESSION_STARTED] }) { webhookEndpoint { id } } }`,
    { u: url },
    key,
  );
  const endpointId: string = created.createWebhookEndpoint.webhookEndpoint.id;
  return {
    received: () => received,
    backlog: async () => {
      const page = await gql(
        admit,
        `query($id: ID!) { webhookDeliveries(endpointId: $id, filter: { status: PENDING }, first: 100) { edges { node { id } } } }`,
        { id: endpointId },
        key,
      );
      return page.webhookDeliveries.edges.length >= 100 ? "100 or more" : String(page.webhookDeliveries.edges.length);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Heartbeats of HEARTBEAT_SESSIONS live sessions: on the node that signed their tokens, and on another. */
async function heartbeats(bench: Bench, baseline: Figures): Promise<{ figures: Figures[]; verdicts: Verdict[] }> {
  const tokens = await bench.mintTokens("hb", HEARTBEAT_SESSIONS);
  const joinAll = async (url: string, event: string) => {
    await bench.createEvent(event);
    return parallel(
      tokens,
      SETUP_CONCURRENCY,
      async (credential) => (await gql(url, JOIN, { input: { event, credential } })).joinEvent.sessionToken as string,
    );
  };
  const active = (text: string) => text.includes('"active":true');

  // Each client sends the token its last heartbeat returned, as the embed page does: node A
  // signed it, and remembers it.
  const sameNode = await joinAll(bench.admit, "hb-same");
  const nextClient = cycle(sameNode.map((_, i) => i));
  const refreshed: Load = {
    body: (context) => {
      const client = nextClient();
      context.client = client;
      return JSON.stringify({ query: BEAT, variables: { t: sameNode[client] } });
    },
    ok: active,
    answered: (text, context) => {
      const token = (JSON.parse(text) as { data?: { heartbeat?: { sessionToken?: string | null } } }).data?.heartbeat
        ?.sessionToken;
      if (token) sameNode[context.client as number] = token;
    },
  };
  const same = await run("heartbeat (same node, refreshed token)", bench.admit, refreshed, { pid: bench.nodeA.pid });
  const figures = [same];
  const verdicts: Verdict[] = [{ line: same, against: baseline, target: null }];

  if (bench.admitB) {
    // Behind a load balancer: joined on B, every heartbeat sent to A with the token B issued at
    // join (valid 10 minutes), which A has never seen, so it verifies each one.
    const next = cycle(await joinAll(bench.admitB, "hb-foreign"));
    const foreign = await run(
      "heartbeat (token signed by node B)",
      bench.admit,
      { body: () => JSON.stringify({ query: BEAT, variables: { t: next() } }), ok: active },
      { pid: bench.nodeA.pid },
    );
    figures.push(foreign);
    verdicts.push({ line: foreign, against: baseline, target: 0.3 });
  }
  return { figures, verdicts };
}

/**
 * joinEvent of new users, then of the same users coming back to other events, each after its
 * floor. `tokens` are the first of the new users' tokens; more are minted once a probe has
 * measured how many a run will take.
 */
async function joins(
  bench: Bench,
  tokens: string[],
  databaseUrl: string | null,
): Promise<{ figures: Figures[]; verdicts: Verdict[] }> {
  let used = 0;
  const joined: string[] = [];
  const newUsers: Load = {
    body: (context, spent) => {
      if (used >= tokens.length) spent();
      const token = tokens[used++ % tokens.length];
      context.token = token;
      return JSON.stringify({ query: JOIN, variables: { input: { event: "bench", credential: token } } });
    },
    answered: (_text, context) => void joined.push(context.token as string),
  };
  // The probe's joins are of new users too (they come back as returning users later).
  const newRate = await probe(bench.admit, newUsers);
  const needed = Math.ceil(newRate * runSeconds() * NEW_USERS_MARGIN) + CONNECTIONS * 4;
  if (tokens.length - used < needed)
    tokens.push(...(await bench.mintTokens(`join-${tokens.length}`, needed - (tokens.length - used))));

  const floors = databaseUrl ? await Floors.open(bench, databaseUrl) : null;
  try {
    const newFloor = floors ? await floors.newUsers() : null;
    const newLine = await measure("joinEvent (new users)", bench.admit, newUsers, { pid: bench.nodeA.pid });

    // Returning users: those who just joined "bench", each sent to events it is not in yet, in
    // turn; enough events (counted from a probe on an event of its own) that no pair repeats.
    const users = joined.slice();
    let pair = 0;
    let pairs = users.length;
    const returning = (events: string[]): Load => ({
      body: (_context, spent) => {
        if (pair >= pairs) spent();
        const i = pair++;
        const event = events[Math.floor(i / users.length) % events.length];
        return JSON.stringify({ query: JOIN, variables: { input: { event, credential: users[i % users.length] } } });
      },
    });
    await bench.createEvent("returning-probe");
    const returningRate = await probe(bench.admit, returning(["returning-probe"]));
    const events = Array.from(
      { length: Math.ceil((returningRate * runSeconds() * RETURNING_MARGIN + CONNECTIONS * 4) / users.length) },
      (_, k) => `returning-${k}`,
    );
    await parallel(events, SETUP_CONCURRENCY, bench.createEvent);
    pair = 0;
    pairs = users.length * events.length;
    const returningFloor = floors ? await floors.returningUsers() : null;
    const returningLine = await measure("joinEvent (returning users)", bench.admit, returning(events), {
      pid: bench.nodeA.pid,
    });

    const missing = "n/a: PGlite is in-process in Admit";
    return {
      figures: [newFloor, newLine, returningFloor, returningLine].filter((f): f is Figures => f !== null),
      verdicts: [
        { line: newLine, against: newFloor, missing, target: 0.6 },
        { line: returningLine, against: returningFloor, missing, target: 0.6 },
      ],
    };
  } finally {
    await floors?.close();
  }
}

/**
 * The fewest writes a join must make, as plain SQL from here into the bench database (so its
 * triggers fire), in events of the bench company kept for them: CONNECTIONS concurrent
 * transactions from a pg Pool of that size for SECONDS, one statement per round trip, the INSERTs
 * as named prepared statements.
 */
class Floors {
  /** Users the new-user floor made: the returning floor's users. */
  private readonly users: string[] = [];

  private constructor(
    private readonly pool: Pool,
    private readonly companyId: string,
    private readonly newEvent: string,
    private readonly returningEvents: string[],
  ) {}

  static async open(bench: Bench, databaseUrl: string): Promise<Floors> {
    const newEvent = await bench.createEvent("floor-new");
    const returningEvents = await parallel(
      Array.from({ length: 8 }, (_, k) => `floor-returning-${k}`),
      SETUP_CONCURRENCY,
      bench.createEvent,
    );
    return new Floors(
      new Pool({ connectionString: databaseUrl, max: CONNECTIONS }),
      bench.company.id,
      newEvent,
      returningEvents,
    );
  }

  /** BEGIN; INSERT INTO users; INSERT INTO sessions; COMMIT. */
  newUsers(): Promise<Figures> {
    return this.run("new-user floor (SQL)", async (client) => {
      const id = randomUUID();
      await client.query({
        name: "floor-user",
        text: "INSERT INTO users (id, company_id, external_id, name) VALUES ($1, $2, $3, $4)",
        values: [id, this.companyId, `floor-${this.users.length}-${id.slice(0, 8)}`, "Joiner"],
      });
      await this.insertSession(client, this.newEvent, id);
      this.users.push(id);
      return true;
    });
  }

  /** BEGIN; INSERT INTO sessions; COMMIT, for a user of the new-user floor in an event it is not in. */
  returningUsers(): Promise<Figures> {
    let i = 0;
    const pairs = this.users.length * this.returningEvents.length;
    return this.run("returning floor (SQL)", async (client) => {
      if (i >= pairs) return false;
      const n = i++;
      await this.insertSession(
        client,
        this.returningEvents[Math.floor(n / this.users.length)],
        this.users[n % this.users.length],
      );
      return true;
    });
  }

  close(): Promise<void> {
    return this.pool.end();
  }

  private insertSession(client: PoolClient, eventId: string, userId: string) {
    return client.query({
      name: "floor-session",
      text: `INSERT INTO sessions (company_id, event_id, user_id, credential_type, role, joined_at, last_seen_at, metadata)
             VALUES ($1, $2, $3, 'JOIN_TOKEN', 'ATTENDEE', $4, $4, $5)`,
      values: [this.companyId, eventId, userId, new Date(), "{}"],
    });
  }

  /** Runs `statements` in transactions until SECONDS have passed or it returns false (rows spent). */
  private async run(name: string, statements: (client: PoolClient) => Promise<boolean>): Promise<Figures> {
    const latencies: number[] = [];
    let errors = 0;
    let spent = false;
    const before = cpuSnapshot(undefined, cpuDatabase);
    const started = performance.now();
    const end = started + SECONDS * 1000;
    const worker = async () => {
      while (!spent && performance.now() < end) {
        const t0 = performance.now();
        const client = await this.pool.connect();
        try {
          await client.query("BEGIN");
          if (await statements(client)) {
            await client.query("COMMIT");
            latencies.push(performance.now() - t0);
          } else {
            spent = true;
            await client.query("ROLLBACK");
          }
        } catch (error) {
          if (errors++ === 0) console.error(`${name}: ${error instanceof Error ? error.message : String(error)}`);
          await client.query("ROLLBACK").catch(() => undefined);
        } finally {
          client.release();
        }
      }
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, worker));
    const elapsed = (performance.now() - started) / 1000;
    const cpu = cpuPerRequest(before, cpuSnapshot(undefined, cpuDatabase), latencies.length);
    latencies.sort((a, b) => a - b);
    return {
      name,
      rps: latencies.length / elapsed,
      p99: Math.round(percentile(latencies, 99)),
      requests: latencies.length,
      errors,
      cpu: cpu && { server: null, postgres: cpu.postgres, loadGenerator: cpu.loadGenerator },
      note: spent ? `rows spent after ${elapsed.toFixed(1)} s` : undefined,
    };
  }
}

function print(figures: Figures[], verdicts: Verdict[], notes: string[], where: string): void {
  const ms = (x: number | null | undefined) => (x === null || x === undefined ? "—" : x.toFixed(3)).padStart(9);
  console.log(
    `\n${SECONDS} s per run, ${CONNECTIONS} connections, Admit on ${where}, ${os.cpus().length} cores, node ${process.version}\n`,
  );
  console.log(
    `${"line".padEnd(44)} ${"req/s".padStart(7)} ${"p99 ms".padStart(7)} ${"errors".padStart(7)}   CPU ms/request: server  postgres  load gen.`,
  );
  for (const f of figures) {
    console.log(
      `${f.name.padEnd(44)} ${f.rps.toFixed(0).padStart(7)} ${String(f.p99).padStart(7)} ${String(f.errors).padStart(7)}` +
        `                 ${ms(f.cpu?.server)} ${ms(f.cpu?.postgres)} ${ms(f.cpu?.loadGenerator)}${f.note ? `   (${f.note})` : ""}`,
    );
  }
  if (KIND === "pglite") console.log("\nPGlite runs inside Admit: its CPU is in the server column.");
  else if (figures.some((f) => f.name.includes("floor")))
    console.log("\nfloors: tx/s in the req/s column; their CPU is PostgreSQL's and this process's (the pg client).");
  for (const note of notes) console.log(note);

  console.log(
    `\n${"operation".padEnd(44)} | ${"req/s".padStart(7)} | ${"p99 ms".padStart(6)} | ${"measured against".padEnd(56)} | ratio | target | met?`,
  );
  console.log(`${"-".repeat(44)}-|-${"-".repeat(7)}-|-${"-".repeat(6)}-|-${"-".repeat(56)}-|-------|--------|-----`);
  for (const v of verdicts) {
    const ratio = v.against ? v.line.rps / v.against.rps : null;
    const met = v.target === null || ratio === null ? "—" : ratio >= v.target && v.line.errors === 0 ? "yes" : "NO";
    console.log(
      `${v.line.name.padEnd(44)} | ${v.line.rps.toFixed(0).padStart(7)} | ${String(v.line.p99).padStart(6)} | ${(v.against ? `${v.against.name} (${v.against.rps.toFixed(0)}/s)` : (v.missing ?? "—")).padEnd(56)} |` +
        ` ${ratio === null ? "  —  " : ratio.toFixed(2).padStart(5)} | ${(v.target === null ? "—" : `≥ ${v.target}`).padEnd(6)} | ${met}`,
    );
  }
  console.log("\nmet? needs the ratio at or above the target and no errors in the line.");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
