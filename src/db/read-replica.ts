import { Pool } from "pg";
import type { DataSource } from "typeorm";
import type { Logger } from "pino";
import { DatabaseTimeouts, poolOptions } from "./pool";

/** A plain read: the statement's rows. */
export type SqlReader = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;

/** Where one request's analytics reads go, and how fresh what they see is at least. */
export interface AnalyticsRead {
  readonly reader: SqlReader;
  readonly source: "replica" | "primary";
  /**
   * Every change committed on the primary before this instant is in what the reads see (a lower
   * bound: the primary's reads may see later ones too). On the replica it is decided by the probe
   * (see ReadRouter); on the primary it is the instant the request's first read began.
   */
  asOf(): Date;
}

export interface ReadReplicaSettings {
  /** DATABASE_READ_URL. */
  readonly url: string;
  /** READ_REPLICA_MAX_LAG_MS: past this lag, reads go to the primary. */
  readonly maxLagMs: number;
  /** READ_REPLICA_RETRY_MS: after a failure, the replica is left alone this long. */
  readonly retryAfterMs: number;
}

export const DEFAULT_READ_REPLICA_MAX_LAG_MS = 5_000;
export const DEFAULT_READ_REPLICA_RETRY_MS = 5_000;
/** The probe (connecting included) gives up after this long: the request then reads the primary. */
const PROBE_TIMEOUT_MS = 1_000;
/** The pool of the replica: analytics only, so smaller than the primary's. */
const REPLICA_POOL_SIZE = 5;

/**
 * The replica's freshness in one statement.
 *
 * - `caught_up`: it has replayed all the WAL it received (receive LSN ≤ replay LSN) and its WAL
 *   receiver is streaming: it is behind the primary only by the WAL in flight. Its lag is 0 and
 *   its asOf its statement time, however old its last replayed transaction is: an idle primary
 *   writes nothing, so a caught-up replica's last replayed commit may be hours old.
 * - otherwise it has WAL left to replay (or lost its primary): the lag is the age of the last
 *   transaction it replayed, and asOf that commit's time (nothing later has been replayed; the
 *   next commit, still to be replayed, is later).
 *
 * Not a promoted replica or a primary given by mistake: `standby` must be true.
 */
const PROBE_SQL = `SELECT pg_is_in_recovery() AS standby,
       COALESCE(pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn(), false)
         AND COALESCE((SELECT status = 'streaming' FROM pg_stat_wal_receiver), false) AS caught_up,
       pg_last_xact_replay_timestamp() AS replayed_at,
       statement_timestamp() AS now`;

interface ProbeRow {
  standby: boolean;
  caught_up: boolean;
  replayed_at: Date | null;
  now: Date;
}

/** lagMs null: nothing replayed yet and WAL waiting, so no way to tell. */
type Probe = { kind: "standby"; asOf: Date | null; lagMs: number | null } | { kind: "not-standby" };

/** Errors that say the replica (not the statement) is the problem: read the primary instead. */
function replicaTrouble(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    // Connection exceptions, operator intervention (shutdown, recovery conflicts), a server that
    // cannot take more connections or is starting up, and serialization failures from recovery.
    return /^(08|57P|53|40001)/.test(code);
  }
  // Refused, reset or timed out before PostgreSQL said anything.
  return error instanceof Error;
}

/**
 * Decides, per request, whether analytics read the replica (DATABASE_READ_URL) or the primary:
 * the replica while it answers and lags at most `maxLagMs`; the primary otherwise. A replica that
 * fails (refused, timed out, shutting down) is not tried again for `retryAfterMs` (a circuit
 * breaker): while it is down, requests do not each wait for it. One probe runs at a time; requests
 * arriving meanwhile share it.
 */
export class ReadRouter {
  private readonly pool: Pool | null;
  private downUntil = 0;
  private probing: Promise<Probe> | null = null;
  private lastState: string | null = null;

