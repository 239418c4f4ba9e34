/**
 * `npm run bench:healthz`: how long `/healthz` waits while a node answers heavy analytics. Starts
 * Admit (`dist/src/main.js`, NODE_ENV=production) on a fresh PostgreSQL database, makes a company
 * and an event, then for BENCH_SECONDS (default 5) per phase keeps 3 analytics requests running
 * at all times while a worker thread asks `/healthz` every 10 ms, and prints the p50, p99 and max:
 *
 * - idle: no analytics at all;
 * - refused: 19 aliases of a 26-year timeline (about 183,000 buckets), refused by the budget;
 * - at the budget: two timelines of 10,000 + 4,900 one-second buckets, about the most one
 *   request may ask for (1 MB of JSON each).
 *
 * The target is a p99 under 100 ms in every phase. BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres) names a server on which a fresh database is made
 * for the run and dropped afterwards.
 */
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Client } from "pg";
import { gql } from "./support";

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENT = 3;
const PORT = 4911;
const root = path.resolve(__dirname, "../..");

/** In the worker: asks /healthz every 10 ms until told to stop, then posts the latencies. */
async function probe(url: string): Promise<void> {
  let stop = false;
  parentPort!.once("message", () => (stop = true));
  const ms: number[] = [];
  while (!stop) {
    const started = performance.now();
    const response = await fetch(url);
    await response.arrayBuffer();
    ms.push(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  parentPort!.postMessage(ms);
}

interface Figures {
  phase: string;
  probes: number;
  p50: number;
  p99: number;
  max: number;
  requests: number;
  outcome: string;
}

function startProbe(): { stop(): Promise<number[]> } {
  const worker = new Worker(__filename, { workerData: { url: `http://127.0.0.1:${PORT}/healthz` } });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        worker.once("message", (ms: number[]) => void worker.terminate().then(() => resolve(ms)));
        worker.once("error", reject);
        worker.postMessage("stop");
      }),
  };
}

/** Keeps CONCURRENT copies of `body` in flight for SECONDS while the probe runs. */
async function phase(name: string, key: string, body: string | null): Promise<Figures> {
  const probe = startProbe();
  const until = Date.now() + SECONDS * 1000;
  let requests = 0;
  const outcomes = new Set<string>();
  const loop = async () => {
    while (body && Date.now() < until) {
      const response = await fetch(`http://127.0.0.1:${PORT}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body,
      });
      const text = await response.text();
      requests++;
      outcomes.add(
        text.startsWith('{"errors"')
          ? `refused (${response.status}): ${(JSON.parse(text).errors[0].extensions?.code as string) ?? "?"}`
          : `answered (${(text.length / 1e6).toFixed(1)} MB)`,
      );
    }
  };
  await Promise.all(Array.from({ length: CONCURRENT }, loop));
  if (!body) await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const ms = (await probe.stop()).sort((a, b) => a - b);
  const rank = (p: number) => ms[Math.min(ms.length - 1, Math.ceil((p / 100) * ms.length) - 1)];
  return {
    phase: name,
    probes: ms.length,
    p50: rank(50),
    p99: rank(99),
    max: ms[ms.length - 1],
    requests,
    outcome: [...outcomes].join(", ") || "—",
  };
}

function run(script: string, env: Record<string, string>, until: RegExp): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, "dist", script)], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (until.test(out)) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`${script} exited with ${code}: ${out}`)));
  });
}

async function main(): Promise<void> {
  const dbName = `admit_bench_healthz_${Date.now()}_${randomBytes(2).toString("hex")}`;
  const admin = new Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(SERVER_URL);
  dbUrl.pathname = `/${dbName}`;
  const adminKey = randomBytes(32).toString("base64url");
  let server: ChildProcess | null = null;
  try {
    server = await run(
      "src/main.js",
      {
        NODE_ENV: "production",
        DATABASE_URL: dbUrl.toString(),
        MASTER_KEY: randomBytes(32).toString("base64"),
        ADMIN_API_KEY: adminKey,
        LOG_LEVEL: "warn",
        PORT: String(PORT),
        HOST: "127.0.0.1",
        DATA_DIR: path.join(root, "data", "bench-healthz"),
      },
      /listening/i,
    );
    const url = `http://127.0.0.1:${PORT}/graphql`;
    const created = await gql(url, `mutation { createCompany(input: { name: "Bench" }) { secret } }`, {}, adminKey);
    const key: string = created.createCompany.secret;
    const eventId: string = (await gql(url, `mutation { createEvent(input: { name: "Bench" }) { id } }`, {}, key))
      .createEvent.id;

    const decades = Array.from(
      { length: 19 },
      (_, i) =>
        `a${i}: eventAnalytics(eventId: "${eventId}", from: "2000-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { timeline(bucketSeconds: ${85_025 + i}) { start activeSessions joins } }`,
    );
    const start = Date.parse("2026-01-01T00:00:00Z");
    const seconds = (alias: string, n: number) =>
      `${alias}: eventAnalytics(eventId: "${eventId}", from: "${new Date(start).toISOString()}", to: "${new Date(start + n * 1000).toISOString()}") { timeline(bucketSeconds: 1) { start activeSessions joins } }`;
    const refused = JSON.stringify({ query: `{ ${decades.join(" ")} }` });
    const atBudget = JSON.stringify({ query: `{ ${seconds("a", 10_000)} ${seconds("b", 4_900)} }` });

    const figures = [
      await phase("idle", key, null),
      await phase("3 × refused (19 aliases, ~183k buckets)", key, refused),
      await phase("3 × at the budget (14,900 buckets)", key, atBudget),
    ];
    const pad = (s: string, n: number) => s.padEnd(n);
    const num = (n: number) => n.toFixed(1).padStart(7);
    process.stdout.write(
      `\n/healthz every 10 ms while ${CONCURRENT} analytics requests run at all times, ${SECONDS} s per phase (NODE_ENV=production, PostgreSQL).\n`,
    );
    process.stdout.write(`${pad("phase", 42)} probes  p50 ms  p99 ms  max ms  requests  answers\n`);
    for (const f of figures) {
      process.stdout.write(
        `${pad(f.phase, 42)} ${String(f.probes).padStart(6)} ${num(f.p50)} ${num(f.p99)} ${num(f.max)} ${String(f.requests).padStart(9)}  ${f.outcome}${f.p99 < 100 ? "" : "  (p99 over 100 ms)"}\n`,
      );
    }
    process.stdout.write(
      `Load average (1 min) ${os.loadavg()[0].toFixed(2)} on ${os.cpus().length} cores: figures are noisy when it exceeds the cores.\n`,
    );
  } finally {
    if (server) {
      server.kill("SIGTERM");
      await new Promise((resolve) => server!.once("exit", resolve));
    }
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  }
}

if (isMainThread) {
  main().catch((error) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
} else {
  void probe((workerData as { url: string }).url);
}
