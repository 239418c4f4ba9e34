import type { DataSource } from "typeorm";
import type { Logger } from "pino";
import { Webhook } from "standardwebhooks";
import type { Clock } from "../../clock";
import type { KeyEncryption } from "../../auth/key-encryption";
import type { JwksAddressPolicy } from "../../auth/external-tokens";
import type { ChangeFeed } from "../../db/change-feed";
import { rawQuery, RawQuery } from "../../db/raw";
import { postWebhook, PostOutcome } from "./webhook.http";
import {
  CLAIM,
  DISABLE_FAILING,
  ENDPOINT_FAILED,
  ENDPOINT_SUCCEEDED,
  FAN_OUT,
  LOAD_CLAIMED,
  MARK_DELIVERED,
  MARK_FAILED,
  messageBody,
} from "./webhook.sql";

/**
 * Seconds to wait after each failed attempt (before jitter): immediately, then 5 s, 5 min, 30 min,
 * 2 h, 5 h, 10 h, 14 h, 20 h, 24 h — ten attempts over about 3 days (75 h). After the last, the
 * delivery is FAILED, and an endpoint that has failed every attempt for that long is disabled.
 */
export const RETRY_SCHEDULE_SECONDS = [5, 300, 1_800, 7_200, 18_000, 36_000, 50_400, 72_000, 86_400] as const;
const SCHEDULE_TOTAL_SECONDS = RETRY_SCHEDULE_SECONDS.reduce((sum, s) => sum + s, 0);
/** Each wait is spread by ±20% so that retries of an endpoint that came back do not arrive in a wave. */
const JITTER = 0.2;
/** A claimed delivery is leased for its POST's timeout and this much more (recording the outcome). */
const LEASE_MARGIN_MS = 30_000;

export interface WebhookWorkerOptions {
  /** A POST is given up after this long (connect, send, answer). */
  timeoutMs: number;
  /** Even without a wake-up, look for due work this often (retries come due without one). */
  pollMs: number;
  /** Deliveries claimed per round. */
  batch: number;
  /** At most this many POSTs in flight per node. */
  concurrency: number;
}

export const DEFAULT_WORKER_OPTIONS: WebhookWorkerOptions = {
  timeoutMs: 10_000,
  pollMs: 1_000,
  batch: 16,
  concurrency: 64,
};

export interface WebhookWorkerDeps {
  dataSource: DataSource;
  clock: Clock;
  log: Logger;
  encryption: KeyEncryption;
  changes: ChangeFeed;
  addresses: JwksAddressPolicy;
  options?: Partial<WebhookWorkerOptions>;
}

interface ClaimedRow {
  id: string;
  attempts: number;
  created_at: Date;
  message_id: string;
  type: string;
  occurred_at: Date;
  data: Record<string, unknown>;
  endpoint_id: string;
  url: string;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | null;
}

/**
 * Sends webhook messages. Every node runs one: it fans out new messages, claims due deliveries
 * (FOR UPDATE SKIP LOCKED and a lease, so two nodes never send the same delivery at once), POSTs
 * them signed per Standard Webhooks, and records the outcome. It runs when the change feed says a
 * message was committed (on any node), when this node makes one, and every pollMs; a round never
 * overlaps another on the same node, and POSTs go on beside later rounds (at most `concurrency` at
 * once). No transaction is held during a POST.
 */
export class WebhookDeliveryWorker {
  private readonly sql: RawQuery;
  private readonly options: WebhookWorkerOptions;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private again = false;
  private started = false;

