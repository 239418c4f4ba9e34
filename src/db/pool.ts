import { Client } from "pg";
import type { QueryRunner } from "typeorm";

/** How long the pool waits on PostgreSQL before giving up. 0 turns a limit off. */
export interface DatabaseTimeouts {
  /**
   * Server side: a statement running longer is cancelled (`statement_timeout`), and a transaction
   * left idle longer is ended, releasing its locks (`idle_in_transaction_session_timeout`).
   */
  readonly statementMs: number;
  /**
   * Client side: a query whose answer has not come back after this long fails and its connection
   * is dropped. Longer than statementMs, so a slow statement is cancelled by the server (and its
   * connection kept) first: this limit is for a connection that stopped answering.
   */
  readonly queryMs: number;
  /** Opening a connection, or waiting for a free one in the pool. */
  readonly connectMs: number;
}

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = Object.freeze({
  statementMs: 15_000,
  queryMs: 20_000,
  connectMs: 5_000,
});

/** For bulk work (the analytics seeding script): statements may run for minutes. */
export const BULK_DATABASE_TIMEOUTS: DatabaseTimeouts = Object.freeze({ statementMs: 0, queryMs: 0, connectMs: 5_000 });

/** TCP keep-alive probes start after this long idle, so a peer that vanished is noticed by the OS. */
const KEEP_ALIVE_DELAY_MS = 10_000;

/** pg's message for a query_timeout that fired. */
const READ_TIMEOUT = "Query read timeout";

type QueryTimeoutSetting = { query_timeout?: number | false };

/**
 * A pg client that drops its connection when a query's answer has not come back within
 * query_timeout. pg fails such a query but keeps the connection, still waiting for that answer:
 * returned to the pool it would hang or fail every query given to it, which is how a network that
 * silently stopped forwarding kept a node down until it was restarted. Ended, it is removed from
 * the pool when released (pg-pool drops a client that is ending), and the pool opens a new one.
 */
export class SelfDroppingClient extends Client {
  // pg's query() has many overloads (text or config, callback or promise): one wrapper serves all,
  // leaving the arguments and the result as they are.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- as untyped as the overloads it stands for
  override query(...args: any[]): any {
    const last = args.length - 1;
    const callback: unknown = args[last];
    if (typeof callback === "function") {
      args[last] = (error: unknown, result: unknown) => {
        this.dropAfter(error);
        (callback as (error: unknown, result: unknown) => void)(error, result);
      };
      return super.query(...(args as Parameters<Client["query"]>));
    }
    const result: unknown = super.query(...(args as Parameters<Client["query"]>));
    if (!(result instanceof Promise)) return result;
    return result.catch((error: unknown) => {
      this.dropAfter(error);
      throw error;
    });
  }

  private dropAfter(error: unknown): void {
    if (error instanceof Error && error.message === READ_TIMEOUT) this.end().catch(() => undefined);
  }

  /**
   * Runs `work` without the read timeout on this connection (migrations: a statement may run for
   * minutes), then puts it back.
   */
  async withoutReadTimeout<T>(work: () => Promise<T>): Promise<T> {
    const parameters = (this as unknown as { connectionParameters: QueryTimeoutSetting }).connectionParameters;
    const saved = parameters.query_timeout;
    parameters.query_timeout = false;
    try {
      return await work();
    } finally {
      parameters.query_timeout = saved;
    }
  }
}

/** The pg Pool options (typeorm's `extra`) that carry the timeouts and keep-alive. */
export function poolOptions(timeouts: DatabaseTimeouts): Record<string, unknown> {
  return {
    Client: SelfDroppingClient,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: timeouts.connectMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEP_ALIVE_DELAY_MS,
    // Sent in the startup packet: no extra round trip per connection.
    ...(timeouts.statementMs > 0
      ? { statement_timeout: timeouts.statementMs, idle_in_transaction_session_timeout: timeouts.statementMs }
      : {}),
    ...(timeouts.queryMs > 0 ? { query_timeout: timeouts.queryMs } : {}),
  };
}

/**
 * Runs `work` on the runner's connection with no statement, idle-transaction or read limit, then
 * puts the connection's own limits back before it returns to the pool. On embedded PGlite, or a
 * pool of plain clients, it just runs `work`.
 */
export async function withoutTimeouts<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  const client = (runner as unknown as { databaseConnection?: unknown }).databaseConnection;
  if (!(client instanceof SelfDroppingClient)) return work();
  await runner.query("SET statement_timeout = 0");
  await runner.query("SET idle_in_transaction_session_timeout = 0");
  try {
    return await client.withoutReadTimeout(work);
  } finally {
    // Back to the values the connection opened with.
    await runner.query("RESET statement_timeout");
    await runner.query("RESET idle_in_transaction_session_timeout");
  }
}
