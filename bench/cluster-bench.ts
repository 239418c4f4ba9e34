/**
 * `npm run bench:cluster`: bench:crowd's three rounds (see crowd-bench.ts) on a local cluster —
 * three Admit nodes on one fresh PostgreSQL database behind HAProxy, as `npm run cluster` starts
 * them — first through the balancer, then straight to one node, with the same checks (answers,
 * live sessions through the API, analytics, seats, and the counts again in SQL); then a node
 * lost mid-crowd (bench/lost-node.ts). Prints both throughputs side by side.
 *
 * Each round also shows the CPU it cost per request (joins and heartbeats), by part: the Admit
 * nodes, HAProxy, PostgreSQL (the run's database; see cpuSnapshot) and this process. On a machine
 * where they all share the same cores, that sum, not the number of nodes, bounds the throughput.
 *
 * Environment: BENCH_CROWD_USERS (default 5000), BENCH_CLUSTER_NODES (default 3),
 * BENCH_CLUSTER_ONE_NODE_FIRST=1 runs the one-node rounds before the balanced ones (the first
 * run after a quiet spell is often the slower: run both orders to tell),
 * BENCH_LOST_NODE_MS (how long the lost-node crowd lasts, default 30000; 0: not run),
 * BENCH_DATABASE_URL (the server the fresh database is made on, as bench:crowd). PostgreSQL only.
 */
import { randomBytes } from "node:crypto";
import { LocalCluster, startLocalCluster } from "../src/scripts/local-cluster/cluster";
import { Checks, checkRoundsInSql, CrowdRounds, runCrowdRounds, withSql } from "./crowd";
import { cpuMsOf, cpuPerRequest, cpuSnapshot, freePort, freshDatabase } from "./harness";
import type { RoundFigures } from "./crowd";
import { describeLostNode, lostNodeCrowd } from "./lost-node";

const USERS = Number(process.env.BENCH_CROWD_USERS ?? 5_000);
const NODES = Number(process.env.BENCH_CLUSTER_NODES ?? 3);
const LOST_NODE_MS = Number(process.env.BENCH_LOST_NODE_MS ?? 30_000);
const ONE_NODE_FIRST = process.env.BENCH_CLUSTER_ONE_NODE_FIRST === "1";

/** CPU ms per request of one round, by part. */
interface RoundCpu {
  nodes: number;
  balancer: number;
  postgres: number;
  loadGenerator: number;
}

const totalOf = (c: RoundCpu) => c.nodes + c.balancer + c.postgres + c.loadGenerator;

/**
 * Runs a round's crowd and reads, around it, the CPU of the cluster's processes, divided by the
 * requests it sent (joins and heartbeats); pushes it to `into` and prints it.
 */
function cpuOfRounds(cluster: LocalCluster, database: string, into: RoundCpu[]) {
  const nodesMs = () => cluster.nodes.reduce((sum, node) => sum + (node.pid ? cpuMsOf(node.pid) : 0), 0);
  const balancerMs = () => (cluster.haproxy.pid ? cpuMsOf(cluster.haproxy.pid) : 0);
  return async (crowd: () => Promise<RoundFigures>): Promise<RoundFigures> => {
    const before = { nodes: nodesMs(), balancer: balancerMs(), rest: cpuSnapshot(undefined, database) };
    const figures = await crowd();
    const requests = figures.joinMs.length + figures.heartbeatMs.length || 1;
    const rest = cpuPerRequest(before.rest, cpuSnapshot(undefined, database), requests);
    if (!rest) return figures; // not Linux: no /proc
    const cpu: RoundCpu = {
      nodes: (nodesMs() - before.nodes) / requests,
      balancer: (balancerMs() - before.balancer) / requests,
      postgres: rest.postgres,
      loadGenerator: rest.loadGenerator,
    };
    into.push(cpu);
    console.log(
      `  CPU ms per request (${requests} joins and heartbeats): Admit ${cpu.nodes.toFixed(2)}, HAProxy ` +
        `${cpu.balancer.toFixed(2)}, PostgreSQL ${cpu.postgres.toFixed(2)}, load generator ` +
        `${cpu.loadGenerator.toFixed(2)}; all ${totalOf(cpu).toFixed(2)}`,
    );
    return figures;
  };
}

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
  const runs: { label: string; rounds: CrowdRounds; cpu: RoundCpu[] }[] = [];
  const databaseName = database.name!;
  const balanced = async () => {
    console.log(`\n== Through HAProxy (${cluster.balancerUrl}, round robin over ${NODES} nodes)\n`);
    const cpu: RoundCpu[] = [];
    const url = `${cluster.balancerUrl}/graphql`;
    const rounds = await runCrowdRounds(url, adminKey, USERS, checks, "-lb", cpuOfRounds(cluster, databaseName, cpu));
    runs.push({ label: `HAProxy, ${NODES} nodes`, rounds, cpu });
  };
  const oneNode = async () => {
    console.log(`\n== Straight to one node (${cluster.nodes[0].url})\n`);
    const cpu: RoundCpu[] = [];
    const url = `${cluster.nodes[0].url}/graphql`;
    const rounds = await runCrowdRounds(url, adminKey, USERS, checks, "-one", cpuOfRounds(cluster, databaseName, cpu));
    runs.push({ label: "one node", rounds, cpu });
  };
  try {
    console.log(`A crowd of ${USERS} on ${NODES} Admit nodes with ${database.label}`);
    for (const part of ONE_NODE_FIRST ? [oneNode, balanced] : [balanced, oneNode]) await part();

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
  if (runs.every((run) => run.cpu.length > 0)) {
    console.log("\nCPU ms per request, all processes (Admit + HAProxy + PostgreSQL + load generator), rounds 1, 2, 3");
    for (const run of runs)
      console.log(`  ${run.label.padEnd(18)} ${run.cpu.map((c) => totalOf(c).toFixed(2).padStart(6)).join(" ")}`);
  }
  console.log(
    `\n${checks.failed === 0 ? "PASS" : "FAIL"}: ${checks.count - checks.failed} of ${checks.count} checks passed`,
  );
  if (checks.failed) process.exitCode = 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
