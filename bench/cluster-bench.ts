/**
 * `npm run bench:cluster`: bench:crowd's three rounds (see crowd-bench.ts) on a local cluster —
 * three Admit nodes on one fresh PostgreSQL database behind HAProxy, as `npm run cluster` starts
 * them — first through the balancer, then straight to one node, with the same checks (answers,
 * live sessions through the API, analytics, seats, and the counts again in SQL); then a node
 * lost mid-crowd (bench/lost-node.ts). Prints both throughputs side by side.
 *
 * Environment: BENCH_CROWD_USERS (default 5000), BENCH_CLUSTER_NODES (default 3),
 * BENCH_LOST_NODE_MS (how long the lost-node crowd lasts, default 30000; 0: not run),
 * BENCH_DATABASE_URL (the server the fresh database is made on, as bench:crowd). PostgreSQL only.
 */
import { randomBytes } from "node:crypto";
import { startLocalCluster } from "../src/scripts/local-cluster/cluster";
import { Checks, checkRoundsInSql, CrowdRounds, runCrowdRounds, withSql } from "./crowd";
import { freePort, freshDatabase } from "./harness";
import { describeLostNode, lostNodeCrowd } from "./lost-node";

const USERS = Number(process.env.BENCH_CROWD_USERS ?? 5_000);
const NODES = Number(process.env.BENCH_CLUSTER_NODES ?? 3);
const LOST_NODE_MS = Number(process.env.BENCH_LOST_NODE_MS ?? 30_000);

async function main(): Promise<void> {
  if (process.env.BENCH_DB === "pglite")
    throw new Error("bench:cluster runs on PostgreSQL only: nodes of a cluster share a database server.");
  const database = await freshDatabase("postgres", "cluster");
  const adminKey = randomBytes(32).toString("base64url");
  const [balancerPort, statsPort, ...nodePorts] = await Promise.all(
    Array.from({ length: 2 + NODES }, () => freePort()),
  );
  const checks = new Checks();
  const cluster = await startLocalCluster({
    databaseUrl: database.url!,
    masterKey: randomBytes(32).toString("base64"),
    adminKey,
    balancerPort,
    statsPort,
    nodePorts,
    replicaPort: null,
    sink: (node, line) => console.log(`  [${node}] ${line}`),
  });
  const runs: { label: string; rounds: CrowdRounds }[] = [];
  try {
    console.log(`A crowd of ${USERS} on ${NODES} Admit nodes with ${database.label}\n`);
    console.log(`== Through HAProxy (${cluster.balancerUrl}, round robin over ${NODES} nodes)\n`);
    runs.push({
      label: `HAProxy, ${NODES} nodes`,
      rounds: await runCrowdRounds(`${cluster.balancerUrl}/graphql`, adminKey, USERS, checks, "-lb"),
    });
    console.log(`\n== Straight to one node (${cluster.nodes[0].url})\n`);
    runs.push({
      label: "one node",
      rounds: await runCrowdRounds(`${cluster.nodes[0].url}/graphql`, adminKey, USERS, checks, "-one"),
    });

    console.log("\nIn SQL");
    await withSql(database, async (sql) => {
      for (const run of runs) await checkRoundsInSql(checks, sql, run.rounds);
    });

    if (LOST_NODE_MS > 0) {
      console.log(`\n== A node lost mid-crowd (${LOST_NODE_MS / 1000} s, SIGKILL a third of the way in)\n`);
      const lost = await lostNodeCrowd({
        cluster,
        adminKey,
        databaseUrl: database.url!,
        durationMs: LOST_NODE_MS,
        killAtMs: LOST_NODE_MS / 3,
        log: (line) => console.log(`  ${line}`),
      });
      console.log(describeLostNode(lost).replace(/^/gm, "  "));
      checks.check(
        "failed requests no more than were in flight on the killed node",
        lost.errors.length <= lost.failedOnVictim,
        true,
      );
      checks.check(
        "requests that ended badly on other nodes (HAProxy's log)",
        lost.failedInLog - lost.failedOnVictim,
        0,
      );
      checks.check("failed requests sent after the node was marked DOWN", lost.errorsAfterDown, 0);
      checks.check("the restarted node took requests", lost.servedAfterRejoin > 0, true);
      for (const invariant of lost.invariants) checks.check(invariant.name, invariant.actual, invariant.expected);
    }
  } finally {
    await cluster.stop();
    await database.drop();
  }

  console.log("\nJoins per second (round 1: everyone admitted; 2: capacity; 3: seat limit)");
  for (const run of runs)
    console.log(
      `  ${run.label.padEnd(18)} ${run.rounds.figures.map((f) => (run.rounds.users / f.seconds).toFixed(0).padStart(6)).join(" ")}`,
    );
  console.log(
    `\n${checks.failed === 0 ? "PASS" : "FAIL"}: ${checks.count - checks.failed} of ${checks.count} checks passed`,
  );
  if (checks.failed) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
