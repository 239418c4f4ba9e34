/**
 * The database pool recovers from a network that silently stops forwarding: a TCP proxy between
 * the app and PostgreSQL drops every byte, both ways, for 2 s (sockets kept open, no reset), while
 * requests run. They fail cleanly within the pool's limits, and once the network is back the node
 * serves again within seconds, with no restart. Also: the limits the pool sets, and that
 * migrations run without them.
 */
import { TcpProxy } from "../support/tcp-proxy";
import { performance } from "node:perf_hooks";
import { loadConfig } from "../../src/config";
import { migrate } from "../../src/db/database";
import { DatabaseTimeouts, withoutTimeouts } from "../../src/db/pool";
import { GqlResponse, startTestApp, TestApp, usingPglite } from "../support/harness";
import { makeCompany, TestCompany } from "../support/factories";

/** Short limits, so the test takes seconds: statements 1 s, answers 1.5 s, connecting 1 s. */
const TIMEOUTS: DatabaseTimeouts = { statementMs: 1_000, queryMs: 1_500, connectMs: 1_000 };
const PAUSE_MS = 2_000;

describe("the pool's limits", () => {
  it("come from DATABASE_STATEMENT_TIMEOUT_MS, DATABASE_QUERY_TIMEOUT_MS and DATABASE_CONNECT_TIMEOUT_MS, with defaults", () => {
    expect(loadConfig({}).databaseTimeouts).toEqual({ statementMs: 15_000, queryMs: 20_000, connectMs: 5_000 });
    expect(loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: "60000" }).databaseTimeouts).toEqual({
      statementMs: 60_000,
      queryMs: 65_000,
      connectMs: 5_000,
    });
    expect(loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: "0" }).databaseTimeouts).toEqual({
      statementMs: 0,
      queryMs: 0,
      connectMs: 5_000,
    });
    expect(
      loadConfig({ DATABASE_QUERY_TIMEOUT_MS: "30000", DATABASE_CONNECT_TIMEOUT_MS: "2000" }).databaseTimeouts,
    ).toEqual({
      statementMs: 15_000,
      queryMs: 30_000,
      connectMs: 2_000,
    });
    for (const [name, value] of [
      ["DATABASE_STATEMENT_TIMEOUT_MS", "-1"],
      ["DATABASE_STATEMENT_TIMEOUT_MS", "1.5"],
      ["DATABASE_STATEMENT_TIMEOUT_MS", "5s"],
      ["DATABASE_QUERY_TIMEOUT_MS", "99999999"],
      ["DATABASE_CONNECT_TIMEOUT_MS", "0"],
    ]) {
      expect(() => loadConfig({ [name]: value })).toThrow(
        new RegExp(`^Invalid configuration: ${name} must be a whole number of milliseconds`),
      );
    }
    // The client's limit is for a connection that stopped answering: the server's must fire first.
    expect(() => loadConfig({ DATABASE_STATEMENT_TIMEOUT_MS: "20000", DATABASE_QUERY_TIMEOUT_MS: "20000" })).toThrow(
      /^Invalid configuration: DATABASE_QUERY_TIMEOUT_MS must be longer than DATABASE_STATEMENT_TIMEOUT_MS/,
    );
  });
});

// PGlite runs inside the process: there is no network, connection or server-side limit to test.
const onPostgres = usingPglite() ? describe.skip : describe;

