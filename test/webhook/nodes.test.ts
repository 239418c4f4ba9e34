import { ChildProcess, spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { buildDist } from "../support/build";
import { openFreshTestDatabase, startTestApp, TestApp, usingPglite } from "../support/harness";
import { makeCompany, makeEvent } from "../support/factories";
import { mintAndJoin } from "../join/join-helpers";
import { eventually, Node, startSecondNode } from "../support/nodes";
import { startReceiver } from "./receiver";
import { createEndpoint } from "./helpers";

/**
 * Delivery across nodes: two app instances on one database, each with its worker started (as
 * main.ts starts it), deliver every message once; a node SIGKILLed while its POST is in flight
 * loses nothing once another start takes over.
 */
describe("two app instances on one database", () => {
  let first: TestApp;
  let second: Node;
  afterEach(async () => {
    await second?.close();
    await first?.close();
  });

  it("deliver each message once, woken by the change feed", async () => {
    first = await startTestApp();
    second = await startSecondNode(first);
    const receiver = await startReceiver();
    try {
      const company = await makeCompany(first);
      const endpoint = await createEndpoint(first, company, receiver.url, ["SESSION_STARTED"]);
      receiver.secrets.push(endpoint.secret);
      first.app.services.webhookWorker.start();
      second.app.services.webhookWorker.start();
      const events = [
        await makeEvent(first, company),
        await makeEvent(first, company),
        await makeEvent(first, company),
      ];
      const sessions: string[] = [];
      for (let i = 0; i < 30; i++) sessions.push((await mintAndJoin(first, company, events[i % 3].id)).session.id);
      await eventually(
        async () => receiver.messages.length,
        (n) => n >= 30,
        20_000,
      );
      // Give a duplicate the time to show up, if one were coming.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(receiver.messages.map((m) => m.data.sessionId).sort()).toEqual([...sessions].sort());
      expect(receiver.requests).toBe(30);
      const attempts = await first.db.dataSource.query(
        "SELECT sum(attempts)::int AS n FROM webhook_deliveries WHERE endpoint_id = $1",
        [endpoint.id],
      );
      expect(attempts[0].n).toBe(30);
    } finally {
      await receiver.close();
    }
    // A new in-memory PGlite migrates first: half a minute on a busy 2-core machine.
  }, 150_000);
});

const root = path.resolve(__dirname, "../..");
const maybe = usingPglite() ? describe.skip : describe;

maybe("a node killed mid-delivery (PostgreSQL)", () => {
  beforeAll(() => buildDist(), 120_000);

  function startAdmit(env: Record<string, string>): {
    child: ChildProcess;
    output: () => string;
    exited: Promise<unknown>;
  } {
    let output = "";
    const child = spawn(process.execPath, [path.join(root, "dist/src/main.js")], {
      env: {
        PATH: process.env.PATH ?? "",
        HOME: os.tmpdir(),
        LOG_LEVEL: "warn",
        NODE_ENV: "test",
        HOST: "127.0.0.1",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    return { child, output: () => output, exited: new Promise((resolve) => child.on("exit", resolve)) };
  }

  async function gql(port: number, query: string, key: string, variables: Record<string, unknown> = {}): Promise<any> {
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return res.json();
  }

  it("SIGKILL while a POST is in flight: after a restart every message arrives", async () => {
    const db = await openFreshTestDatabase();
    const receiver = await startReceiver();
    const port = 20000 + Math.floor(Math.random() * 20000);
    const adminKey = `admin-${randomBytes(24).toString("base64url")}`;
    const env = {
      DATABASE_URL: db.url!,
      MASTER_KEY: randomBytes(32).toString("base64"),
      ADMIN_API_KEY: adminKey,
      PORT: String(port),
    };
    let running = startAdmit(env);
    try {
      await eventually(
        async () => running.output(),
        (out) => out.includes("Admit is listening"),
        60_000,
      );
      const created = await gql(port, `mutation { createCompany(input: { name: "Kill" }) { secret } }`, adminKey);
      const key: string = created.data.createCompany.secret;
      const endpoint = await gql(
        port,
        `mutation($u: String!) { createWebhookEndpoint(input: { url: $u, eventTypes: [EVENT_ENDED] }) { webhookEndpoint { id } secret } }`,
        key,
        { u: receiver.url },
      );
      receiver.secrets.push(endpoint.data.createWebhookEndpoint.secret);
      const ids: string[] = [];
      receiver.hold = true;
      for (let i = 0; i < 3; i++) {
        const event = await gql(port, `mutation { createEvent(input: { name: "E${i}" }) { id } }`, key);
        ids.push(event.data.createEvent.id);
        await gql(port, `mutation($id: ID!) { endEvent(id: $id) { id } }`, key, { id: event.data.createEvent.id });
      }
      // The node's POSTs reach the receiver, which holds them unanswered; then the node dies.
      await eventually(
        async () => receiver.held,
        (n) => n >= 3,
        10_000,
      );
      expect(receiver.held).toBe(3);
      running.child.kill("SIGKILL");
      await running.exited;
      const leased = await db.dataSource.query(
        "SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 'PENDING' AND locked_until IS NOT NULL",
      );
      expect(leased[0].n).toBe(3);
      // The dead node's leases last its POST timeout and 30 s more: stand in for that wait.
      await db.dataSource.query(
        "UPDATE webhook_deliveries SET locked_until = now() - interval '1 second' WHERE locked_until IS NOT NULL",
      );
      receiver.hold = false;
      running = startAdmit(env);
      await eventually(
        async () => receiver.messages.length,
        (n) => n >= 3,
        60_000,
      );
      expect(receiver.messages.map((m) => m.data.eventId).sort()).toEqual([...ids].sort());
      expect(receiver.messages.every((m) => m.type === "event.ended")).toBe(true);
    } finally {
      running.child.kill("SIGKILL");
      await running.exited;
      await receiver.close();
      await db.close();
    }
  }, 120_000);
});
