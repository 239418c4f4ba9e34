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
 */
import { ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import autocannon from "autocannon";
import { Client } from "pg";
import { gql } from "./support";

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
}

async function run(name: string, url: string, bodies: () => string, key?: string): Promise<Figures> {
  let errors = 0;
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        setupRequest: (request) => ({ ...request, body: bodies() }),
        onResponse: (status, body) => {
          if (status !== 200 || body.includes('"errors"')) errors++;
        },
      },
    ],
  });
  return { name, rps: result.requests.average, p99: result.latency.p99, errors: errors + result.non2xx + result.errors };
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
    children.push(await start("bench/bare-server.js", { PORT: String(BARE_PORT) }));
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
    const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active } }`;

    const sessionTokens: string[] = [];
    for (let i = 0; i < 200; i++) {
      sessionTokens.push((await gql(admit, JOIN, { input: { event: "bench", credential: tokens[tokens.length - 1 - i] } })).joinEvent.sessionToken);
    }
    const nextToken = cycle(tokens.slice(0, tokens.length - 200));
    const nextSession = cycle(sessionTokens);

    const figures: Figures[] = [];
    const baseline = await run("bare Apollo+Fastify (constant)", bare, () => JSON.stringify({ query: "{ ping }" }));
    figures.push(baseline);
    if (wanted("mint")) figures.push(await run("mintJoinToken", admit, mintBody, key));
    if (wanted("validate")) figures.push(await run("validateToken", admit, () => JSON.stringify({ query: VALIDATE, variables: { t: nextToken() } })));
    // Distinct users: each request joins a user who is not in yet (after a full cycle a join
    // supersedes that user's earlier session, which is still one join's work).
    if (wanted("join")) {
      figures.push(await run("joinEvent (distinct users)", admit, () => JSON.stringify({ query: JOIN, variables: { input: { event: "bench", credential: nextToken() } } })));
    }
    if (wanted("heartbeat")) figures.push(await run("heartbeat", admit, () => JSON.stringify({ query: BEAT, variables: { t: nextSession() } })));

    const targets: Record<string, number> = { mintJoinToken: 0.7, validateToken: 0.7, "joinEvent (distinct users)": 0.4, heartbeat: 0.4 };
    console.log(`\n${SECONDS}s per run, ${CONNECTIONS} connections, Admit on PostgreSQL (${dbName})\n`);
    console.log("operation                         req/s    p99 ms   ratio  target  errors");
    for (const f of figures) {
      const ratio = f.rps / baseline.rps;
      const target = targets[f.name];
      console.log(
        `${f.name.padEnd(32)} ${f.rps.toFixed(0).padStart(6)} ${String(f.p99).padStart(9)} ${ratio.toFixed(2).padStart(7)} ${target ? `≥${target}`.padStart(7) : "".padStart(7)} ${String(f.errors).padStart(7)}`,
      );
    }
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