onPostgres("on PostgreSQL", () => {
  let proxy: TcpProxy;
  let t: TestApp;
  let company: TestCompany;

  beforeAll(async () => {
    const direct = new URL(process.env.ADMIT_TEST_DATABASE_URL!);
    proxy = await TcpProxy.start({ host: direct.hostname, port: Number(direct.port || 5432) });
    const viaProxy = proxy.urlThrough(direct);
    t = await startTestApp({ poolSize: 4, through: { url: viaProxy.toString(), timeouts: TIMEOUTS } });
    company = await makeCompany(t);
  });
  afterAll(async () => {
    await t?.close();
    await proxy?.close();
  });

  it("a statement over the statement timeout is cancelled by the server, and its connection serves on", async () => {
    await expect(t.db.dataSource.query("SELECT pg_sleep(1.5)")).rejects.toThrow(/statement timeout/);
    const runner = t.db.dataSource.createQueryRunner();
    try {
      expect(await runner.query("SHOW statement_timeout")).toEqual([{ statement_timeout: "1s" }]);
      expect(await runner.query("SHOW idle_in_transaction_session_timeout")).toEqual([
        { idle_in_transaction_session_timeout: "1s" },
      ]);
    } finally {
      await runner.release();
    }
    expect(await t.db.dataSource.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
  });

  it("migrations (and anything run without limits) may take longer, and the connection gets its limits back", async () => {
    const runner = t.db.dataSource.createQueryRunner();
    try {
      await runner.connect();
      const slept = await withoutTimeouts(runner, async () => {
        await runner.query("SELECT pg_sleep(2)"); // past both the statement and the read timeout
        return (await runner.query("SHOW statement_timeout"))[0].statement_timeout;
      });
      expect(slept).toBe("0");
      expect(await runner.query("SHOW statement_timeout")).toEqual([{ statement_timeout: "1s" }]);
    } finally {
      await runner.release();
    }
    // Nothing is pending: migrate() takes its lock and finds no work.
    expect(await migrate(t.db.dataSource)).toEqual([]);
  });

  it("requests fail cleanly while the network drops everything for 2 s, and succeed again within seconds after, without a restart", async () => {
    const LIST = `{ events(first: 5) { edges { node { id } } } }`;
    const ask = async (): Promise<{ res: GqlResponse | null; ms: number; startedAt: number }> => {
      const startedAt = performance.now();
      // A request that hangs would be cut here, after far longer than the pool's limits.
      const res = await Promise.race([
        t.gql(LIST, {}, { key: company.key }),
        new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000).unref()),
      ]);
      return { res, ms: performance.now() - startedAt, startedAt };
    };
    // Every connection of the pool in use, so that the black hole catches them all.
    for (const { res } of await Promise.all(Array.from({ length: 4 }, ask))) expect(res?.errors).toBeUndefined();

    const results: Awaited<ReturnType<typeof ask>>[] = [];
    let running = true;
    const load = Array.from({ length: 4 }, async () => {
      while (running) results.push(await ask());
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    proxy.pause();
    const pausedAt = performance.now();
    const readyDuringPause = await fetch(`${t.url}/readyz`);
    await new Promise((resolve) => setTimeout(resolve, pausedAt + PAUSE_MS - performance.now()));
    proxy.resume();
    const resumedAt = performance.now();

    // Back within seconds: the first request that succeeds after the network is back.
    let recoveredAt: number | null = null;
    while (recoveredAt === null && performance.now() - resumedAt < 8_000) {
      const { res } = await ask();
      if (res && !res.errors) recoveredAt = performance.now();
    }
    running = false;
    await Promise.all(load);

    expect(readyDuringPause.status).toBe(503);
    // Requests during the pause failed: none hung, each one a clean INTERNAL with a request id.
    const failed = results.filter((r) => r.res?.errors);
    expect(failed.length).toBeGreaterThan(0);
    expect(results.filter((r) => r.res === null)).toEqual([]);
    for (const { res } of failed) {
      expect(res!.errors![0].extensions).toMatchObject({ code: "INTERNAL", requestId: expect.any(String) });
      expect(res!.errors![0].message).toBe("The database is unavailable right now; try again in a moment.");
    }
    // A request waits at most for a free connection (1 s) and for the answers of its statements (1.5 s each).
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(5_000);
    expect(recoveredAt).not.toBeNull();
    expect(recoveredAt! - resumedAt).toBeLessThan(5_000);

    // Serving again as before: every connection handed out works, and the node says it is ready.
    for (const { res } of await Promise.all(Array.from({ length: 8 }, ask))) expect(res?.errors).toBeUndefined();
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    process.stdout.write(
      `pool recovery: ${results.length} requests during the load, ${failed.length} failed cleanly (slowest ${Math.round(Math.max(...results.map((r) => r.ms)))} ms); ` +
        `served again ${Math.round(recoveredAt! - resumedAt)} ms after the network came back\n`,
    );
  }, 30_000);
});
