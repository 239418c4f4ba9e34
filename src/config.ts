import { isIP } from "node:net";
import path from "node:path";
import { DatabaseTimeouts, DEFAULT_DATABASE_TIMEOUTS } from "./db/pool";
import { DEFAULT_READ_REPLICA_MAX_LAG_MS, DEFAULT_READ_REPLICA_RETRY_MS, ReadReplicaSettings } from "./db/read-replica";

/**
 * The only reader of the environment. Parsed once at start, validated, frozen. A bad value
 * stops the start with one line that names the variable (ConfigError).
 */
export interface Config {
  readonly nodeEnv: string;
  readonly port: number;
  readonly host: string;
  readonly publicUrl: string;
  /** null: embedded PGlite under dataDir. */
  readonly databaseUrl: string | null;
  /**
   * DATABASE_READ_URL: a streaming replica of DATABASE_URL that serves analytics and the CSV
   * export while it lags at most maxLagMs; null: everything reads the primary.
   */
  readonly readReplica: ReadReplicaSettings | null;
  /**
   * DATABASE_DIRECT_URL: the same database reached without a transaction-mode pooler, for what
   * needs a session of its own (the change feed's LISTEN, the migrations' advisory lock); null:
   * DATABASE_URL serves those too.
   */
  readonly databaseDirectUrl: string | null;
  /** Statement, read and connect limits of the pool on a PostgreSQL server. */
  readonly databaseTimeouts: DatabaseTimeouts;
  /**
   * DATABASE_NAMED_STATEMENTS (default true): the hot paths' statements are named prepared
   * statements, planned once per connection. false for a pooler in transaction mode that does not
   * keep them (PgBouncer before 1.21, or without max_prepared_statements; docs/scaling-out.md).
   */
  readonly databaseNamedStatements: boolean;
  readonly dataDir: string;
  /** The platform admin key when given; otherwise one is made on first start. */
  readonly adminApiKey: string | null;
  /** 32 bytes that encrypt private keys at rest; null: made under dataDir (embedded only). */
  readonly masterKey: Buffer | null;
  /** MASTER_KEY_OLD: the key a rotation (npm run master-key:rotate) re-encrypts from; the app ignores it. */
  readonly masterKeyOld: Buffer | null;
  readonly logLevel: string;
  /**
   * The reverse proxies whose X-Forwarded-For Admit believes (their IPs, CIDR ranges or the
   * names loopback, linklocal, uniquelocal), so per-address rate limits count the client behind
   * them; false: none, the connecting address is the client's.
   */
  readonly trustProxy: false | readonly string[];
  /** How a SIGTERM stops the node (see parseDrain). */
  readonly drain: DrainSettings;
}

/**
 * A SIGTERM first turns /readyz to 503 and keeps serving for `delayMs`, so the load balancer
 * takes the node out before it stops accepting; then in-flight requests finish. `timeoutMs`
 * bounds the whole stop: past it the process exits anyway.
 */
export interface DrainSettings {
  readonly delayMs: number;
  readonly timeoutMs: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = "ConfigError";
  }
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

type Env = Record<string, string | undefined>;

function nonEmpty(env: Env, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

function parsePort(env: Env): number {
  const raw = nonEmpty(env, "PORT");
  if (raw === null) return 4000;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 0 || port > 65535) {
    throw new ConfigError("PORT", "must be a whole number from 0 to 65535.");
  }
  return port;
}

