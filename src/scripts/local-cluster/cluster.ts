import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { AdmitNode, OutputSink } from "./admit-node";
import { Haproxy } from "./haproxy";
import { Replica, startReplica } from "./replica";

export interface LocalClusterOptions {
  /** The PostgreSQL database every node runs on (its server must be on this machine for a replica). */
  databaseUrl: string;
  /** MASTER_KEY and ADMIN_API_KEY, the same on every node. */
  masterKey: string;
  adminKey: string;
  /** The balancer's port; the statistics page and the nodes take the ports given next. */
  balancerPort: number;
  statsPort: number;
  nodePorts: readonly number[];
  /** A streaming replica on this port; null: none. */
  replicaPort: number | null;
  /** More environment for every node (LOG_LEVEL, DRAIN_DELAY_MS…). */
  env?: Record<string, string>;
  /** Where the nodes' output goes, line by line; unset: kept only (AdmitNode.output()). */
  sink?: OutputSink;
  /** Progress messages. */
  log?: (line: string) => void;
}

/** Admit nodes behind an HAProxy on 127.0.0.1, and optionally a replica of their database. */
export interface LocalCluster {
  /** Where clients go: http://127.0.0.1:<balancerPort> (also every node's PUBLIC_URL). */
  balancerUrl: string;
  nodes: readonly AdmitNode[];
  haproxy: Haproxy;
  replica: Replica | null;
  /** Stops the nodes (SIGTERM, each drains), then the balancer, then the replica. */
  stop(): Promise<void>;
  /** SIGKILLs every process at once, synchronously (a process `exit` handler's last resort). */
  killNow(): void;
}

/**
 * Starts the nodes together (the first runs the migrations under an advisory lock, the others
 * wait for it), the balancer in front, and the replica beside, and resolves once the balancer
 * sees every node ready. Whatever started is stopped again when a part fails.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const log = options.log ?? (() => undefined);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "admit-cluster-"));
  const balancerUrl = `http://127.0.0.1:${options.balancerPort}`;
  // The nodes read analytics from the replica (as startReplica names it); until it streams, from the primary.
  const readUrl = options.replicaPort ? new URL(options.databaseUrl) : null;
  if (readUrl) {
    readUrl.hostname = "127.0.0.1";
    readUrl.port = String(options.replicaPort);
  }
  const env = {
    LOG_LEVEL: "warn",
    ...options.env,
    DATABASE_URL: options.databaseUrl,
    ...(readUrl ? { DATABASE_READ_URL: readUrl.toString() } : {}),
    MASTER_KEY: options.masterKey,
    ADMIN_API_KEY: options.adminKey,
    PUBLIC_URL: balancerUrl,
    // X-Forwarded-For from the balancer on this machine names the client.
    TRUST_PROXY: "loopback",
    // Unused with DATABASE_URL and MASTER_KEY, but never the developer's ./data.
    DATA_DIR: path.join(dir, "data"),
  };
  const nodes = options.nodePorts.map((port, i) => new AdmitNode(`node${i + 1}`, port, env, options.sink));
  let haproxy: Haproxy | null = null;
  let replica: Replica | null = null;
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await haproxy?.stop();
    await replica?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    log(`starting ${nodes.length} Admit nodes${options.replicaPort ? " and a streaming replica" : ""}…`);
    const replicaStarting = Promise.allSettled([
      options.replicaPort ? startReplica(options.databaseUrl, options.replicaPort, log) : null,
    ]);
    const nodesStarting = Promise.allSettled(nodes.map((node) => node.start()));
    const [replicaStarted] = await replicaStarting;
    if (replicaStarted.status === "fulfilled") replica = replicaStarted.value;
    const failed = [replicaStarted, ...(await nodesStarting)].find(
      (result): result is PromiseRejectedResult => result.status === "rejected",
    );
    if (failed) throw failed.reason;
    haproxy = await Haproxy.start(
      {
        bind: `127.0.0.1:${options.balancerPort}`,
        statsBind: `127.0.0.1:${options.statsPort}`,
        servers: nodes.map((node) => ({ name: node.name, address: `127.0.0.1:${node.port}` })),
      },
      dir,
    );
    await haproxy.waitFor((servers) => servers.every((server) => server.status === "UP"), 30_000, "every node UP");
    const running = haproxy;
    return {
      balancerUrl,
      nodes,
      haproxy: running,
      replica,
      stop,
      killNow: () => {
        for (const node of nodes) node.killNow();
        running.killNow();
        replica?.killNow();
      },
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
