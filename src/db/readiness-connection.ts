import { Client } from "pg";
import type { DataSource } from "typeorm";
import { embeddedPGliteOf } from "./database";
import { rawQuery, type RawQuery } from "./raw";

/** A readiness check gives up after this long (and drops its connection). */
export const READINESS_TIMEOUT_MS = 2_000;

export interface ReadinessConnection {
  /** Statements of /readyz, on a connection no request uses. */
  readonly query: RawQuery;
  close(): Promise<void>;
}

/**
 * /readyz's own connection to the primary, outside the pool: a node whose pool is busy with
 * requests (all connections taken, more waiting) still answers its load balancer at once, and
 * is not taken out for being busy. It is opened on the first check, kept, and dropped and
 * reopened when it fails or stops answering (a restarted server, a killed backend, a network
 * that dropped it). On embedded PGlite there is one connection for everything: the checks use it.
 */
export function readinessConnection(dataSource: DataSource): ReadinessConnection {
  const url = (dataSource.options as { url?: string }).url;
  if (embeddedPGliteOf(dataSource) || !url) return { query: rawQuery(dataSource), close: async () => undefined };

  let client: Client | null = null;
  let connecting: Promise<Client> | null = null;
  const drop = (broken: Client) => {
    if (client === broken) client = null;
    broken.end().catch(() => undefined);
  };
  const open = (): Promise<Client> =>
    (connecting ??= (async () => {
      const fresh = new Client({
        connectionString: url,
        application_name: "admit-readiness",
        connectionTimeoutMillis: READINESS_TIMEOUT_MS,
        query_timeout: READINESS_TIMEOUT_MS,
        statement_timeout: READINESS_TIMEOUT_MS,
        keepAlive: true,
      });
      fresh.on("error", () => drop(fresh));
      try {
        await fresh.connect();
      } catch (error) {
        fresh.end().catch(() => undefined);
        throw error;
      }
      client = fresh;
      return fresh;
    })().finally(() => (connecting = null)));

  const run = async <T>(sql: string, params: unknown[]): Promise<T[]> => {
    // The check's own connection answering says little if the requests' pool is gone (closed
    // at shutdown, or never reopened): this node cannot serve, whatever the server says.
    if (!dataSource.isInitialized) throw new Error("the database pool is closed");
    const reused = client;
    const current = reused ?? (await open());
    try {
      return (await current.query(sql, params)).rows as T[];
    } catch (error) {
      drop(current);
      // A kept connection that died while idle (a killed backend): one more try on a new one.
      const code = (error as { code?: unknown }).code;
      if (reused && (typeof code !== "string" || /^(08|57P)/.test(code))) {
        const fresh = await open();
        try {
          return (await fresh.query(sql, params)).rows as T[];
        } catch (retryError) {
          drop(fresh);
          throw retryError;
        }
      }
      throw error;
    }
  };

  return {
    query: <T>(sql: string, params: unknown[] = []) => run<T>(sql, params),
    close: async () => {
      const last = client;
      client = null;
      await last?.end().catch(() => undefined);
    },
  };
}
