/**
 * `npm run bench:analytics`: engagement analytics on PostgreSQL at scale. Seeds one event with
 * 100,000 registrants and 1,000,000 sessions (`seed:analytics`), starts Admit on that database,
 * and times, through GraphQL over HTTP, one request at a time: eventAnalytics with every headline
 * field, timeline(bucketSeconds: 60), breakdown(metadataKey: "company"), the first page of
 * attendeeList and a page half-way down it. Prints the median and p95 of each (target: median
 * under 100 ms), plus a windowed eventAnalytics for information.
 *
 * BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names a server on
 * which a fresh database is made for the run and dropped afterwards. BENCH_RUNS (default 20),
 * BENCH_REGISTRANTS and BENCH_SESSIONS shape the run.
 */
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Client } from "pg";
import { gql } from "./support";

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const REGISTRANTS = Number(process.env.BENCH_REGISTRANTS ?? 100_000);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1_000_000);
const PORT = 4910;
const root = path.resolve(__dirname, "../..");

function run(script: string, args: string[], env: Record<string, string>, until?: RegExp): Promise<{ child: ChildProcess; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "dist", script), ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (until && until.test(out)) resolve({ child, out });
    });
    child.on("exit", (code) => (code === 0 && !until ? resolve({ child, out }) : reject(new Error(`${script} exited with ${code}: ${out}`))));
  });
}

interface Figures {
  name: string;
  median: number;
  p95: number;
  min: number;
  max: number;
}

async function time(name: string, work: () => Promise<unknown>): Promise<Figures> {
  for (let i = 0; i < 3; i++) await work(); // warm-up: plans, caches, connections
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await work();
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  const rank = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)];
  return { name, median: rank(50), p95: rank(95), min: ms[0], max: ms[ms.length - 1] };
}

async function main(): Promise<void> {
  const dbName = `admit_bench_analytics_${Date.now()}_${randomBytes(2).toString("hex")}`;
  const admin = new Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(SERVER_URL);
  dbUrl.pathname = `/${dbName}`;
  const env = {
    DATABASE_URL: dbUrl.toString(),
    MASTER_KEY: randomBytes(32).toString("base64"),
    ADMIN_API_KEY: randomBytes(32).toString("base64url"),
    LOG_LEVEL: "warn",
    DATA_DIR: path.join(root, "data", "bench-analytics"),
  };
  let server: ChildProcess | null = null;
  try {
    process.stderr.write(`Seeding one event: ${REGISTRANTS} registrants, ${SESSIONS} sessions…\n`);
    const seeded = await run("src/scripts/seed-analytics.js", ["--events", "1", "--registrants", String(REGISTRANTS), "--sessions", String(SESSIONS)], env);
    const key = /API key[^:]*: (\S+)/.exec(seeded.out)![1];
    const eventId = /Event ids:\s+(\S+)/.exec(seeded.out)![1];
    server = (await run("src/main.js", [], { ...env, PORT: String(PORT), HOST: "127.0.0.1" }, /listening/i)).child;
    const url = `http://127.0.0.1:${PORT}/graphql`;
    const q = (query: string, variables: object = {}) => gql(url, query, { id: eventId, ...variables }, key);

    const HEADLINE = `query($id: ID!, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) {
      registrants attendees attendanceRate sessions totalAttendanceSeconds averageAttendanceSeconds peakConcurrentSessions } }`;
    const TIMELINE = `query($id: ID!) { eventAnalytics(eventId: $id) { timeline(bucketSeconds: 60) { start activeSessions joins } } }`;
    const BREAKDOWN = `query($id: ID!) { eventAnalytics(eventId: $id) { breakdown(metadataKey: "company") { value attendees totalAttendanceSeconds } } }`;
    const PAGE = `query($id: ID!, $after: String, $first: Int) { eventAnalytics(eventId: $id) { attendeeList(first: $first, after: $after) {
      edges { node { user { id email } registrant { id email } metadata firstJoinedAt totalAttendanceSeconds sessions role } }
      pageInfo { hasNextPage endCursor } } } }`;
    const WALK = `query($id: ID!, $after: String) { eventAnalytics(eventId: $id) { attendeeList(first: 100, after: $after) { pageInfo { hasNextPage endCursor } } } }`;

    const headline = (await q(HEADLINE)).eventAnalytics;
    process.stderr.write(`Event: ${JSON.stringify(headline)}\n`);
    // A cursor half-way down the list, reached the way a client would: page after page.
    let deep: string | null = null;
    for (let seen = 0; seen < headline.attendees / 2; seen += 100) {
      deep = (await q(WALK, { after: deep })).eventAnalytics.attendeeList.pageInfo.endCursor;
    }
    const timeline = (await q(TIMELINE)).eventAnalytics.timeline;
    const breakdown = (await q(BREAKDOWN)).eventAnalytics.breakdown;
    process.stderr.write(`Timeline: ${timeline.length} buckets; breakdown: ${breakdown.length} values; deep page after ${Math.ceil(headline.attendees / 200) * 100} attendees\n`);

    const figures: Figures[] = [];
    const loadBefore = os.loadavg()[0];
    figures.push(await time("eventAnalytics (all headline fields)", () => q(HEADLINE)));
    figures.push(await time("timeline(bucketSeconds: 60)", () => q(TIMELINE)));
    figures.push(await time('breakdown(metadataKey: "company")', () => q(BREAKDOWN)));
    figures.push(await time("attendeeList(first: 20), first page", () => q(PAGE, { first: 20 })));
    figures.push(await time("attendeeList(first: 20), half-way down", () => q(PAGE, { first: 20, after: deep })));
    const start = new Date(Date.parse(timeline[0].start) + 2 * 3600_000);
    const windowed = await time("(info) eventAnalytics over a 2-hour window", () =>
      q(HEADLINE, { from: start.toISOString(), to: new Date(start.getTime() + 2 * 3600_000).toISOString() }),
    );
    const loadAfter = os.loadavg()[0];

    const pad = (s: string, n: number) => s.padEnd(n);
    const num = (n: number) => n.toFixed(1).padStart(8);
    process.stdout.write(`\nAnalytics on PostgreSQL, one event: ${REGISTRANTS} registrants, ${SESSIONS} sessions (${headline.attendees} attendees); ${RUNS} runs each, one at a time, over HTTP.\n`);
    process.stdout.write(`${pad("operation", 44)}  median ms     p95 ms     min ms     max ms  target\n`);
    for (const f of [...figures, windowed]) {
      const target = f === windowed ? "" : f.median < 100 ? "  ok (< 100 ms)" : "  MISSED";
      process.stdout.write(`${pad(f.name, 44)} ${num(f.median)}   ${num(f.p95)}   ${num(f.min)}   ${num(f.max)}${target}\n`);
    }
    process.stdout.write(`Load average (1 min) ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after, on ${os.cpus().length} cores: figures are noisy when it exceeds the cores.\n`);
  } finally {
    if (server) {
      server.kill("SIGTERM");
      await new Promise((resolve) => server!.once("exit", resolve));
    }
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
