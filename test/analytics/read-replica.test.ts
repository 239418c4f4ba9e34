/**
 * Analytics on a read replica (DATABASE_READ_URL): a real streaming replica of the test server,
 * made with pg_basebackup as `npm run cluster` makes it, reached through a TCP proxy that counts
 * the connections made to it. PostgreSQL only; the configuration checks run on both databases.
 */
import { TcpProxy } from "../support/tcp-proxy";
import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { loadConfig } from "../../src/config";
import type { DatabaseTimeouts } from "../../src/db/pool";
import { startReplica, type Replica } from "../../src/scripts/local-cluster/replica";
import { freePort } from "../../bench/harness";
import { ok, openTestDatabase, startTestApp, TestApp, usingPglite } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { insertSessions, makeUsers } from "./analytics-helpers";

const ANALYTICS = `query($id: ID!) { eventAnalytics(eventId: $id) { asOf sessions attendees } }`;
const COMPANY = `{ companyAnalytics { asOf totals { sessions } } }`;
/** The replica is left alone this long after it failed. */
const RETRY_MS = 2_000;
const TIMEOUTS: DatabaseTimeouts = { statementMs: 5_000, queryMs: 6_000, connectMs: 1_000 };

describe("DATABASE_READ_URL in the configuration", () => {
  const primary = "postgres://admit@db.example:5432/admit";
  const replica = "postgres://admit@replica.example:5432/admit";

  it("is refused without DATABASE_URL: the embedded database has no replicas", () => {
    expect(() => loadConfig({ DATABASE_READ_URL: replica })).toThrow(
      /^Invalid configuration: DATABASE_READ_URL needs DATABASE_URL: the embedded PGlite database has no replicas\./,
    );
  });

  it("takes a replica of DATABASE_URL, with a lag of 5 s and a retry after 5 s by default", () => {
    expect(loadConfig({ DATABASE_URL: primary }).readReplica).toBeNull();
    expect(loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: replica }).readReplica).toEqual({
      url: replica,
      maxLagMs: 5_000,
      retryAfterMs: 5_000,
    });
    expect(
      loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: replica, READ_REPLICA_MAX_LAG_MS: "800" }).readReplica
        ?.maxLagMs,
    ).toBe(800);
  });

  it("refuses a URL that is not PostgreSQL's, the primary itself, and a lag that is not milliseconds", () => {
    expect(() => loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: "mysql://x/y" })).toThrow(
      /^Invalid configuration: DATABASE_READ_URL must start with postgres:/,
    );
    expect(() => loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: primary })).toThrow(
      /^Invalid configuration: DATABASE_READ_URL is DATABASE_URL/,
    );
    expect(() =>
      loadConfig({ DATABASE_URL: primary, DATABASE_READ_URL: replica, READ_REPLICA_MAX_LAG_MS: "5s" }),
    ).toThrow(/^Invalid configuration: READ_REPLICA_MAX_LAG_MS must be a whole number of milliseconds/);
  });

  (usingPglite() ? it : it.skip)("is refused by an app on the embedded database (run on PGlite)", async () => {
    const db = await openTestDatabase();
    try {
      await expect(
        startTestApp({
          database: db,
          readReplica: { settings: { url: replica, maxLagMs: 5_000, retryAfterMs: 5_000 }, timeouts: TIMEOUTS },
        }),
      ).rejects.toThrow(/embedded PGlite database has none/);
    } finally {
      await db.close();
    }
  });
});

/** PostgreSQL only; on PGlite a skipped block that says why. */
function onPostgres(name: string, body: () => void): void {
  if (!usingPglite()) return describe(name, body);
  describe.skip(`${name} [skipped: PostgreSQL only, a replica streams from a PostgreSQL server]`, body);
}

