/**
 * `npm run bench:analytics`: engagement analytics at scale. Seeds one event with 100,000
 * registrants and 1,000,000 sessions (`seed:analytics`), starts Admit on that database, and times,
 * through GraphQL over HTTP, one request at a time: eventAnalytics with every headline field,
 * timeline(bucketSeconds: 60), breakdown(metadataKey: "company"), the first page of attendeeList
 * and a page half-way down it, and eventAnalytics over a 2-hour window that cuts sessions. Then,
 * in a second company of the same database, companyAnalytics over 100 events of 10,000 sessions
 * each. Prints a table: median, p95, min and max of each, against the targets (an event's query:
 * median under 50 ms and p95 under 100 ms; companyAnalytics: median under 100 ms), with the
 * machine's load average measured around each line.
 *
 * BENCH_DB=pglite runs it all on embedded PGlite (a temporary DATA_DIR) instead of PostgreSQL
 * (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres, on which a fresh
 * database is made for the run and dropped afterwards). BENCH_RUNS (default 20),
 * BENCH_REGISTRANTS and BENCH_SESSIONS shape the event; BENCH_COMPANY_EVENTS (default 100, 0 to
 * skip) and BENCH_COMPANY_SESSIONS (default 10,000) the company.
 *
 * BENCH_KEEP=<file> (PostgreSQL only) keeps the seeded database: the first run seeds it and writes
 * what a later run needs to <file> (readable by its owner only: it holds the run's keys); a run
 * that finds <file> skips the seed and times the queries on that database, after Admit has applied
 * any new migration to it. Seeding 10M sessions takes about half an hour; this times a change at
 * 10M without paying them again. The seeded events end an hour after their seed started, and
 * Admit's sweep then ends their live sessions, so a kept database compares like with like only
 * within that hour: a later run refuses it. Drop the database by hand when done (its name is in
 * <file>).
 */
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { databaseKind, freePort, freshDatabase } from "./harness";
import { gql } from "./support";

const KIND = databaseKind();
const RUNS = Number(process.env.BENCH_RUNS ?? 20);
const REGISTRANTS = Number(process.env.BENCH_REGISTRANTS ?? 100_000);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 1_000_000);
const COMPANY_EVENTS = Number(process.env.BENCH_COMPANY_EVENTS ?? 100);
const COMPANY_SESSIONS = Number(process.env.BENCH_COMPANY_SESSIONS ?? 10_000);
const SHAPE = {
  registrants: REGISTRANTS,
  sessions: SESSIONS,
  companyEvents: COMPANY_EVENTS,
  companySessions: COMPANY_SESSIONS,
};
const KEEP = process.env.BENCH_KEEP ?? "";
const root = path.resolve(__dirname, "../..");

function run(
  script: string,
  args: string[],
  env: Record<string, string>,
  until?: RegExp,
): Promise<{ child: ChildProcess; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "dist", script), ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (until && until.test(out)) resolve({ child, out });
    });
    child.on("exit", (code) =>
      code === 0 && !until ? resolve({ child, out }) : reject(new Error(`${script} exited with ${code}: ${out}`)),
    );
  });
}

interface Figures {
  name: string;
  median: number;
  p95: number;
  min: number;
  max: number;
  /** Load average (1 min) when the line started and ended. */
  load: [number, number];
  target: { median: number; p95?: number } | null;
}

async function time(name: string, target: Figures["target"], work: () => Promise<unknown>): Promise<Figures> {
  for (let i = 0; i < 3; i++) await work(); // warm-up: plans, caches, connections
  const loadBefore = os.loadavg()[0];
  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    await work();
    ms.push(performance.now() - started);
  }
  ms.sort((a, b) => a - b);
  const rank = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)];
  return {
    name,
    median: rank(50),
    p95: rank(95),
    min: ms[0],
    max: ms[ms.length - 1],
    load: [loadBefore, os.loadavg()[0]],
    target,
  };
}

const EVENT_TARGET = { median: 50, p95: 100 };

interface Seeded {
  key: string;
  eventIds: string[];
  seconds: number;
}

/** What BENCH_KEEP writes: enough to time the queries again on the same seeded database. */
interface Kept {
  url: string;
  env: Record<string, string>;
  event: Seeded;
  company: Seeded | null;
  shape: typeof SHAPE;
  /** When the event's seed started: its live sessions stay live for an hour after it. */
  seededAt: number;
}

/** The seeded events end an hour after their seed began; leave a run a few minutes to finish. */
const KEPT_FOR_MS = 3_600_000 - 10 * 60_000;

