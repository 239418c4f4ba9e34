import { randomBytes } from "node:crypto";
import { Client } from "pg";
import { LocalCluster, startLocalCluster } from "./local-cluster/cluster";
import { haproxyBinary } from "./local-cluster/haproxy";

/**
 * `npm run cluster`: several Admit nodes on this machine's PostgreSQL, behind HAProxy, with a
 * streaming replica of the database, until Ctrl-C (or SIGTERM) stops everything it started.
 *
 * Environment: CLUSTER_DATABASE_URL (run on this database, kept afterwards; otherwise a new one
 * is made on CLUSTER_SERVER_URL's server, default postgres://postgres@127.0.0.1:5432/postgres,
 * and dropped at the end), CLUSTER_NODES (default 3), CLUSTER_PORT (the balancer's, default
 * 4100; the nodes take the next ports, then HAProxy's statistics page), CLUSTER_REPLICA_PORT
 * (default 5433; 0: no replica), MASTER_KEY and ADMIN_API_KEY (made afresh when unset), and any
 * other setting of Admit's (LOG_LEVEL, default warn; DRAIN_DELAY_MS…), passed to every node.
 */
function setting(name: string, fallback: number): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a whole number.`);
  return Number(raw);
}

/** The database to run on: the one given, or a new one (with how to drop it). */
async function database(): Promise<{ url: string; drop: (() => Promise<void>) | null }> {
  const given = process.env.CLUSTER_DATABASE_URL?.trim();
  if (given) return { url: given, drop: null };
  const serverUrl = process.env.CLUSTER_SERVER_URL?.trim() || "postgres://postgres@127.0.0.1:5432/postgres";
  const name = `admit_cluster_${Date.now()}`;
  const admin = async (sql: string) => {
    const client = new Client({ connectionString: serverUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** A URL without its password, for printing. */
function shown(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}

async function main(): Promise<void> {
  if (!haproxyBinary()) throw new Error("haproxy is not installed (Debian: apt-get install haproxy).");
  const nodeCount = setting("CLUSTER_NODES", 3);
  if (nodeCount < 1) throw new Error("CLUSTER_NODES must be at least 1.");
  const balancerPort = setting("CLUSTER_PORT", 4100);
  const replicaPort = setting("CLUSTER_REPLICA_PORT", 5433);
  const generatedAdminKey = process.env.ADMIN_API_KEY?.trim() ? null : randomBytes(32).toString("base64url");
  if (process.env.CLUSTER_DATABASE_URL?.trim() && !process.env.MASTER_KEY?.trim()) {
    throw new Error(
      "set MASTER_KEY with CLUSTER_DATABASE_URL: a database keeps the master key of its first start and refuses any other.",
    );
  }
  const db = await database();

  let cluster: LocalCluster | null = null;
  let stopping: Promise<void> | null = null;
  let stopWhenStarted: string | null = null;
  const stop = (signal: string) => {
    if (!cluster && !stopping) {
      // The nodes are still starting: they are stopped as soon as they are up.
      if (stopWhenStarted) process.exit(1);
      stopWhenStarted = signal;
      console.log(`\n${signal}: stopping once everything has started (again: exit now)…`);
      return;
    }
    if (stopping) {
      // A second Ctrl-C: no more waiting.
      cluster?.killNow();
      process.exit(1);
    }
    console.log(`\n${signal}: stopping the nodes (each drains), then HAProxy and the replica…`);
    stopping = (async () => {
      await cluster?.stop();
      if (db.drop) {
        await db.drop();
        console.log(`dropped ${new URL(db.url).pathname.slice(1)}`);
      }
    })();
    stopping.then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("exit", () => cluster?.killNow());

  try {
    cluster = await startLocalCluster({
      databaseUrl: db.url,
      masterKey: process.env.MASTER_KEY?.trim() || randomBytes(32).toString("base64"),
      adminKey: process.env.ADMIN_API_KEY?.trim() || generatedAdminKey!,
      balancerPort,
      nodePorts: Array.from({ length: nodeCount }, (_, i) => balancerPort + 1 + i),
      statsPort: balancerPort + nodeCount + 1,
      replicaPort: replicaPort || null,
      sink: (node, line) => console.log(`[${node}] ${line}`),
      log: (line) => console.log(line),
    });
  } catch (error) {
    await db.drop?.().catch(() => undefined);
    throw error;
  }
  if (stopWhenStarted) return stop(stopWhenStarted);

  const rows = [
    ["balancer", `${cluster.balancerUrl}/graphql  (HAProxy statistics: ${cluster.haproxy.statsUrl})`],
    ...cluster.nodes.map((node) => [node.name, `${node.url}/graphql`]),
    ["primary", `${shown(db.url)}${db.drop ? "  (made for this run; dropped at the end)" : ""}`],
    [
      "replica",
      cluster.replica
        ? `${shown(cluster.replica.url)}  (streaming; the nodes read analytics from it: DATABASE_READ_URL)`
        : "none (CLUSTER_REPLICA_PORT=0)",
    ],
  ];
  console.log("\nAdmit cluster is up:");
  for (const [name, value] of rows) console.log(`  ${name.padEnd(9)} ${value}`);
  if (generatedAdminKey) console.log(`\nPlatform admin API key (made for this run): ${generatedAdminKey}`);
  console.log("\nCtrl-C stops everything this started.");
}

main().catch((error) => {
  console.error(`npm run cluster failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
