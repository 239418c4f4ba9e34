import fs from "node:fs";
import path from "node:path";
import { DataSource, Logger, MigrationExecutor } from "typeorm";
import { PGlite } from "@electric-sql/pglite";
import { ENTITIES } from "./entities";
import { MIGRATIONS } from "../../migrations";
import { SnakeNamingStrategy } from "./naming";
import { createPGliteDriver } from "./pglite-driver";
import { DatabaseTimeouts, DEFAULT_DATABASE_TIMEOUTS, poolOptions, withoutTimeouts } from "./pool";

/** Where the data lives: a PostgreSQL server, or embedded PGlite (a directory, or memory). */
export type DatabaseTarget = { kind: "postgres"; url: string } | { kind: "pglite"; dataDir: string | null };

export interface Database {
  readonly dataSource: DataSource;
  readonly kind: DatabaseTarget["kind"];
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  logger?: Logger;
  /** Called with every error the pg pool raises on an idle client (server restart, killed backend). */
  onPoolError?: (error: Error) => void;
  poolSize?: number;
  /** On a PostgreSQL server: statement, read and connect limits of the pool (default DEFAULT_DATABASE_TIMEOUTS). */
  timeouts?: DatabaseTimeouts;
  /**
   * On a PostgreSQL server: whether the hot paths' statements are named prepared statements
   * (default true). Off for a pooler in transaction mode that does not carry them from one server
   * connection to the next (PgBouncer before 1.21, or without max_prepared_statements).
   */
  namedStatements?: boolean;
  /**
   * Embedded only: start from this copy of a data directory (PGlite's `dumpDataDir`) instead of
   * an empty one. The tests migrate one database and start every app on a copy of it.
   */
  pgliteDataDir?: Blob;
}

function baseOptions(options: OpenDatabaseOptions) {
  return {
    type: "postgres" as const,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    migrationsRun: false,
    uuidExtension: "pgcrypto" as const,
    installExtensions: false,
    logger: options.logger,
    logging: options.logger ? (["query", "error"] as ("query" | "error")[]) : false,
  };
}

const embedded = new WeakMap<DataSource, PGlite>();
const withoutNamedStatements = new WeakSet<DataSource>();

/** The PGlite instance under a data source opened here in embedded mode; null on a server. */
export function embeddedPGliteOf(dataSource: DataSource): PGlite | null {
  return embedded.get(dataSource) ?? null;
}

/** Whether the hot paths may send named prepared statements on this data source (openDatabase's namedStatements). */
export function namedStatementsOn(dataSource: DataSource): boolean {
  return !withoutNamedStatements.has(dataSource);
}

/** Opens (but does not migrate) the database. */
export async function openDatabase(target: DatabaseTarget, options: OpenDatabaseOptions = {}): Promise<Database> {
  if (target.kind === "postgres") {
    const dataSource = new DataSource({
      ...baseOptions(options),
      url: target.url,
      poolSize: options.poolSize ?? 10,
      // pg emits "error" on idle clients when the server goes away; without a handler the
      // process would crash. The pool drops the broken client and makes a new one on demand.
      poolErrorHandler: (error: Error) => options.onPoolError?.(error),
      // A connection that stops answering (a network that drops packets without a reset) fails
      // its query after the read timeout and is dropped, instead of hanging the pool for good.
      extra: poolOptions(options.timeouts ?? DEFAULT_DATABASE_TIMEOUTS),
    });
    await dataSource.initialize();
    if (options.namedStatements === false) withoutNamedStatements.add(dataSource);
    return { dataSource, kind: "postgres", close: () => dataSource.destroy() };
  }

  if (target.dataDir) fs.mkdirSync(path.dirname(target.dataDir), { recursive: true });
  const pglite = await PGlite.create({ dataDir: target.dataDir ?? undefined, loadDataDir: options.pgliteDataDir });
  const dataSource = new DataSource({
    ...baseOptions(options),
    driver: createPGliteDriver(pglite),
    poolSize: 1,
  });
  await dataSource.initialize();
  embedded.set(dataSource, pglite);
  return {
    dataSource,
    kind: "pglite",
    close: async () => {
      await dataSource.destroy();
      await pglite.close();
    },
  };
}

/** An arbitrary, fixed key for the advisory lock that serialises migrations across nodes. */
const MIGRATION_LOCK_KEY = 726_473_911;

/**
 * Runs pending migrations under a session-level advisory lock on the same connection, so two
 * nodes starting together do not both migrate. The connection runs them without the pool's
 * statement and read limits: a migration over a big table (or waiting for another node's) may
 * take minutes. Returns the names of the migrations it ran.
 */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner("master");
  try {
    await runner.connect();
    return await withoutTimeouts(runner, async () => {
      await runner.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
      try {
        const executor = new MigrationExecutor(dataSource, runner);
        executor.transaction = "each";
        const ran = await executor.executePendingMigrations();
        return ran.map((migration) => migration.name);
      } finally {
        await runner.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
      }
    });
  } finally {
    await runner.release();
  }
}

/**
 * Runs pending migrations on `db`, or, given DATABASE_DIRECT_URL, on a connection of their own to
 * that address: their session-level advisory lock and `SET`s need one server session throughout,
 * which a transaction-mode pooler in front of DATABASE_URL does not promise.
 */
export async function migrateDirectly(db: Database, directUrl: string | null): Promise<string[]> {
  if (directUrl === null || db.kind !== "postgres") return migrate(db.dataSource);
  const direct = await openDatabase({ kind: "postgres", url: directUrl }, { poolSize: 1 });
  try {
    return await migrate(direct.dataSource);
  } finally {
    await direct.close();
  }
}

/** The SQL that would bring the database in line with the entities; empty when they agree. */
export async function pendingSchemaChanges(dataSource: DataSource): Promise<string[]> {
  const log = await dataSource.driver.createSchemaBuilder().log();
  return log.upQueries.map((query) => query.query);
}
