import { ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import Fastify from "fastify";
import { loadConfig } from "../../src/config";
import { buildDist } from "../support/build";
import { openFreshTestDatabase, usingPglite } from "../support/harness";
import { fresh, signPartner } from "../federation/partner-helpers";

/**
 * The real entry point, as `npm start` runs it: compiled by tsc, started on an embedded
 * database in a temporary DATA_DIR, stopped with SIGTERM, started again on the same data.
 */
const root = path.resolve(__dirname, "../..");
const main = path.join(root, "dist/src/main.js");

interface Running {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startAdmit(env: Record<string, string>, script = main): Running {
  let output = "";
  const child = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr.on("data", (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitFor(predicate: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function gql(port: number, query: string, key?: string, variables: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

beforeAll(() => buildDist(), 120_000);

it("starts with no configuration, prints the admin key once, keeps data across a SIGTERM restart", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "admit-start-"));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = { DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1" };

  const first = startAdmit(env);
  await waitFor(() => first.output().includes("Admit is listening"), 60_000);
  const keys = first.output().match(/admp_[A-Za-z0-9_-]{43}/g) ?? [];
  expect(keys).toHaveLength(1);
  const adminKey = keys[0] as string;
  expect(first.output()).toContain(`GraphQL at http://localhost:${port}/graphql`);
  const created = await gql(port, `mutation { createCompany(input: { name: "Kept" }) { secret } }`, adminKey);
  const companyKey: string = created.data.createCompany.secret;

  first.child.kill("SIGTERM");
  expect(await first.exited).toBe(0);
  expect(fs.readFileSync(path.join(dataDir, "master.key"), "utf8").trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);

  const second = startAdmit(env);
  await waitFor(() => second.output().includes("Admit is listening"), 60_000);
  expect(second.output()).not.toMatch(/admp_/);
  const me = await gql(port, `{ company { name } }`, companyKey);
  expect(me.data.company.name).toBe("Kept");
  const adminStill = await gql(
    port,
    `mutation { createCompany(input: { name: "Again" }) { company { id } } }`,
    adminKey,
  );
  expect(adminStill.data.createCompany.company.id).toBeTruthy();
  second.child.kill("SIGTERM");
  expect(await second.exited).toBe(0);
}, 120_000);

/** Whether something accepts TCP connections on the port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

it("on SIGTERM answers /readyz 503 at once, serves on through the delay, finishes an in-flight request, then exits", async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "admit-drain-"));
  const run = startAdmit({ DATA_DIR: dataDir, PORT: String(port), HOST: "127.0.0.1", DRAIN_DELAY_MS: "3000" });
  try {
    await waitFor(() => run.output().includes("Admit is listening"), 120_000);
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: response.status, body: await response.json() };
    };
    expect(await readyz()).toEqual({ status: 200, body: { status: "ready" } });

    // A request in flight: its headers and the start of its body are sent; the rest comes only
    // once the node has stopped accepting connections.
    const body = JSON.stringify({ query: "{ __typename }" });
    const inFlight = net.connect(port, "127.0.0.1");
    let answer = "";
    inFlight.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    const closed = new Promise<void>((resolve) => inFlight.on("close", () => resolve()));
    await new Promise<void>((resolve) => inFlight.once("connect", () => resolve()));
    inFlight.write(
      `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 4)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));

    const signalled = Date.now();
    run.child.kill("SIGTERM");
    let seen = await readyz();
    while (seen.status === 200 && Date.now() - signalled < 3_000) seen = await readyz();
    expect(seen).toEqual({
      status: 503,
      body: { status: "unavailable", reason: expect.stringMatching(/^This node is stopping/) },
    });
    // The balancer's delay: everything else still answers.
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    expect(
      await (
        await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body,
        })
      ).json(),
    ).toEqual({
      data: { __typename: "Query" },
    });

    // After the delay, no new connection; the process waits for the request it has.
    const until = Date.now() + 10_000;
    while ((await accepts(port)) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(3_000);
    expect(await accepts(port)).toBe(false);
    expect(run.child.exitCode).toBeNull();

    inFlight.write(body.slice(4));
    expect(await run.exited).toBe(0);
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4))).toEqual({ data: { __typename: "Query" } });
    expect(run.output()).not.toMatch(/DRAIN_TIMEOUT_MS/);
  } finally {
    if (run.child.exitCode === null) run.child.kill("SIGKILL");
    await run.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 180_000);

it("exits with code 1 once DRAIN_TIMEOUT_MS has passed, when a request never finishes", async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "admit-drain-"));
  const run = startAdmit({
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: "127.0.0.1",
    DRAIN_DELAY_MS: "0",
    DRAIN_TIMEOUT_MS: "2000",
  });
  let stuck: net.Socket | null = null;
  try {
    await waitFor(() => run.output().includes("Admit is listening"), 120_000);
    stuck = net.connect(port, "127.0.0.1");
    stuck.on("error", () => undefined);
    stuck.write(
      `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{`,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const signalled = Date.now();
    run.child.kill("SIGTERM");
    expect(await run.exited).toBe(1);
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(2_000);
    expect(run.output()).toMatch(/stopping took longer than DRAIN_TIMEOUT_MS/);
  } finally {
    stuck?.destroy();
    if (run.child.exitCode === null) run.child.kill("SIGKILL");
    await run.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 180_000);

it("refuses a bad configuration with one line naming the variable", async () => {
  const run = startAdmit({ PORT: "eighty", DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "admit-bad-")) });
  expect(await run.exited).toBe(1);
  expect(run.output().trim()).toBe("Invalid configuration: PORT must be a whole number from 0 to 65535.");
  const master = startAdmit({ MASTER_KEY: "short", DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "admit-bad-")) });
  expect(await master.exited).toBe(1);
  expect(master.output()).toMatch(/^Invalid configuration: MASTER_KEY/);
  expect(master.output()).not.toContain("short");
  const proxy = startAdmit({ TRUST_PROXY: "true", DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), "admit-bad-")) });
  expect(await proxy.exited).toBe(1);
  expect(proxy.output().trim()).toMatch(/^Invalid configuration: TRUST_PROXY cannot be true: [^\n]+$/);
}, 60_000);

it("refuses a NODE_ENV it does not know instead of running with the development defaults", () => {
  for (const known of ["development", "production", "test"])
    expect(loadConfig({ NODE_ENV: known }).nodeEnv).toBe(known);
  expect(loadConfig({}).nodeEnv).toBe("development");
  for (const bad of ["prod", "Production", "staging"]) {
    expect(() => loadConfig({ NODE_ENV: bad })).toThrow(
      /^Invalid configuration: NODE_ENV must be one of development, production, test\./,
    );
  }
});

it("reads TRUST_PROXY as the proxies' addresses, and refuses true, hop counts and anything but IPs or CIDR ranges", () => {
  expect(loadConfig({}).trustProxy).toBe(false);
  expect(loadConfig({ TRUST_PROXY: "  " }).trustProxy).toBe(false);
  expect(loadConfig({ TRUST_PROXY: "false" }).trustProxy).toBe(false);
  const trusted = loadConfig({ TRUST_PROXY: "10.0.0.0/8, 192.0.2.10,2001:db8::/32,::1, uniquelocal" }).trustProxy;
  expect(trusted).toEqual(["10.0.0.0/8", "192.0.2.10", "2001:db8::/32", "::1", "uniquelocal"]);
  // Fastify (proxy-addr) takes every value the config lets through.
  expect(() => Fastify({ trustProxy: [...(trusted as string[])] })).not.toThrow();
  for (const bad of [
    "true",
    "TRUE",
    "1",
    "0",
    "10.0.0.0/33",
    "10.0.0.0/0",
    "::/129",
    "10.0.0.1/8/1",
    "10.0.0",
    "proxy.internal",
    "10.0.0.1,",
    "fe80::1%eth0",
    "*",
  ]) {
    expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/^Invalid configuration: TRUST_PROXY /);
  }
});

it("reads the drain settings, and refuses a bound no longer than the wait for the balancer", () => {
  expect(loadConfig({}).drain).toEqual({ delayMs: 2_000, timeoutMs: 25_000 });
  expect(loadConfig({ DRAIN_DELAY_MS: "0" }).drain).toEqual({ delayMs: 0, timeoutMs: 25_000 });
  expect(loadConfig({ DRAIN_DELAY_MS: "30000" }).drain).toEqual({ delayMs: 30_000, timeoutMs: 35_000 });
  expect(loadConfig({ DRAIN_DELAY_MS: "1000", DRAIN_TIMEOUT_MS: "5000" }).drain).toEqual({
    delayMs: 1_000,
    timeoutMs: 5_000,
  });
  expect(() => loadConfig({ DRAIN_DELAY_MS: "5000", DRAIN_TIMEOUT_MS: "5000" })).toThrow(
    /^Invalid configuration: DRAIN_TIMEOUT_MS must be longer than DRAIN_DELAY_MS/,
  );
  expect(() => loadConfig({ DRAIN_DELAY_MS: "2s" })).toThrow(
    /^Invalid configuration: DRAIN_DELAY_MS must be a whole number of milliseconds from 0 to 3600000 \(0: stop accepting at once\)\.$/,
  );
  expect(() => loadConfig({ DRAIN_TIMEOUT_MS: "0" })).toThrow(
    /^Invalid configuration: DRAIN_TIMEOUT_MS must be a whole number of milliseconds from 1 to 3600000\.$/,
  );
});

/**
 * The database a process test runs on, as the suite was asked: embedded under DATA_DIR, or a
 * database of its own on the PostgreSQL server (DATABASE_URL).
 */
async function processDatabase(): Promise<{
  env: Record<string, string> & { DATA_DIR: string };
  close(): Promise<void>;
}> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "admit-keys-"));
  if (usingPglite()) return { env: { DATA_DIR: dataDir }, close: async () => undefined };
  const db = await openFreshTestDatabase();
  return { env: { DATA_DIR: dataDir, DATABASE_URL: db.url! }, close: () => db.close() };
}

const ONE_LINE_WITHOUT_STACK = /^[^\n]+\n?$/;

it("another MASTER_KEY, or none on a second node, stops the start in one line; a rotation moves the database to a new key", async () => {
  const database = await processDatabase();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const [k1, k2, k3] = [randomBytes(32), randomBytes(32), randomBytes(32)].map((key) => key.toString("base64"));
  const adminKey = `admin-${randomBytes(24).toString("base64url")}`;
  const env = { ...database.env, PORT: String(port), HOST: "127.0.0.1", ADMIN_API_KEY: adminKey };
  const runs: Running[] = [];
  const launch = (extra: Record<string, string>, script?: string) => {
    const run = startAdmit({ ...env, ...extra }, script);
    runs.push(run);
    return run;
  };
  const refused = async (run: Running): Promise<string> => {
    await waitFor(() => run.child.exitCode !== null || run.output().includes("Admit is listening"), 60_000);
    expect(run.output()).not.toContain("Admit is listening");
    expect(await run.exited).toBe(1);
    const output = run.output();
    expect(output).toMatch(ONE_LINE_WITHOUT_STACK);
    for (const key of [k1, k2, k3]) expect(output).not.toContain(key);
    return output.trim();
  };
  try {
    // The first start records its key, and makes a company whose signing key is under it.
    const first = launch({ MASTER_KEY: k1 });
    await waitFor(() => first.output().includes("Admit is listening"), 60_000);
    const created = await gql(port, `mutation { createCompany(input: { name: "Keyed" }) { secret } }`, adminKey);
    const companyKey: string = created.data.createCompany.secret;
    const event = (await gql(port, `mutation { createEvent(input: { name: "Launch" }) { id } }`, companyKey)).data
      .createEvent;
    const mintToken = async (user: string) =>
      (
        await gql(
          port,
          `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`,
          companyKey,
          { input: { eventId: event.id, user: { id: user } } },
        )
      ).data.mintJoinToken.token as string;
    const minted = await mintToken("before");
    const partner = (
      await gql(
        port,
        `mutation { createPartnerSecret(input: { name: "crm" }) { secret partnerSecret { id } } }`,
        companyKey,
      )
    ).data.createPartnerSecret;
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

    // The README's old command run again: a new key each run.
    const second = await refused(launch({ MASTER_KEY: k2 }));
    expect(second).toMatch(
      /^MASTER_KEY does not open this database's encrypted keys \(they are under master key id [A-Za-z0-9_-]{16}; this key's id is [A-Za-z0-9_-]{16}\)\. Start with the MASTER_KEY this database was set up with; [^\n]+$/,
    );
    // A node without MASTER_KEY makes a key of its own: refused, and the stray key file is gone.
    const third = await refused(launch({}));
    expect(third).toMatch(
      /^MASTER_KEY is not set, and the new key this start made in \S+master\.key \(removed again\) does not open [^\n]+\. Set MASTER_KEY to the key this database was set up with\.$/,
    );
    expect(fs.existsSync(path.join(env.DATA_DIR, "master.key"))).toBe(false);

    // Rotation: a wrong old key changes nothing; the right one re-encrypts everything.
    const rotate = (keys: Record<string, string>) =>
      launch(keys, path.join(root, "dist/src/scripts/rotate-master-key.js"));
    const wrongOld = await refused(rotate({ MASTER_KEY_OLD: k3, MASTER_KEY: k2 }));
    expect(wrongOld).toMatch(
      /^master-key:rotate failed: MASTER_KEY_OLD does not open this database's encrypted keys \(they are under master key id /,
    );
    const rotation = rotate({ MASTER_KEY_OLD: k1, MASTER_KEY: k2 });
    expect(await rotation.exited).toBe(0);
    expect(rotation.output()).toMatch(
      /^Re-encrypted 1 signing key\(s\), 1 partner secret\(s\) and 0 webhook secret\(s\) under MASTER_KEY: master key id \S+ → \S+\. /,
    );

    expect(await refused(launch({ MASTER_KEY: k1 }))).toMatch(
      /^MASTER_KEY does not open this database's encrypted keys/,
    );
    const rotated = launch({ MASTER_KEY: k2 });
    await waitFor(() => rotated.output().includes("Admit is listening"), 60_000);
    expect(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()).toEqual({ status: "ready" });
    const join = (credential: string, credentialType?: string) =>
      gql(port, `mutation($input: JoinEventInput!) { joinEvent(input: $input) { role sessionToken } }`, undefined, {
        input: { event: event.id, credential, credentialType },
      });
    // Signed before the rotation: joins, and gets a session token signed by the same (re-encrypted) key.
    expect((await join(minted)).data.joinEvent.sessionToken).toMatch(/^ey/);
    expect((await join(await mintToken("after"))).data.joinEvent.role).toBe("ATTENDEE");
    const clock = { now: () => new Date() };
    const partnerToken = await signPartner(
      { id: partner.partnerSecret.id, secret: partner.secret },
      fresh({ clock } as never, { user: { id: "from-crm" } }),
    );
    expect((await join(partnerToken, "PARTNER_JWT")).data.joinEvent.role).toBe("ATTENDEE");
    rotated.child.kill("SIGTERM");
    expect(await rotated.exited).toBe(0);
  } finally {
    // A start that was not refused (before the fix) must not outlive the test.
    for (const run of runs) if (run.child.exitCode === null) run.child.kill("SIGKILL");
    await Promise.all(runs.map((run) => run.exited));
    await database.close();
  }
}, 240_000);
