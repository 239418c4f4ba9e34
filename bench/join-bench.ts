/**
 * `npm run bench`: Admit on PostgreSQL against a bare Apollo-on-Fastify server answering a
 * constant, in one run on this machine. Prints throughput and p99 of mintJoinToken,
 * validateToken, joinEvent (distinct users) and heartbeat, each as a ratio of the bare server's.
 *
 * BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) names a server on
 * which a fresh database is made for the run and dropped afterwards. BENCH_SECONDS (default 10)
 * and BENCH_CONNECTIONS (default 16) shape each run. BENCH_ONLY=mint,validate,join,heartbeat runs
 * a subset; BENCH_CPU_PROF=<dir> writes a V8 CPU profile of the Admit process there (open it in
 * Chrome's DevTools), to see where a request's time goes.
 *
 * It also prints each operation's ceiling on this machine: the throughput it would have if it
 * cost nothing but the bare server's whole request, its load generator's share and its
 * signatures (measured here), spread perfectly over every core with no database at all. A target
 * above the ceiling cannot be met by any server that verifies and signs what this one must.
 */
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { Client } from "pg";
import os from "node:os";
import { CryptoCosts, gql, measureCryptoCosts } from "./support";

const SERVER_URL = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const ADMIT_PORT = 4900;
const BARE_PORT = 4901;
const root = path.resolve(__dirname, "../..");

const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : null;
const wanted = (name: string) => !ONLY || ONLY.has(name);

function start(script: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, path.join(root, "dist", script)], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      if (/ready|listening/i.test(out)) resolve(child);
    });
    child.on("exit", (code) => reject(new Error(`${script} exited with ${code}: ${out}`)));
  });
}

interface Figures {
  name: string;
  rps: number;
  p99: number;
  errors: number;
  /** CPU milliseconds per request, by process group, from /proc (Linux). */
  cpu: { server: number; postgres: number; loadGenerator: number } | null;
}

/** utime + stime of a process in milliseconds, from /proc/<pid>/stat (0 when unreadable). */
function cpuMsOf(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    // fields[0] is the state (field 3): utime and stime are fields 14 and 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100;

/** CPU so far of the server under test, of every PostgreSQL process, and of this process. */
function cpuSnapshot(serverPid: number | undefined) {
  let postgres = 0;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (fs.readFileSync(`/proc/${entry}/comm`, "utf8").trim().startsWith("postgres")) postgres += cpuMsOf(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  const own = process.cpuUsage();
  return { server: serverPid ? cpuMsOf(serverPid) : 0, postgres, loadGenerator: (own.user + own.system) / 1000 };
}

/**
 * What one run sends: a body per request. `answered` sees each answer with the context its
 * request was made in (autocannon keeps one per connection, and a connection has one request
 * out at a time), so a client's next request can use what its last answer said.
 */
interface Load {
  body: (context: Record<string, unknown>) => string;
  answered?: (body: string, context: Record<string, unknown>) => void;
}

async function run(name: string, url: string, load: Load | (() => string), key?: string, serverPid?: number): Promise<Figures> {
  const { body, answered } = typeof load === "function" ? { body: load, answered: undefined } : load;
  let errors = 0;
  const before = cpuSnapshot(serverPid);
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        setupRequest: (request, context) => ({ ...request, body: body(context as Record<string, unknown>) }),
        onResponse: (status, text, context) => {
          if (status !== 200 || text.includes('"errors"')) errors++;
          else answered?.(text, context as Record<string, unknown>);
        },
      },
    ],
  });
  const after = cpuSnapshot(serverPid);
  const requests = result.requests.total || 1;
  const per = (k: keyof typeof before) => (after[k] - before[k]) / requests;
  const cpu = process.platform === "linux" ? { server: per("server"), postgres: per("postgres"), loadGenerator: per("loadGenerator") } : null;
  return { name, rps: result.requests.average, p99: result.latency.p99, errors: errors + result.non2xx + result.errors, cpu };
}

const cycle = <T>(items: T[]) => {
  let i = 0;
  return () => items[i++ % items.length];
};