  constructor(private readonly deps: WebhookWorkerDeps) {
    this.sql = rawQuery(deps.dataSource);
    this.options = { ...DEFAULT_WORKER_OPTIONS, ...deps.options };
    deps.changes.on("webhook", () => this.wake());
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.timer = setInterval(() => this.wake(), this.options.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops polling and waits for the round and the POSTs in flight (they finish or time out). */
  async stop(): Promise<void> {
    this.started = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
    await Promise.all([...this.inFlight]);
  }

  /** Runs a round soon (or another one after the round in flight). Only while started. */
  wake(): void {
    if (!this.started) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = null));
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      try {
        const room = Math.min(this.options.batch, this.options.concurrency - this.inFlight.size);
        if (room <= 0) return; // a POST finishing wakes the worker again
        const rows = await this.claimRound(room);
        // Sent without waiting: one slow endpoint must not hold up the others' deliveries.
        for (const row of rows) {
          const sending = this.deliver(row)
            .catch((error) => this.deps.log.warn({ err: error }, "webhook delivery could not be recorded"))
            .finally(() => {
              this.inFlight.delete(sending);
              this.wake();
            });
          this.inFlight.add(sending);
        }
        // A full round means more may be due: go on at once.
        if (rows.length === room) this.again = true;
      } catch (error) {
        this.deps.log.warn({ err: error }, "webhook delivery round failed");
      }
    } while (this.again && this.started);
  }

  /** Fans out new messages, then claims (leases) up to `limit` due deliveries and loads them. */
  private async claimRound(limit: number): Promise<ClaimedRow[]> {
    const now = this.deps.clock.now();
    await this.sql(FAN_OUT, [now, 500]);
    const leaseEnd = new Date(now.getTime() + this.options.timeoutMs + LEASE_MARGIN_MS);
    const claimed = await this.sql<{ id: string }>(CLAIM, [now, leaseEnd, limit]);
    if (claimed.length === 0) return [];
    return this.sql<ClaimedRow>(LOAD_CLAIMED, [claimed.map((c) => c.id)]);
  }

  /**
   * One round, waiting for its POSTs: fan out, claim, send, record. Returns how many deliveries
   * were attempted. Tests call it (or drain) directly, with the worker not started, to step
   * through retries.
   */
  async runOnce(): Promise<number> {
    const rows = await this.claimRound(this.options.batch);
    await Promise.all(rows.map((row) => this.deliver(row)));
    return rows.length;
  }

  /** Rounds until nothing is due now (bounded): for tests and for a graceful stop. */
  async drain(maxRounds = 100): Promise<number> {
    let total = 0;
    for (let round = 0; round < maxRounds; round++) {
      const sent = await this.runOnce();
      if (sent === 0) break;
      total += sent;
    }
    return total;
  }

  private async deliver(row: ClaimedRow): Promise<void> {
    const body = messageBody(row.type, row.occurred_at, row.data);
    let outcome: PostOutcome;
    try {
      outcome = await postWebhook(row.url, this.headers(row, body), body, {
        timeoutMs: this.options.timeoutMs,
        policy: this.deps.addresses,
      });
    } catch (error) {
      outcome = { error: error instanceof Error ? error.message.slice(0, 300) : "the request failed" };
    }
    const now = this.deps.clock.now();
    if ("status" in outcome && outcome.status >= 200 && outcome.status < 300) {
      await this.sql(MARK_DELIVERED, [row.id, now, outcome.status]);
      await this.sql(ENDPOINT_SUCCEEDED, [row.endpoint_id]);
      return;
    }
    const code = "status" in outcome ? outcome.status : null;
    const error = "error" in outcome ? outcome.error : null;
    const wait = RETRY_SCHEDULE_SECONDS[row.attempts - 1];
    const next =
      wait === undefined ? null : new Date(now.getTime() + wait * 1000 * (1 - JITTER + Math.random() * 2 * JITTER));
    await this.sql(MARK_FAILED, [row.id, code, error, next]);
    const [endpoint] = await this.sql<{ failing_since: Date }>(ENDPOINT_FAILED, [row.endpoint_id, now]);
    if (next === null && endpoint) {
      // Given up: the endpoint is disabled when nothing has reached it for (most of) the schedule.
      const since = new Date(now.getTime() - SCHEDULE_TOTAL_SECONDS * 1000 * (1 - JITTER));
      const reason = `Every delivery attempt failed for ${Math.round(SCHEDULE_TOTAL_SECONDS / 3600)} hours (last: ${code !== null ? `HTTP ${code}` : error}).`;
      const disabled = await this.sql(`${DISABLE_FAILING} RETURNING id`, [
        row.endpoint_id,
        now,
        reason.slice(0, 500),
        since,
      ]);
      if (disabled.length > 0)
        this.deps.log.warn({ endpointId: row.endpoint_id }, "webhook endpoint disabled: failing for about 3 days");
    }
  }

  /**
   * Standard Webhooks headers. The timestamp is the wall clock: receivers compare it with theirs
   * to refuse replays. During a rotation's grace period both secrets sign (space-separated).
   */
  private headers(row: ClaimedRow, body: string): Record<string, string> {
    const at = new Date();
    const secrets = [this.deps.encryption.decrypt(row.secret_encrypted, row.endpoint_id)];
    if (
      row.previous_secret_encrypted &&
      row.previous_secret_expires_at &&
      row.previous_secret_expires_at > this.deps.clock.now()
    ) {
      secrets.push(this.deps.encryption.decrypt(row.previous_secret_encrypted, row.endpoint_id));
    }
    const signature = secrets.map((secret) => new Webhook(secret).sign(row.message_id, at, body)).join(" ");
    return {
      "content-type": "application/json",
      "user-agent": "Admit-Webhooks/1",
      "webhook-id": row.message_id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": signature,
    };
  }
}
