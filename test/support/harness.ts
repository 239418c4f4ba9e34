import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Writable } from "node:stream";
import type { AddressInfo } from "node:net";
import type { Logger as TypeOrmLogger } from "typeorm";
import { Client } from "pg";
import { createApp, App, type AppDeps } from "../../src/app";
import { ManualClock } from "../../src/clock";
import { Database, migrate, openDatabase } from "../../src/db/database";
import type { DatabaseTimeouts } from "../../src/db/pool";
import { createLogger } from "../../src/logger";

export interface GqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; field?: string; [key: string]: unknown };
}

export interface GqlResponse<T = any> {
  status: number;
  data?: T;
  errors?: GqlError[];
  headers: Headers;
}

/** Counts the SQL statements the app sends, for the DataLoader tests. */
export class StatementCounter implements TypeOrmLogger {
  statements: string[] = [];
  recording = false;

  logQuery(query: string): void {
    if (this.recording) this.statements.push(query);
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}

  async count<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
    this.statements = [];
    this.recording = true;
    try {
      const result = await work();
      return { result, statements: [...this.statements] };
    } finally {
      this.recording = false;
    }
  }
}

export interface TestApp {
  url: string;
  app: App;
  db: Database;
  clock: ManualClock;
  adminKey: string;
  /** The key that encrypts this app's private keys: a second node over the same data needs it. */
  masterKey: Buffer;
  /** Every log line the app wrote, as text: tests check that no secret is in them. */
  logs: string[];
  statements: StatementCounter;
  gql<T = any>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { key?: string | null; headers?: Record<string, string> },
  ): Promise<GqlResponse<T>>;
  close(): Promise<void>;
}

export interface StartOptions {
  publicUrl?: string;
  nodeEnv?: string;
  poolSize?: number;
  /** The app's master key; a random one by default. */
  masterKey?: Buffer;
  /** Runs on this database (the caller closes it) instead of the test database. */
  database?: Database;
  /** PostgreSQL only: reach the test database through this URL (a proxy in front of it), with these pool limits. */
  through?: { url: string; timeouts?: DatabaseTimeouts };
  /** PostgreSQL only: analytics read this streaming replica of the test database (DATABASE_READ_URL). */
  readReplica?: AppDeps["readReplica"];
  /** PostgreSQL only: DATABASE_DIRECT_URL, where the change feed listens. */
  directDatabaseUrl?: string;
}

let migratedPGlite: Promise<Blob> | undefined;

/** The data directory global-setup migrated, read once per test file; none when it made none. */
function migratedPGliteDataDir(): Promise<Blob> | undefined {
  const file = process.env.ADMIT_TEST_PGLITE_DUMP;
  if (!file) return undefined;
  migratedPGlite ??= readFile(file).then((bytes) => new Blob([bytes]));
  return migratedPGlite;
}

/**
 * Opens the test database: the fresh PostgreSQL database of global-setup, or a new in-memory
 * PGlite (a copy of the one global-setup migrated; `migrate` then finds nothing to do).
 */
export async function openTestDatabase(
  logger?: TypeOrmLogger,
  poolSize?: number,
  database?: StartOptions["through"],
): Promise<Database> {
  if (process.env.ADMIT_TEST_DB === "postgres") {
    const url = database?.url ?? process.env.ADMIT_TEST_DATABASE_URL!;
    return openDatabase({ kind: "postgres", url }, { logger, poolSize, timeouts: database?.timeouts });
  }
  const db = await openDatabase(
    { kind: "pglite", dataDir: null },
    { logger, pgliteDataDir: await migratedPGliteDataDir() },
  );
  await migrate(db.dataSource);
  return db;
}

/**
 * A database of its own, migrated, for tests that must see every row of it (master-key checks
 * and rotation read all encrypted rows): a new database on the PostgreSQL server (dropped on
 * close), or a new in-memory PGlite. `url` is the server database's, for child processes.
 */
