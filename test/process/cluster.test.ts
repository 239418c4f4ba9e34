import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Database } from "../../src/db/database";
import { LocalCluster, startLocalCluster } from "../../src/scripts/local-cluster/cluster";
import { haproxyBinary, haproxyConfig } from "../../src/scripts/local-cluster/haproxy";
import { freePort } from "../../bench/harness";
import { describeLostNode, lostNodeCrowd } from "../../bench/lost-node";
import { openFreshTestDatabase, usingPglite } from "../support/harness";

/**
 * Three built nodes (dist/src/main.js) on one PostgreSQL database behind a real HAProxy, all on
 * 127.0.0.1, as `npm run cluster` starts them. ADMIT_CLUSTER_CROWD_MS sets how long the crowd
 * lasts (default 12 s; the node is killed a third of the way in).
 */
const root = path.resolve(__dirname, "../..");
const CROWD_MS = Number(process.env.ADMIT_CLUSTER_CROWD_MS ?? 12_000);

it("deploy/haproxy.cfg (docker compose's balancer) is what the local cluster runs, for the compose services", () => {
  const compose = haproxyConfig({
    bind: "*:8080",
    statsBind: "*:8404",
    dockerDns: true,
    servers: [1, 2, 3].map((i) => ({ name: `admit-${i}`, address: `admit-${i}:4000` })),
  });
  expect(fs.readFileSync(path.join(root, "deploy/haproxy.cfg"), "utf8")).toBe(compose);
  // Retried only when no connection was made: a request that reached a node is never sent again.
  expect(compose.match(/^\s*retry-on .*$/gm)).toEqual(["    retry-on conn-failure"]);
  expect(compose).not.toMatch(/^\s*(cookie|stick|balance (?!roundrobin))/m);
});

/** `describe` on PostgreSQL with haproxy installed; otherwise a skipped block that says why (a failure where CI requires it). */
function describeCluster(name: string, body: () => void): void {
  if (usingPglite()) {
    console.warn(
      `Cluster tests skipped: they need PostgreSQL (nodes share a database server; embedded PGlite lives in one process). Skipped: ${name}`,
    );
    return describe.skip(`${name} [skipped: PostgreSQL only, this run is on PGlite]`, body);
  }
  if (haproxyBinary()) return describe(name, body);
  if (process.env.ADMIT_REQUIRE_CLUSTER === "1") {
    return describe(name, () => {
      it("needs haproxy", () => {
        throw new Error("ADMIT_REQUIRE_CLUSTER=1 but haproxy is not installed (apt-get install haproxy).");
      });
    });
  }
  console.warn(`Cluster tests skipped: haproxy is not installed (apt-get install haproxy). Skipped: ${name}`);
  describe.skip(`${name} [skipped: haproxy is not installed]`, body);
}

describeCluster("three nodes behind HAProxy", () => {
  const adminKey = randomBytes(32).toString("base64url");
  let db: (Database & { url: string | null }) | null = null;
  let cluster: LocalCluster | null = null;

  beforeAll(async () => {
    execFileSync(process.execPath, [path.join(root, "tools/build-if-stale.js")], { cwd: root, stdio: "pipe" });
    db = await openFreshTestDatabase();
    const [balancerPort, statsPort, ...nodePorts] = await Promise.all(Array.from({ length: 5 }, () => freePort()));
    cluster = await startLocalCluster({
      databaseUrl: db.url!,
      masterKey: randomBytes(32).toString("base64"),
      adminKey,
      balancerPort,
      statsPort,
      nodePorts,
      replicaPort: null,
    });
  }, 300_000);

  afterAll(async () => {
    await cluster?.stop();
    await db?.close();
  }, 120_000);

  it("loses a node mid-crowd: only what was in flight on it fails, nothing once it is down, every count exact, and it rejoins", async () => {
    const figures = await lostNodeCrowd({
      cluster: cluster!,
      adminKey,
      databaseUrl: db!.url!,
      durationMs: CROWD_MS,
      killAtMs: CROWD_MS / 3,
      log: (line) => console.log(line),
    });
    console.log(describeLostNode(figures));

    for (const kind of Object.values(figures.byKind)) expect(kind.ok).toBeGreaterThan(0);
    // What failed was in flight on the lost node when it died (HAProxy's log: sent to it, no
    // answer); every connection it refused afterwards was retried on another node.
    expect(figures.failedInLog).toBe(figures.failedOnVictim);
    expect(figures.errors.length).toBeLessThanOrEqual(figures.failedOnVictim);
    expect(figures.errors.filter((error) => error.code === "LINK_GONE")).toEqual([]);
    expect(figures.errorsAfterDown).toBe(0);
    // Two failed checks 500 ms apart, and a slow machine's slack.
    expect(figures.downAfter).toBeLessThan(3_000);
    expect(figures.upAfter).not.toBeNull();
    expect(figures.servedAfterRejoin).toBeGreaterThan(0);
    for (const invariant of figures.invariants)
      expect({ [invariant.name]: invariant.actual }).toEqual({ [invariant.name]: invariant.expected });
  }, 300_000);
});