async function main(): Promise<void> {
  const dbName = `admit_bench_${Date.now()}_${randomBytes(2).toString("hex")}`;
  const admin = new Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const dbUrl = new URL(SERVER_URL);
  dbUrl.pathname = `/${dbName}`;
  const adminKey = randomBytes(32).toString("base64url");
  const children: ChildProcess[] = [];
  try {
    const bareServer = await start("bench/bare-server.js", { PORT: String(BARE_PORT) });
    children.push(bareServer);
    children.push(
      await start("src/main.js", {
        DATABASE_URL: dbUrl.toString(),
        PORT: String(ADMIT_PORT),
        HOST: "127.0.0.1",
        ADMIN_API_KEY: adminKey,
        MASTER_KEY: randomBytes(32).toString("base64"),
        LOG_LEVEL: "warn",
        DATA_DIR: path.join(root, "data", "bench"),
      }, process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROF] : []),
    );
    const admit = `http://127.0.0.1:${ADMIT_PORT}/graphql`;
    const bare = `http://127.0.0.1:${BARE_PORT}/graphql`;

    const created = await gql(admit, `mutation { createCompany(input: { name: "Bench Co" }) { secret } }`, {}, adminKey);
    const key: string = created.createCompany.secret;
    const event = (await gql(admit, `mutation { createEvent(input: { name: "Bench", slug: "bench", privacy: PRIVATE }) { id } }`, {}, key)).createEvent;

    const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`;
    let n = 0;
    const mintBody = () => JSON.stringify({ query: MINT, variables: { input: { eventId: event.id, user: { id: `u${n++}`, name: "Bench User" } } } });

    // Tokens for distinct users, minted ahead so the join run measures joins only.
    const tokens: string[] = [];
    for (let i = 0; i < 4000; i++) tokens.push((await gql(admit, MINT, { input: { eventId: event.id, user: { id: `join-${i}`, name: "Joiner" } } }, key)).mintJoinToken.token);
    const VALIDATE = `query($t: String!) { validateToken(token: $t) { valid } }`;
    const JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken } }`;
    const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active sessionToken } }`;

    const sessionTokens: string[] = [];
    for (let i = 0; i < 200; i++) {
      sessionTokens.push((await gql(admit, JOIN, { input: { event: "bench", credential: tokens[tokens.length - 1 - i] } })).joinEvent.sessionToken);
    }
    const nextToken = cycle(tokens.slice(0, tokens.length - 200));
    // Heartbeats come from 200 clients in turn, each sending the token its last heartbeat gave it,
    // as the embed page does.
    const nextClient = cycle(sessionTokens.map((_, i) => i));
    const heartbeats: Load = {
      body: (context) => {
        const client = nextClient();
        context.client = client;
        return JSON.stringify({ query: BEAT, variables: { t: sessionTokens[client] } });
      },
      answered: (text, context) => {
        const refreshed = (JSON.parse(text) as { data?: { heartbeat?: { sessionToken?: string | null } } }).data?.heartbeat?.sessionToken;
        if (refreshed) sessionTokens[context.client as number] = refreshed;
      },
    };

    const figures: Figures[] = [];
    const admitPid = children[1].pid;
    const baseline = await run("bare Apollo+Fastify (constant)", bare, () => JSON.stringify({ query: "{ ping }" }), undefined, bareServer.pid);
    figures.push(baseline);
    if (wanted("mint")) figures.push(await run("mintJoinToken", admit, mintBody, key, admitPid));
    if (wanted("validate")) figures.push(await run("validateToken", admit, () => JSON.stringify({ query: VALIDATE, variables: { t: nextToken() } }), undefined, admitPid));
    // Distinct users: each request joins a user who is not in yet (after a full cycle a join
    // supersedes that user's earlier session, which is still one join's work).
    if (wanted("join")) {
      figures.push(await run("joinEvent (distinct users)", admit, () => JSON.stringify({ query: JOIN, variables: { input: { event: "bench", credential: nextToken() } } }), undefined, admitPid));
    }
    if (wanted("heartbeat")) figures.push(await run("heartbeat", admit, heartbeats, undefined, admitPid));

    const targets: Record<string, number> = { mintJoinToken: 0.7, validateToken: 0.7, "joinEvent (distinct users)": 0.4, heartbeat: 0.4 };
    // Signatures each operation must make: [signs, verifications]. A heartbeat that comes back to
    // the node that signed its token is not verified again (TokenService.rememberSessionToken).
    const crypto: Record<string, [number, number]> = { mintJoinToken: [1, 0], validateToken: [0, 1], "joinEvent (distinct users)": [1, 1], heartbeat: [1, 0] };
    const costs = await measureCryptoCosts();
    const cores = os.cpus().length;
    const ceiling = (f: Figures, lib: "jose" | "node") => {
      const [signs, verifies] = crypto[f.name] ?? [0, 0];
      if (!f.cpu || !baseline.cpu) return null;
      const cryptoMs = lib === "jose" ? signs * costs.joseSign + verifies * costs.joseVerify : signs * costs.nodeSign + verifies * costs.nodeVerify;
      return (cores * 1000) / (baseline.cpu.server + f.cpu.loadGenerator + cryptoMs) / baseline.rps;
    };
    console.log(`\n${SECONDS}s per run, ${CONNECTIONS} connections, Admit on PostgreSQL (${dbName}), ${cores} cores`);
    console.log(
      `Ed25519 CPU µs per operation here: jose sign ${(costs.joseSign * 1000).toFixed(0)}, verify ${(costs.joseVerify * 1000).toFixed(0)}; ` +
        `node:crypto sign ${(costs.nodeSign * 1000).toFixed(0)}, verify ${(costs.nodeVerify * 1000).toFixed(0)}\n`,
    );
    console.log("operation                         req/s    p99 ms   ratio  target  ceiling: jose  node:crypto  errors   CPU ms/request: server  postgres  load generator");
    const ms = (x: number | undefined) => (x === undefined ? "" : x.toFixed(3)).padStart(8);
    const r = (x: number | null) => (x === null ? "" : x.toFixed(2));
    for (const f of figures) {
      const ratio = f.rps / baseline.rps;
      const target = targets[f.name];
      const [jose, node] = target ? [ceiling(f, "jose"), ceiling(f, "node")] : [null, null];
      console.log(
        `${f.name.padEnd(32)} ${f.rps.toFixed(0).padStart(6)} ${String(f.p99).padStart(9)} ${ratio.toFixed(2).padStart(7)} ${target ? `≥${target}`.padStart(7) : "".padStart(7)}` +
          ` ${r(jose).padStart(14)} ${r(node).padStart(12)} ${String(f.errors).padStart(7)}` +
          `                  ${ms(f.cpu?.server)}  ${ms(f.cpu?.postgres)}  ${ms(f.cpu?.loadGenerator)}`,
      );
    }
    console.log(
      "\nceiling: the ratio if the operation cost only the bare request, its load generator's share and its signatures, on every core, with no database.",
    );
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 500));
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