export async function openFreshTestDatabase(): Promise<Database & { url: string | null }> {
  if (process.env.ADMIT_TEST_DB !== "postgres") {
    const db = await openTestDatabase();
    return Object.assign(db, { url: null });
  }
  const name = `${process.env.ADMIT_TEST_DATABASE_NAME}_${randomBytes(4).toString("hex")}`;
  const serverUrl = process.env.ADMIT_TEST_SERVER_URL!;
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
  const db = await openDatabase({ kind: "postgres", url: url.toString() });
  await migrate(db.dataSource);
  return {
    dataSource: db.dataSource,
    kind: db.kind,
    url: url.toString(),
    close: async () => {
      await db.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

export function usingPglite(): boolean {
  return process.env.ADMIT_TEST_DB !== "postgres";
}

/** Starts the real app on a loopback port, on the test database, with a clock the test moves. */
export async function startTestApp(options: StartOptions = {}): Promise<TestApp> {
  const statements = new StatementCounter();
  const db = options.database ?? (await openTestDatabase(statements, options.poolSize, options.through));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const log = createLogger("debug", sink);
  const clock = new ManualClock();
  const adminKey = `test-admin-${randomBytes(24).toString("base64url")}`;
  let url = "";
  const masterKey = options.masterKey ?? randomBytes(32);
  const app = await createApp({
    config: {
      publicUrl: options.publicUrl ?? "http://admit.test",
      adminApiKey: adminKey,
      nodeEnv: options.nodeEnv ?? "test",
    },
    masterKey,
    dataSource: db.dataSource,
    readReplica: options.readReplica,
    directDatabaseUrl: options.directDatabaseUrl,
    clock,
    log,
  });
  await app.fastify.listen({ port: 0, host: "127.0.0.1" });
  url = `http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}`;

  const gql = async <T = any>(
    query: string,
    variables: Record<string, unknown> = {},
    opts: { key?: string | null; headers?: Record<string, string> } = {},
  ): Promise<GqlResponse<T>> => {
    const headers: Record<string, string> = { "content-type": "application/json", ...(opts.headers ?? {}) };
    if (opts.key) headers.authorization = `Bearer ${opts.key}`;
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    let body: { data?: T; errors?: GqlError[] };
    try {
      body = JSON.parse(text);
    } catch {
      body = { errors: [{ message: text }] };
    }
    return { status: response.status, data: body.data ?? undefined, errors: body.errors, headers: response.headers };
  };

  return {
    url,
    app,
    db,
    clock,
    adminKey,
    masterKey,
    logs,
    statements,
    gql,
    close: async () => {
      await app.close();
      if (!options.database) await db.close();
    },
  };
}

/**
 * Starts the app before the file's tests and closes it after them: `const t = useTestApp();`.
 * The returned object forwards to the running app, so use it inside tests and hooks.
 */
export function useTestApp(options: StartOptions = {}): TestApp {
  let running: TestApp | null = null;
  beforeAll(async () => {
    running = await startTestApp(options);
  });
  afterAll(async () => {
    await running?.close();
  });
  return new Proxy({} as TestApp, {
    get(_target, property) {
      if (!running) throw new Error("The test app is not started yet: use it inside tests and hooks.");
      // eslint-disable-next-line @typescript-eslint/unbound-method -- hands over the running app's members; TestApp's methods are arrow functions
      return running[property as keyof TestApp];
    },
  });
}

/** The code of the first error, for `expect(codeOf(res)).toBe("NOT_FOUND")`. */
export function codeOf(response: GqlResponse): string | undefined {
  return response.errors?.[0]?.extensions?.code;
}

/** The data of a response that must have succeeded; fails the test with the errors otherwise. */
export function ok<T>(response: GqlResponse<T>): T {
  if (response.errors?.length || !response.data) {
    throw new Error(`Expected success, got ${response.status}: ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}