  constructor(
    private readonly primary: DataSource,
    private readonly settings: ReadReplicaSettings | null,
    timeouts: DatabaseTimeouts,
    private readonly log: Logger,
  ) {
    this.pool = settings
      ? new Pool({
          connectionString: settings.url,
          max: REPLICA_POOL_SIZE,
          application_name: "admit-read",
          ...poolOptions({ ...timeouts, connectMs: Math.min(timeouts.connectMs, PROBE_TIMEOUT_MS) }),
        })
      : null;
    // An idle connection lost (replica restarted): the pool drops it and the next read reconnects.
    this.pool?.on("error", (error) => this.log.warn({ err: error }, "read replica connection lost"));
  }

  /** The primary, as a reader (through TypeORM, so its logger sees the statements). */
  private readonly primaryReader: SqlReader = <T>(sql: string, params?: unknown[]) =>
    this.primary.query<T[]>(sql, params);

  /** Where a request's analytics read; asked once per request (the loaders keep the answer). */
  async choose(): Promise<AnalyticsRead> {
    if (!this.pool || Date.now() < this.downUntil) return this.onPrimary();
    let probe: Probe;
    try {
      probe = await (this.probing ??= this.probe().finally(() => (this.probing = null)));
    } catch (error) {
      this.trip(error);
      return this.onPrimary();
    }
    if (probe.kind === "not-standby") {
      this.note(
        "not-standby",
        "warn",
        {},
        "DATABASE_READ_URL is not a standby (promoted?): analytics read the primary",
      );
      this.downUntil = Date.now() + this.settings!.retryAfterMs;
      return this.onPrimary();
    }
    if (probe.lagMs === null || probe.asOf === null || probe.lagMs > this.settings!.maxLagMs) {
      this.note(
        "lagging",
        "warn",
        { lagMs: probe.lagMs, maxLagMs: this.settings!.maxLagMs },
        "the read replica lags: analytics read the primary",
      );
      return this.onPrimary();
    }
    this.note("replica", "info", { lagMs: probe.lagMs }, "analytics read the replica");
    const asOf = probe.asOf;
    return { source: "replica", reader: this.replicaReader(), asOf: () => asOf };
  }

  /** Closes the replica's pool. */
  async close(): Promise<void> {
    await this.pool?.end();
  }

  private onPrimary(): AnalyticsRead {
    let startedAt: Date | null = null;
    const start = () => (startedAt ??= new Date());
    return {
      source: "primary",
      reader: <T>(sql: string, params?: unknown[]) => {
        start();
        return this.primaryReader<T>(sql, params);
      },
      asOf: start,
    };
  }

  /** Statements on the replica; one that fails for the replica's sake trips the breaker and runs on the primary. */
  private replicaReader(): SqlReader {
    return async <T>(sql: string, params?: unknown[]) => {
      try {
        return (await this.pool!.query<T & object>(sql, params)).rows;
      } catch (error) {
        if (!replicaTrouble(error)) throw error;
        this.trip(error);
        // The primary has at least what the replica had: asOf stays a lower bound.
        return this.primaryReader<T>(sql, params);
      }
    };
  }

  private async probe(): Promise<Probe> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the read replica did not answer in time")), PROBE_TIMEOUT_MS);
    });
    try {
      const { rows } = await Promise.race([this.pool!.query<ProbeRow>(PROBE_SQL), timeout]);
      const row = rows[0];
      if (!row.standby) return { kind: "not-standby" };
      if (row.caught_up) return { kind: "standby", asOf: row.now, lagMs: 0 };
      if (!row.replayed_at) return { kind: "standby", asOf: null, lagMs: null };
      return {
        kind: "standby",
        asOf: row.replayed_at,
        lagMs: Math.max(0, row.now.getTime() - row.replayed_at.getTime()),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  private trip(error: unknown): void {
    this.downUntil = Date.now() + this.settings!.retryAfterMs;
    this.note(
      "down",
      "warn",
      { err: error, retryAfterMs: this.settings!.retryAfterMs },
      "the read replica does not answer: analytics read the primary",
    );
  }

  /** Logs when the state changes, not on every request. */
  private note(state: string, level: "info" | "warn", fields: object, message: string): void {
    if (this.lastState === state) return;
    this.lastState = state;
    this.log[level](fields, message);
  }
}