function parseUrl(env: Env, name: string, protocols: string[]): string | null {
  const raw = nonEmpty(env, name);
  if (raw === null) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, "is not a URL.");
  }
  if (!protocols.includes(url.protocol)) {
    throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(" or ")}.`);
  }
  return raw;
}

function parseMasterKey(env: Env, name: "MASTER_KEY" | "MASTER_KEY_OLD"): Buffer | null {
  const raw = nonEmpty(env, name);
  if (raw === null) return null;
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(raw) ? Buffer.from(raw, "base64") : Buffer.alloc(0);
  if (bytes.length !== 32) {
    throw new ConfigError(name, "must be the base64 of exactly 32 bytes (try: openssl rand -base64 32).");
  }
  return bytes;
}

function parseAdminKey(env: Env): string | null {
  const raw = nonEmpty(env, "ADMIN_API_KEY");
  if (raw === null) return null;
  if (raw.length < 32) throw new ConfigError("ADMIN_API_KEY", "must be at least 32 characters long.");
  return raw;
}

function parseBoolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = nonEmpty(env, name);
  if (raw === null) return fallback;
  if (raw === "true") return true;
  if (raw === "false") return false;
  throw new ConfigError(name, "must be true or false.");
}

/** The longest a database limit (or a drain setting) may be set to: an hour. */
const MAX_TIMEOUT_MS = 3_600_000;

/** `zero`: what 0 means, said in the refusal when 0 is allowed. */
function parseMs(env: Env, name: string, fallback: number, min: number, zero = "no limit"): number {
  const raw = nonEmpty(env, name);
  if (raw === null) return fallback;
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || ms < min || ms > MAX_TIMEOUT_MS) {
    throw new ConfigError(
      name,
      `must be a whole number of milliseconds from ${min} to ${MAX_TIMEOUT_MS}${min === 0 ? ` (0: ${zero})` : ""}.`,
    );
  }
  return ms;
}

/**
 * The pool's limits. The read timeout (client side) defaults to 5 s more than the statement
 * timeout (server side) and must stay longer: a slow statement is then cancelled by the server
 * and its connection kept, and only a connection that stopped answering is dropped.
 */
function parseDatabaseTimeouts(env: Env): DatabaseTimeouts {
  const statementMs = parseMs(env, "DATABASE_STATEMENT_TIMEOUT_MS", DEFAULT_DATABASE_TIMEOUTS.statementMs, 0);
  const queryMs = parseMs(env, "DATABASE_QUERY_TIMEOUT_MS", statementMs > 0 ? statementMs + 5_000 : 0, 0);
  if (statementMs > 0 && queryMs > 0 && queryMs <= statementMs) {
    throw new ConfigError(
      "DATABASE_QUERY_TIMEOUT_MS",
      "must be longer than DATABASE_STATEMENT_TIMEOUT_MS: the server cancels a slow statement first; this limit is for a connection that stopped answering.",
    );
  }
  const connectMs = parseMs(env, "DATABASE_CONNECT_TIMEOUT_MS", DEFAULT_DATABASE_TIMEOUTS.connectMs, 1);
  return Object.freeze({ statementMs, queryMs, connectMs });
}

/**
 * The default delay is a bit more than a balancer checking /readyz every 500 ms needs to see two
 * failures in a row (HAProxy's `inter 500 fall 2`, as deploy/haproxy.cfg); the default bound
 * stays under the 30 s that Kubernetes and docker compose (stop_grace_period here) wait before
 * a SIGKILL.
 */
const DEFAULT_DRAIN: DrainSettings = { delayMs: 2_000, timeoutMs: 25_000 };

function parseDrain(env: Env): DrainSettings {
  const delayMs = parseMs(env, "DRAIN_DELAY_MS", DEFAULT_DRAIN.delayMs, 0, "stop accepting at once");
  const timeoutMs = parseMs(env, "DRAIN_TIMEOUT_MS", Math.max(DEFAULT_DRAIN.timeoutMs, delayMs + 5_000), 1);
  if (timeoutMs <= delayMs) {
    throw new ConfigError(
      "DRAIN_TIMEOUT_MS",
      "must be longer than DRAIN_DELAY_MS: it bounds the whole stop, the wait for the load balancer included.",
    );
  }
  return Object.freeze({ delayMs, timeoutMs });
}

/** proxy-addr's names for the private ranges a proxy usually sits in. */
const PROXY_RANGE_NAMES = ["loopback", "linklocal", "uniquelocal"];

/** An IP address or CIDR range (prefix 1 to 32, or to 128 for IPv6) that proxy-addr accepts. */
function isAddressOrRange(entry: string): boolean {
  if (PROXY_RANGE_NAMES.includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split("/");
  const family = address.includes("%") ? 0 : isIP(address);
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: unset → false (clients connect directly; X-Forwarded-For is ignored). Never
 * "true" (any client could then name its own address in X-Forwarded-For and dodge the
 * per-address limits), and no hop count: it cannot tell a proxy from a client that reaches
 * Admit directly, and Fastify 5 ignores it.
 */
function parseTrustProxy(env: Env): false | readonly string[] {
  const raw = nonEmpty(env, "TRUST_PROXY");
  if (raw === null || raw.toLowerCase() === "false") return false;
  if (raw.toLowerCase() === "true") {
    throw new ConfigError(
      "TRUST_PROXY",
      "cannot be true: any client could set X-Forwarded-For to any address. List your proxies' IP addresses or CIDR ranges.",
    );
  }
  if (/^\d+$/.test(raw)) {
    throw new ConfigError(
      "TRUST_PROXY",
      "cannot be a hop count: list your proxies' IP addresses or CIDR ranges (e.g. 10.0.0.0/8).",
    );
  }
  const entries = raw.split(",").map((entry) => entry.trim());
  if (!entries.every(isAddressOrRange)) {
    throw new ConfigError(
      "TRUST_PROXY",
      "must be a comma-separated list of IP addresses or CIDR ranges (e.g. 10.0.0.0/8,192.0.2.10), or loopback, linklocal, uniquelocal.",
    );
  }
  return Object.freeze(entries);
}

/** DATABASE_READ_URL and its settings; refused without DATABASE_URL (embedded PGlite has no replicas). */
function parseReadReplica(env: Env, databaseUrl: string | null): ReadReplicaSettings | null {
  const url = parseUrl(env, "DATABASE_READ_URL", ["postgres:", "postgresql:"]);
  const maxLagMs = parseMs(
    env,
    "READ_REPLICA_MAX_LAG_MS",
    DEFAULT_READ_REPLICA_MAX_LAG_MS,
    0,
    "only a caught-up replica",
  );
  const retryAfterMs = parseMs(env, "READ_REPLICA_RETRY_MS", DEFAULT_READ_REPLICA_RETRY_MS, 1);
  if (url === null) return null;
  if (databaseUrl === null) {
    throw new ConfigError(
      "DATABASE_READ_URL",
      "needs DATABASE_URL: the embedded PGlite database has no replicas. Set DATABASE_URL to the primary PostgreSQL server, or unset DATABASE_READ_URL.",
    );
  }
  if (url === databaseUrl) {
    throw new ConfigError("DATABASE_READ_URL", "is DATABASE_URL: name a streaming replica of it, or unset it.");
  }
  return Object.freeze({ url, maxLagMs, retryAfterMs });
}

/** DATABASE_DIRECT_URL; refused without DATABASE_URL (embedded PGlite has no pooler in front). */
function parseDirectUrl(env: Env, databaseUrl: string | null): string | null {
  const url = parseUrl(env, "DATABASE_DIRECT_URL", ["postgres:", "postgresql:"]);
  if (url !== null && databaseUrl === null) {
    throw new ConfigError(
      "DATABASE_DIRECT_URL",
      "needs DATABASE_URL: it is the same PostgreSQL database reached without a pooler. Set DATABASE_URL, or unset DATABASE_DIRECT_URL.",
    );
  }
  return url;
}

const NODE_ENVS = ["development", "production", "test"];

export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = nonEmpty(env, "NODE_ENV") ?? "development";
  // Anything else (NODE_ENV=prod, say) would quietly run with the development defaults.
  if (!NODE_ENVS.includes(nodeEnv)) throw new ConfigError("NODE_ENV", `must be one of ${NODE_ENVS.join(", ")}.`);
  const port = parsePort(env);
  const publicUrl = (parseUrl(env, "PUBLIC_URL", ["http:", "https:"]) ?? `http://localhost:${port}`).replace(
    /\/+$/,
    "",
  );
  const databaseUrl = parseUrl(env, "DATABASE_URL", ["postgres:", "postgresql:"]);
  const masterKey = parseMasterKey(env, "MASTER_KEY");
  if (databaseUrl && !masterKey && nodeEnv === "production") {
    throw new ConfigError("MASTER_KEY", "is required with DATABASE_URL when NODE_ENV=production.");
  }
  const logLevel = nonEmpty(env, "LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError("LOG_LEVEL", `must be one of ${LOG_LEVELS.join(", ")}.`);
  }
  return Object.freeze({
    nodeEnv,
    port,
    host: nonEmpty(env, "HOST") ?? "0.0.0.0",
    publicUrl,
    databaseUrl,
    readReplica: parseReadReplica(env, databaseUrl),
    databaseDirectUrl: parseDirectUrl(env, databaseUrl),
    databaseTimeouts: parseDatabaseTimeouts(env),
    databaseNamedStatements: parseBoolean(env, "DATABASE_NAMED_STATEMENTS", true),
    dataDir: path.resolve(nonEmpty(env, "DATA_DIR") ?? "./data"),
    adminApiKey: parseAdminKey(env),
    masterKey,
    masterKeyOld: parseMasterKey(env, "MASTER_KEY_OLD"),
    logLevel,
    trustProxy: parseTrustProxy(env),
    drain: parseDrain(env),
  });
}
