import { ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Fastify from "fastify";
import { loadConfig } from "../../src/config";

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

function startAdmit(env: Record<string, string>): Running {
  let output = "";
  const child = spawn(process.execPath, [main], {
    env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
  child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
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

async function gql(port: number, query: string, key: string): Promise<any> {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query }),
  });
  return res.json();
}

beforeAll(() => {
  execFileSync(process.execPath, [path.join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "pipe" });
}, 120_000);

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
  const adminStill = await gql(port, `mutation { createCompany(input: { name: "Again" }) { company { id } } }`, adminKey);
  expect(adminStill.data.createCompany.company.id).toBeTruthy();
  second.child.kill("SIGTERM");
  expect(await second.exited).toBe(0);
}, 120_000);

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

it("reads TRUST_PROXY as the proxies' addresses, and refuses true, hop counts and anything but IPs or CIDR ranges", () => {
  expect(loadConfig({}).trustProxy).toBe(false);
  expect(loadConfig({ TRUST_PROXY: "  " }).trustProxy).toBe(false);
  expect(loadConfig({ TRUST_PROXY: "false" }).trustProxy).toBe(false);
  const trusted = loadConfig({ TRUST_PROXY: "10.0.0.0/8, 192.0.2.10,2001:db8::/32,::1, uniquelocal" }).trustProxy;
  expect(trusted).toEqual(["10.0.0.0/8", "192.0.2.10", "2001:db8::/32", "::1", "uniquelocal"]);
  // Fastify (proxy-addr) takes every value the config lets through.
  expect(() => Fastify({ trustProxy: [...(trusted as string[])] })).not.toThrow();
  for (const bad of ["true", "TRUE", "1", "0", "10.0.0.0/33", "10.0.0.0/0", "::/129", "10.0.0.1/8/1", "10.0.0", "proxy.internal", "10.0.0.1,", "fe80::1%eth0", "*"]) {
    expect(() => loadConfig({ TRUST_PROXY: bad })).toThrow(/^Invalid configuration: TRUST_PROXY /);
  }
});
