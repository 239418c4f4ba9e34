/**
 * What the HTTP benchmarks share: a fresh database (PostgreSQL or embedded PGlite), Admit and
 * baseline processes on free ports, CPU read from /proc, and small helpers for percentiles and
 * bounded parallel setup work.
 */
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";

const root = path.resolve(__dirname, "../..");

export type DatabaseKind = "postgres" | "pglite";

/** BENCH_DB=pglite runs Admit on embedded PGlite; anything else (the default) on PostgreSQL. */
export function databaseKind(): DatabaseKind {
  return process.env.BENCH_DB === "pglite" ? "pglite" : "postgres";
}

/** Where one run keeps its data; `drop` removes it all. */
export interface BenchDatabase {
  kind: DatabaseKind;
  /** Shown in the figures' heading. */
  label: string;
  /** The run's own database (PostgreSQL only): for the floors and the SQL checks. */
  url: string | null;
  /** The name of that database (PostgreSQL only): whose backends' CPU a run counts. */
  name: string | null;
  /** Admit's DATA_DIR; with PGlite the data itself is under <dataDir>/pgdata. */
  dataDir: string;
  drop(): Promise<void>;
}

/**
 * A fresh database for one run. On PostgreSQL it is made on BENCH_DATABASE_URL's server (default
 * the local one) and dropped afterwards; with PGlite, a temporary DATA_DIR that is removed.
 */
export async function freshDatabase(kind: DatabaseKind, tag: string): Promise<BenchDatabase> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `admit-${tag}-`));
  const removeDir = () => fs.rmSync(dataDir, { recursive: true, force: true });
  if (kind === "pglite") {
    return {
      kind,
      label: `embedded PGlite in ${dataDir}`,
      url: null,
      name: null,
      dataDir,
      drop: async () => removeDir(),
    };
  }
  const serverUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `admit_${tag}_${Date.now()}_${randomBytes(2).toString("hex")}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    kind,
    label: `PostgreSQL (${name})`,
    url: url.toString(),
    name,
    dataDir,
    drop: async () => {
      removeDir();
      const again = new Client({ connectionString: serverUrl });
      await again.connect();
      await again.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await again.end();
    },
  };
}

/** A TCP port nothing listens on now (other benchmarks may run on the same machine). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Starts dist/<script> and resolves once it says it is ready or listening. */
export function startProcess(
  script: string,
  env: Record<string, string>,
  nodeArgs: string[] = [],
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, path.join(root, "dist", script)], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    let ready = false;
    // BENCH_ADMIT_LOG=<file>: keep what the server logs (its errors, with their request ids).
    const log = process.env.BENCH_ADMIT_LOG ? fs.createWriteStream(process.env.BENCH_ADMIT_LOG, { flags: "a" }) : null;
    child.stdout.on("data", (chunk: Buffer) => {
      log?.write(chunk);
      if (ready) return;
      out += chunk.toString();
      if (/ready|listening/i.test(out)) {
        ready = true;
        resolve(child);
      }
    });
    child.on("exit", (code) => {
      if (!ready) reject(new Error(`${script} exited with ${code}: ${out}`));
    });
  });
}

/** SIGTERM, then waits for the exit (Admit drains and closes its database first). */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** What every Admit node of one run shares: the same database, keys and public URL. */
export interface AdmitCluster {
  database: BenchDatabase;
  adminKey: string;
  masterKey: string;
  /** PUBLIC_URL of every node (tokens name it as issuer), as behind one load balancer. */
  publicUrl: string;
}

export function admitCluster(database: BenchDatabase, publicPort: number): AdmitCluster {
  return {
    database,
    adminKey: randomBytes(32).toString("base64url"),
    masterKey: randomBytes(32).toString("base64"),
    publicUrl: `http://127.0.0.1:${publicPort}`,
  };
}

/** Starts one Admit node (the built dist/src/main.js) of the cluster on `port`. */
export function startAdmit(cluster: AdmitCluster, port: number, nodeArgs: string[] = []): Promise<ChildProcess> {
  return startProcess(
    "src/main.js",
    {
      // Empty means unset: with PGlite, a DATABASE_URL from the caller's environment must not leak in.
      DATABASE_URL: cluster.database.url ?? "",
      DATA_DIR: cluster.database.dataDir,
      PORT: String(port),
      HOST: "127.0.0.1",
      PUBLIC_URL: cluster.publicUrl,
      ADMIN_API_KEY: cluster.adminKey,
      MASTER_KEY: cluster.masterKey,
      LOG_LEVEL: "warn",
    },
    nodeArgs,
  );
}

/** utime + stime of a process in milliseconds, from /proc/<pid>/stat (0 when unreadable). */
export function cpuMsOf(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // fields[0] is the state (field 3): utime and stime are fields 14 and 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100;

export interface CpuSnapshot {
  server: number;
  /** CPU ms so far of each PostgreSQL process, by pid: backends come and go during a run. */
  postgres: Map<number, number>;
  loadGenerator: number;
}

/**
 * Whether a PostgreSQL process's CPU belongs to a run on `database`: a backend or an autovacuum
 * worker counts when it serves that database, never when it serves another (other benchmarks or
 * tests may run on the same server); the server's shared processes (WAL writer, checkpointer,
 * background writer, the postmaster) always count, since the run's writes are what keep them busy.
 * Without a database name, every PostgreSQL process counts.
 */
function countsFor(database: string | undefined, pid: string): boolean {
  if (!database) return true;
  let title: string;
  try {
    title = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim();
  } catch {
    return false;
  }
  // "postgres: [<cluster>: ]<user> <database> <host>(<port>) <state>" (or [local] for a socket)
  const backend = /^postgres: (?:\S+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])/.exec(title);
  if (backend) return backend[1] === database;
  const autovacuum = /^postgres: (?:\S+: )?autovacuum worker (\S+)/.exec(title);
  if (autovacuum) return autovacuum[1] === database;
  return true;
}

/**
 * CPU so far of the server under test, of the PostgreSQL processes that work for `database`
 * (every PostgreSQL process without it, see countsFor), and of this process (ms).
 */
export function cpuSnapshot(serverPid: number | undefined, database?: string): CpuSnapshot {
  const postgres = new Map<number, number>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, "utf8").trim().startsWith("postgres") && countsFor(database, entry))
        postgres.set(Number(entry), cpuMsOf(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  const own = process.cpuUsage();
  return { server: serverPid ? cpuMsOf(serverPid) : 0, postgres, loadGenerator: (own.user + own.system) / 1000 };
}

/**
 * CPU ms per request between two snapshots; null off Linux (no /proc). PostgreSQL's is what its
 * processes alive at the end used since the start (all of it for one started meanwhile); a
 * process that exited meanwhile takes its share with it.
 */
export function cpuPerRequest(
  before: CpuSnapshot,
  after: CpuSnapshot,
  requests: number,
): { server: number; postgres: number; loadGenerator: number } | null {
  if (process.platform !== "linux") return null;
  const n = requests || 1;
  let postgres = 0;
  for (const [pid, ms] of after.postgres) postgres += ms - (before.postgres.get(pid) ?? 0);
  return {
    server: (after.server - before.server) / n,
    postgres: postgres / n,
    loadGenerator: (after.loadGenerator - before.loadGenerator) / n,
  };
}

/** The p-th percentile (0-100) of ascending values; 0 when there are none. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Runs `work` on every item with at most `concurrency` at a time; results in the items' order. */
export async function parallel<T, R>(
  items: T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
