import "reflect-metadata";
import path from "node:path";
import { ConfigError, loadConfig } from "./config";
import { createLogger } from "./logger";
import { migrateDirectly, openDatabase } from "./db/database";
import { createApp } from "./app";
import { markDraining } from "./http/health.routes";
import { systemClock } from "./clock";
import { MasterKeyRefusedError, resolveMasterKey, verifyMasterKey } from "./master-key";

const SWEEP_INTERVAL_MS = 30_000;
/** How often a node folds the pending join and end instants into the activity rollups. */
const FOLD_INTERVAL_MS = 1_000;
/** Every this many folds, the pending table's dead rows are reclaimed. */
const FOLDS_PER_VACUUM = 60;
/** Embedded PGlite has no autovacuum: its planner statistics are refreshed every 5 folds (seconds). */
const FOLDS_PER_ANALYZE = 5;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const masterKey = resolveMasterKey(config);

  const db = await openDatabase(
    config.databaseUrl
      ? { kind: "postgres", url: config.databaseUrl }
      : { kind: "pglite", dataDir: path.join(config.dataDir, "pgdata") },
    {
      onPoolError: (error) => log.warn({ err: error }, "database connection lost; the pool will reconnect"),
      timeouts: config.databaseTimeouts,
      namedStatements: config.databaseNamedStatements,
    },
  );
  const ran = await migrateDirectly(db, config.databaseDirectUrl);
  if (ran.length > 0) log.info({ migrations: ran }, "migrations applied");
  // A key that cannot open the database's keys stops the start here, instead of every mint and
  // join answering INTERNAL later (a second node with its own key, a key made afresh per run).
  try {
    if ((await verifyMasterKey(masterKey, db.dataSource, systemClock)) === "recorded") {
      log.info("this database's master key is recorded: every later start must use the same key");
    }
  } catch (error) {
    if (!(error instanceof MasterKeyRefusedError)) throw error;
    await db.close();
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  if (masterKey.source !== "env" && config.databaseUrl) {
    log.warn("MASTER_KEY is not set: using a key stored under DATA_DIR. Set MASTER_KEY in production.");
  }
  if (config.masterKeyOld)
    log.warn("MASTER_KEY_OLD is set: only npm run master-key:rotate reads it; remove it from the app's environment.");

  const app = await createApp({
    config,
    masterKey: masterKey.key,
    dataSource: db.dataSource,
    readReplica: config.readReplica && { settings: config.readReplica, timeouts: config.databaseTimeouts },
    directDatabaseUrl: config.databaseDirectUrl,
    clock: systemClock,
    log,
  });
  const adminKey = await app.services.companies.ensurePlatformAdminKey();
  if (adminKey) {
    process.stdout.write(
      `\nPlatform admin API key (shown once, store it now; it may only create companies):\n\n  ${adminKey}\n\n`,
    );
  }

  await app.fastify.listen({ port: config.port, host: config.host });
  const where = db.kind === "pglite" ? `embedded PostgreSQL in ${path.join(config.dataDir, "pgdata")}` : "PostgreSQL";
  process.stdout.write(`Admit is listening: GraphQL at ${config.publicUrl}/graphql (database: ${where})\n`);

  // Sessions whose end time has passed (idle, ejected, event over) are written down as ended,
  // so analytics and capacity see them as ended even when no client heartbeats again.
  // Old rate-limit windows are deleted on the same beat.
  const sweeper = setInterval(() => {
    app.services.sessions.sweep().catch((error) => log.warn({ err: error }, "session sweep failed"));
    app.services.authLimiter.purgeExpired().catch((error) => log.warn({ err: error }, "rate-limit purge failed"));
  }, SWEEP_INTERVAL_MS);
  sweeper.unref();
  // One fold at a time per node: a slow one is not stacked on.
  let folding = false;
  let folds = 0;
  const folder = setInterval(() => {
    if (folding) return;
    folding = true;
    const vacuum = ++folds % FOLDS_PER_VACUUM === 0;
    const analyze = db.kind === "pglite" && folds % FOLDS_PER_ANALYZE === 0;
    app.services.analytics
      .foldPending()
      .then(() => (vacuum ? app.services.analytics.vacuumPending() : undefined))
      .then(() => (analyze ? app.services.analytics.analyzeGrownTables() : undefined))
      .catch((error) => log.warn({ err: error }, "analytics fold failed"))
      .finally(() => (folding = false));
  }, FOLD_INTERVAL_MS);
  folder.unref();

  // Webhook deliveries: woken by the change feed when any node commits a message, and a poll for retries.
  app.services.webhookWorker.start();

  let stopping = false;
  /**
   * The drain: /readyz answers 503 at once and the node keeps serving while the load balancer
   * notices (DRAIN_DELAY_MS); then it stops accepting, finishes its in-flight requests, closes
   * the change feed and the pool, and exits. DRAIN_TIMEOUT_MS bounds it all: a request that
   * never ends does not keep a stopped node alive. SIGINT (Ctrl-C in a terminal: no balancer to
   * wait for) skips the wait.
   */
  const stop = async (signal: "SIGTERM" | "SIGINT") => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => {
      log.error(
        { timeoutMs: config.drain.timeoutMs },
        "stopping took longer than DRAIN_TIMEOUT_MS: exiting with requests unfinished",
      );
      process.exit(1);
    }, config.drain.timeoutMs);
    clearInterval(sweeper);
    clearInterval(folder);
    markDraining(app.fastify);
    const delayMs = signal === "SIGTERM" ? config.drain.delayMs : 0;
    log.info(
      { signal, delayMs },
      "stopping: /readyz answers 503; serving on while the load balancer takes this node out",
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      // Live subscriptions are closed here once they exist: they never finish on their own, so
      // the HTTP drain below would otherwise wait for DRAIN_TIMEOUT_MS. Their clients reconnect
      // through the balancer, which no longer sends them here.
      log.info("draining in-flight requests");
      await app.close();
      log.info("HTTP drained; closing the database");
      await db.close();
      log.info("stopped");
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, "error while stopping");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
}

main().catch((error) => {
  process.stderr.write(`Admit failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