onPostgres("analytics on a streaming replica", () => {
  const primaryUrl = () => process.env.ADMIT_TEST_DATABASE_URL!;
  let replica: Replica;
  let proxy: TcpProxy;
  /** Reads the replica while it lags up to a minute. */
  let patient: TestApp;
  /** Reads the replica while it lags up to 1 s. */
  let strict: TestApp;
  let replicaAdmin: Client;
  let company: TestCompany;
  let event: TestEvent;
  let users: string[];
  let sessions = 0;

  /** The test's own connection to the replica (its pause and resume of replay); a halt ends it. */
  const adminClient = () => {
    const client = new Client({ connectionString: replica.url });
    client.on("error", () => undefined);
    return client;
  };

  const viaProxy = () => {
    const url = new URL(primaryUrl());
    url.hostname = "127.0.0.1";
    url.port = String(proxy.port);
    return url.toString();
  };

  /** Resolves once the replica has replayed everything the primary wrote so far. */
  async function replayed(): Promise<void> {
    const primary = new Client({ connectionString: primaryUrl() });
    await primary.connect();
    const lsn = (await primary.query<{ lsn: string }>("SELECT pg_current_wal_lsn()::text AS lsn")).rows[0].lsn;
    await primary.end();
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      const { rows } = await replicaAdmin.query<{ done: boolean }>(
        "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done",
        [lsn],
      );
      if (rows[0].done) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error("the replica did not replay the primary's WAL within 20 s");
  }

  async function pauseReplay(): Promise<number> {
    await replicaAdmin.query("SELECT pg_wal_replay_pause()");
    for (;;) {
      const { rows } = await replicaAdmin.query<{ state: string }>("SELECT pg_get_wal_replay_pause_state() AS state");
      if (rows[0].state === "paused") return Date.now();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  const resumeReplay = () => replicaAdmin.query("SELECT pg_wal_replay_resume()");

  /** One more ended session of the event, on the primary; returns the instant just before it was written. */
  async function addSession(): Promise<number> {
    const before = Date.now();
    const joinedAt = new Date(Date.UTC(2026, 0, 1, 10, sessions));
    await insertSessions(patient, company.id, [
      {
        eventId: event.id,
        userId: users[sessions % users.length],
        joinedAt,
        endedAt: new Date(joinedAt.getTime() + 30_000),
      },
    ]);
    sessions++;
    return before;
  }

  async function analytics(t: TestApp): Promise<{ asOf: number; sessions: number; attendees: number }> {
    const a = ok(await t.gql(ANALYTICS, { id: event.id }, { key: company.key })).eventAnalytics;
    return { asOf: Date.parse(a.asOf), sessions: a.sessions, attendees: a.attendees };
  }

  /** What the node last logged about where analytics read (it logs each change). */
  function lastRoute(t: TestApp): string | null {
    const routes = t.logs
      .flatMap((chunk) => chunk.split("\n"))
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { msg?: string }).msg ?? "")
      .filter((msg) => /analytics read the (replica|primary)/.test(msg));
    return routes.at(-1) ?? null;
  }

  async function until<T>(what: string, ask: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const value = await ask();
      if (done(value)) return value;
      if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after 15 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  beforeAll(async () => {
    replica = await startReplica(primaryUrl(), await freePort());
    replicaAdmin = adminClient();
    await replicaAdmin.connect();
    proxy = await TcpProxy.start({ host: "127.0.0.1", port: replica.port });
    const reading = (maxLagMs: number) => ({
      settings: { url: viaProxy(), maxLagMs, retryAfterMs: RETRY_MS },
      timeouts: TIMEOUTS,
    });
    patient = await startTestApp({ readReplica: reading(60_000) });
    strict = await startTestApp({ readReplica: reading(1_000) });
    company = await makeCompany(patient);
    event = await makeEvent(patient, company);
    users = await makeUsers(
      patient,
      company,
      [1, 2].map((i) => ({ externalId: `u${i}-${randomBytes(3).toString("hex")}` })),
    );
    await addSession();
    await addSession();
  }, 180_000);

  afterAll(async () => {
    await replicaAdmin?.query("SELECT pg_wal_replay_resume()").catch(() => undefined);
    await replicaAdmin?.end().catch(() => undefined);
    await patient?.close();
    await strict?.close();
    await proxy?.close();
    await replica?.stop();
  }, 60_000);

  it("answers from the replica with its asOf, and a write on the primary shows once replayed", async () => {
    await replayed();
    const start = await analytics(patient);
    expect(start.sessions).toBe(2);
    expect(start.attendees).toBe(2);

    // Replay stopped: the primary has a third session, the replica (and so the answer) does not.
    const pausedAt = await pauseReplay();
    const writtenAt = await addSession();
    try {
      const stale = await analytics(patient);
      expect(stale.sessions).toBe(2);
      // asOf is the last transaction the replica replayed: before the pause, before the write.
      expect(stale.asOf).toBeLessThanOrEqual(pausedAt);
      const whole = ok(await patient.gql(COMPANY, {}, { key: company.key })).companyAnalytics;
      expect(Date.parse(whole.asOf)).toBeLessThanOrEqual(pausedAt);
      expect(whole.totals.sessions).toBe(2);
      // The CSV export reads the replica too, and says how fresh it is.
      const csv = await fetch(`${patient.url}/c/${company.slug}/events/${event.id}/attendees.csv`, {
        headers: { authorization: `Bearer ${company.key}` },
      });
      expect(csv.status).toBe(200);
      expect(Date.parse(csv.headers.get("x-admit-as-of")!)).toBeLessThanOrEqual(pausedAt);
      expect((await csv.text()).trim().split("\r\n")).toHaveLength(1 + 2);
    } finally {
      await resumeReplay();
    }

    // Replayed: the third session shows, and asOf is at or after its write.
    const fresh = await until(
      "the replica's answer",
      () => analytics(patient),
      (a) => a.sessions === 3,
    );
    expect(fresh.asOf).toBeGreaterThanOrEqual(writtenAt);
  }, 60_000);

  it("reads the primary, with the primary's asOf, while the replica lags more than the setting", async () => {
    await replayed();
    await pauseReplay();
    try {
      const writtenAt = await addSession();
      // The replica's last replayed transaction grows older than the strict node's 1 s.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const fromPrimary = await analytics(strict);
      expect(fromPrimary.sessions).toBe(sessions);
      expect(fromPrimary.asOf).toBeGreaterThanOrEqual(writtenAt);
      expect(lastRoute(strict)).toBe("the read replica lags: analytics read the primary");
      // The patient node still takes the replica's older answer.
      const fromReplica = await analytics(patient);
      expect(fromReplica.sessions).toBe(sessions - 1);
    } finally {
      await resumeReplay();
    }
    // Caught up again, and nothing of ours written for longer than the strict node's 1 s: the
    // replica's last transaction is old, but it has replayed all it received, so it does not lag.
    await replayed();
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const caughtUp = await analytics(strict);
    expect(caughtUp.sessions).toBe(sessions);
    expect(lastRoute(strict)).toBe("analytics read the replica");
  }, 60_000);

  it("reads the primary while the replica is down, tries it again only after a pause, and returns to it", async () => {
    await replayed();
    await replica.halt();
    try {
      const writtenAt = await addSession();
      const before = proxy.connections;
      const startedAt = Date.now();
      for (let i = 0; i < 10; i++) {
        const answer = await analytics(patient);
        expect(answer.sessions).toBe(sessions);
        expect(answer.asOf).toBeGreaterThanOrEqual(writtenAt);
      }
      // One attempt, then none until the breaker's pause is over (a slow run may reach a second one).
      const attempts = proxy.connections - before;
      expect(attempts).toBeGreaterThanOrEqual(1);
      expect(attempts).toBeLessThanOrEqual(1 + Math.floor((Date.now() - startedAt) / RETRY_MS));
      expect(lastRoute(patient)).toBe("the read replica does not answer: analytics read the primary");
    } finally {
      await replica.resume();
    }
    await replicaAdmin.end().catch(() => undefined);
    replicaAdmin = adminClient();
    await replicaAdmin.connect();
    await replayed();
    // Back on the replica once the pause is over: with replay paused, its answer is the older one.
    await pauseReplay();
    try {
      await addSession();
      const back = await until(
        "the answer after the replica came back",
        () => analytics(patient),
        (a) => a.sessions === sessions - 1,
      );
      expect(back.sessions).toBe(sessions - 1);
      expect(lastRoute(patient)).toBe("analytics read the replica");
    } finally {
      await resumeReplay();
    }
  }, 90_000);
});