async function main(): Promise<void> {
  if (KEEP && KIND === "pglite") throw new Error("BENCH_KEEP keeps a PostgreSQL database; unset BENCH_DB");
  const kept: Kept | null = KEEP && fs.existsSync(KEEP) ? (JSON.parse(fs.readFileSync(KEEP, "utf8")) as Kept) : null;
  if (kept && !(Date.now() <= kept.seededAt + KEPT_FOR_MS)) {
    throw new Error(
      `The database in ${KEEP} was seeded at ${Number.isFinite(kept.seededAt) ? new Date(kept.seededAt).toISOString() : "an unknown time"}: its events end an hour later, ` +
        "and Admit's sweep then ends their live sessions. Drop it and seed again.",
    );
  }
  const database = kept ? null : await freshDatabase(KIND, "bench_analytics");
  const seededAt = Date.now();
  let recorded = false;
  const env: Record<string, string> = kept
    ? kept.env
    : {
        DATABASE_URL: database!.url ?? "",
        MASTER_KEY: randomBytes(32).toString("base64"),
        ADMIN_API_KEY: randomBytes(32).toString("base64url"),
        LOG_LEVEL: "warn",
        DATA_DIR: database!.dataDir,
      };
  let server: ChildProcess | null = null;
  const seed = async (events: number, registrants: number, sessions: number): Promise<Seeded> => {
    process.stderr.write(`Seeding ${events} event(s): ${registrants} registrants, ${sessions} sessions each…\n`);
    const started = performance.now();
    const seeded = await run(
      "src/scripts/seed-analytics.js",
      ["--events", String(events), "--registrants", String(registrants), "--sessions", String(sessions)],
      env,
    );
    const seconds = (performance.now() - started) / 1000;
    const ids = seeded.out
      .slice(seeded.out.indexOf("Event ids:"))
      .split("\n")
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean);
    return { key: /API key[^:]*: (\S+)/.exec(seeded.out)![1], eventIds: ids, seconds };
  };
  try {
    const seeded = kept ? kept.event : await seed(1, REGISTRANTS, SESSIONS);
    const eventId = seeded.eventIds[0];
    const shape = kept ? kept.shape : SHAPE;
    // PGlite is one process: the company is seeded before Admit opens the same data directory.
    const company = kept
      ? kept.company
      : COMPANY_EVENTS > 0
        ? await seed(COMPANY_EVENTS, 1_000, COMPANY_SESSIONS)
        : null;
    if (KEEP && !kept) {
      const record: Kept = { url: env.DATABASE_URL, env, event: seeded, company, shape: SHAPE, seededAt };
      fs.writeFileSync(KEEP, JSON.stringify(record, null, 2), { mode: 0o600 });
      recorded = true;
      process.stderr.write(`Kept the seeded database ${database!.name} (${KEEP})\n`);
    }
    const port = await freePort();
    server = (await run("src/main.js", [], { ...env, PORT: String(port), HOST: "127.0.0.1" }, /listening/i)).child;
    const url = `http://127.0.0.1:${port}/graphql`;
    const q = (query: string, variables: object = {}) => gql(url, query, { id: eventId, ...variables }, seeded.key);

    const HEADLINE = `query($id: ID!, $from: DateTime, $to: DateTime) { eventAnalytics(eventId: $id, from: $from, to: $to) {
      registrants attendees attendanceRate sessions totalAttendanceSeconds averageAttendanceSeconds peakConcurrentSessions } }`;
    const TIMELINE = `query($id: ID!) { eventAnalytics(eventId: $id) { timeline(bucketSeconds: 60) { start activeSessions joins } } }`;
    const BREAKDOWN = `query($id: ID!) { eventAnalytics(eventId: $id) { breakdown(metadataKey: "company") { value attendees totalAttendanceSeconds } } }`;
    const PAGE = `query($id: ID!, $after: String, $first: Int) { eventAnalytics(eventId: $id) { attendeeList(first: $first, after: $after) {
      edges { node { user { id email } registrant { id email } metadata firstJoinedAt totalAttendanceSeconds sessions role } }
      pageInfo { hasNextPage endCursor } } } }`;
    const WALK = `query($id: ID!, $after: String) { eventAnalytics(eventId: $id) { attendeeList(first: 100, after: $after) { pageInfo { hasNextPage endCursor } } } }`;
    const COMPANY = `{ companyAnalytics { totals { events uniqueAttendees sessions registrants totalAttendanceSeconds }
      events { event { id } registrants attendees attendanceRate sessions totalAttendanceSeconds peakConcurrentSessions } } }`;

    const headline = (await q(HEADLINE)).eventAnalytics;
    process.stderr.write(`Event: ${JSON.stringify(headline)}\n`);
    // A cursor half-way down the list, reached the way a client would: page after page.
    let deep: string | null = null;
    for (let seen = 0; seen < headline.attendees / 2; seen += 100) {
      deep = (await q(WALK, { after: deep })).eventAnalytics.attendeeList.pageInfo.endCursor;
    }
    const timeline = (await q(TIMELINE)).eventAnalytics.timeline;
    const breakdown = (await q(BREAKDOWN)).eventAnalytics.breakdown;
    process.stderr.write(
      `Timeline: ${timeline.length} buckets; breakdown: ${breakdown.length} values; deep page after ${Math.ceil(headline.attendees / 200) * 100} attendees\n`,
    );

    const figures: Figures[] = [];
    figures.push(await time("eventAnalytics (all headline fields)", EVENT_TARGET, () => q(HEADLINE)));
    figures.push(await time("timeline(bucketSeconds: 60)", EVENT_TARGET, () => q(TIMELINE)));
    figures.push(await time('breakdown(metadataKey: "company")', EVENT_TARGET, () => q(BREAKDOWN)));
    figures.push(await time("attendeeList(first: 20), first page", EVENT_TARGET, () => q(PAGE, { first: 20 })));
    figures.push(
      await time("attendeeList(first: 20), half-way down", EVENT_TARGET, () => q(PAGE, { first: 20, after: deep })),
    );
    // Two hours from the second hour of activity: it cuts sessions at both ends.
    const start = new Date(Date.parse(timeline[0].start) + 2 * 3600_000);
    const window = { from: start.toISOString(), to: new Date(start.getTime() + 2 * 3600_000).toISOString() };
    figures.push(await time("eventAnalytics over a 2-hour window", EVENT_TARGET, () => q(HEADLINE, window)));
    if (company) {
      const c = (await gql(url, COMPANY, {}, company.key)).companyAnalytics;
      process.stderr.write(`Company: ${JSON.stringify(c.totals)}\n`);
      figures.push(
        await time(`companyAnalytics, ${shape.companyEvents} events`, { median: 100 }, () =>
          gql(url, COMPANY, {}, company.key),
        ),
      );
    }

    const pad = (text: string, n: number) => text.padEnd(n);
    const num = (n: number) => n.toFixed(1).padStart(8);
    const on = KIND === "pglite" ? "embedded PGlite" : "PostgreSQL";
    process.stdout.write(
      `\nAnalytics on ${on}: one event with ${shape.registrants} registrants and ${shape.sessions} sessions (${headline.attendees} attendees), seeded in ${seeded.seconds.toFixed(0)} s` +
        (company
          ? `; a company of ${shape.companyEvents} events × ${shape.companySessions} sessions, seeded in ${company.seconds.toFixed(0)} s`
          : "") +
        `. ${RUNS} runs each, one at a time, over HTTP, on ${os.cpus().length} cores.\n`,
    );
    process.stdout.write(`| ${pad("query", 42)} | median ms | p95 ms   | min ms   | max ms   | load     | target |\n`);
    process.stdout.write(`|${"-".repeat(44)}|-----------|----------|----------|----------|----------|--------|\n`);
    for (const f of figures) {
      const t = f.target;
      const met = !t ? "" : f.median < t.median && (t.p95 === undefined || f.p95 < t.p95) ? "ok" : "MISSED";
      const load = `${f.load[0].toFixed(1)}–${f.load[1].toFixed(1)}`.padStart(8);
      process.stdout.write(
        `| ${pad(f.name, 42)} | ${num(f.median)}  | ${num(f.p95)} | ${num(f.min)} | ${num(f.max)} | ${load} | ${met.padEnd(6)} |\n`,
      );
    }
    process.stdout.write(
      `Targets: an event's query median < ${EVENT_TARGET.median} ms and p95 < ${EVENT_TARGET.p95} ms; companyAnalytics median < 100 ms. ` +
        `Load: the 1-minute load average around each line; figures are noisy when it exceeds the cores.\n`,
    );
  } finally {
    if (server) {
      server.kill("SIGTERM");
      await new Promise((resolve) => server!.once("exit", resolve));
    }
    // A kept database stays (recorded now or before); one whose seed failed goes.
    if (database && !recorded) await database.drop();
    else if (database) fs.rmSync(database.dataDir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
