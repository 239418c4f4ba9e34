import { TcpProxy } from "../support/tcp-proxy";
import { loadConfig } from "../../src/config";
import { FEED_APPLICATION_NAME } from "../../src/db/change-feed";
import { migrateDirectly, openDatabase } from "../../src/db/database";
import { startTestApp, usingPglite } from "../support/harness";

/**
 * DATABASE_DIRECT_URL: with the pool behind a transaction-mode pooler (here a plain TCP proxy
 * stands in for it), the change feed's LISTEN and the migrations' session lock must reach
 * PostgreSQL on a session of their own, not through the pooler.
 */

describe("DATABASE_DIRECT_URL in the configuration", () => {
  it("is refused without DATABASE_URL, and read as given with it", () => {
    expect(() => loadConfig({ DATABASE_DIRECT_URL: "postgres://db:5432/admit" })).toThrow(
      /^Invalid configuration: DATABASE_DIRECT_URL needs DATABASE_URL/,
    );
    expect(() =>
      loadConfig({ DATABASE_URL: "postgres://pooler:6432/admit", DATABASE_DIRECT_URL: "mysql://db/admit" }),
    ).toThrow(/^Invalid configuration: DATABASE_DIRECT_URL/);
    const config = loadConfig({
      DATABASE_URL: "postgres://pooler:6432/admit",
      DATABASE_DIRECT_URL: "postgres://db:5432/admit",
    });
    expect(config.databaseDirectUrl).toBe("postgres://db:5432/admit");
    expect(loadConfig({ DATABASE_URL: "postgres://db:5432/admit" }).databaseDirectUrl).toBeNull();
  });
});

// PGlite runs inside the process: no pooler, no second address.
const onPostgres = usingPglite() ? describe.skip : describe;

onPostgres("with the pool behind a pooler, on PostgreSQL", () => {
  let proxy: TcpProxy;
  let direct: URL;
  let pooled: URL;

  beforeAll(async () => {
    direct = new URL(process.env.ADMIT_TEST_DATABASE_URL!);
    proxy = await TcpProxy.start({ host: direct.hostname, port: Number(direct.port || 5432) });
    pooled = proxy.urlThrough(direct);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  /** The client ports of the listening connections PostgreSQL sees on the test database. */
  async function listenerPorts(query: (sql: string) => Promise<{ client_port: number }[]>): Promise<number[]> {
    const rows = await query(
      `SELECT client_port FROM pg_stat_activity WHERE datname = current_database() AND application_name = '${FEED_APPLICATION_NAME}'`,
    );
    return rows.map((row) => row.client_port);
  }

  it("the change feed listens on DATABASE_DIRECT_URL, and through the pool's address without it", async () => {
    const throughPooler = await startTestApp({ through: { url: pooled.toString() } });
    try {
      const ports = await listenerPorts((sql) => throughPooler.db.dataSource.query(sql));
      expect(ports.some((port) => proxy.upstreamPorts.has(port))).toBe(true);
    } finally {
      await throughPooler.close();
    }

    const split = await startTestApp({ through: { url: pooled.toString() }, directDatabaseUrl: direct.toString() });
    try {
      const ports = await listenerPorts((sql) => split.db.dataSource.query(sql));
      expect(ports.length).toBeGreaterThan(0);
      expect(ports.filter((port) => proxy.upstreamPorts.has(port))).toEqual([]);
      // The pool itself still goes through the pooler.
      const [{ client_port: poolPort }] = await split.db.dataSource.query<{ client_port: number }[]>(
        "SELECT client_port FROM pg_stat_activity WHERE pid = pg_backend_pid()",
      );
      expect(proxy.upstreamPorts.has(poolPort)).toBe(true);
    } finally {
      await split.close();
    }
  });

  it("the migrations run on DATABASE_DIRECT_URL, not through the pooler", async () => {
    const db = await openDatabase({ kind: "postgres", url: pooled.toString() });
    try {
      const before = proxy.bytesFromClients;
      expect(await migrateDirectly(db, direct.toString())).toEqual([]);
      expect(proxy.bytesFromClients).toBe(before);
      // Without it, they run on a connection of the pool, through the pooler.
      await migrateDirectly(db, null);
      expect(proxy.bytesFromClients).toBeGreaterThan(before);
    } finally {
      await db.close();
    }
  });
});
