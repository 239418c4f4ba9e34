import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import { Client } from "pg";
import type { DataSource, EntityManager } from "typeorm";
import type { Logger } from "pino";
import { embeddedPGliteOf } from "./database";

/**
 * What a node caches on its hot paths and must drop the moment another node changes it. Each
 * topic's payload names the changed thing by the id its cache is keyed by.
 */
export type ChangeTopic =
  /** An API key was revoked; the payload is its lookup (the public part of the secret). */
  | "api_key"
  /** An event's row changed (slug, times, settings); the payload is its id. */
  | "event"
  /** A company's settings changed; the payload is its id. */
  | "company"
  /** A company's signing keys were rotated; the payload is its id. */
  | "signing_key"
  /** A jti was revoked or a user's tokens were cut off; the payload is RevocationView's. */
  | "revocation"
  /** Webhook messages were committed (written by row triggers): delivery workers look for work. */
  | "webhook"
  /**
   * A session ended, or changed role or ejection time (a row trigger); the payload is
   * "<event id>/<session id>". Heartbeats that change nothing of these, and joins, announce nothing.
   */
  | "session"
  /** A knock was made or decided (a row trigger); the payload is "<event id>/<join request id>". */
  | "join_request"
  /** An event's organizer or presenter lists changed (a row trigger); the payload is the event's id. */
  | "event_principals";

const CHANNEL = "admit_changes";
/** The application_name of every node's listening connection (pg_stat_activity shows it). */
export const FEED_APPLICATION_NAME = "admit-change-feed";
const TOPICS: ReadonlySet<string> = new Set<ChangeTopic>([
  "api_key",
  "event",
  "company",
  "signing_key",
  "revocation",
  "webhook",
  "session",
  "join_request",
  "event_principals",
]);
const RECONNECT_MIN_MS = 250;
const RECONNECT_MAX_MS = 10_000;
/**
 * A listening connection can die without closing (a half-open TCP connection): the node would
 * think itself live and miss changes. It notifies itself this often and drops the connection when
 * its own notification has not come back within the same time.
 */
const SELF_CHECK_MS = 5_000;
/** How long createApp waits for the first LISTEN before serving without caches. */
const FIRST_CONNECT_WAIT_MS = 3_000;

/**
 * Changes announced by any node, through PostgreSQL's LISTEN/NOTIFY. A change is announced inside
 * the transaction that makes it (`announce`), so it is delivered to every node, this one included,
 * exactly when it commits, and never when it rolls back.
 *
 * Caches that take the feed as their rule (NodeCache's `onlyWhileLive`) serve hits only while it
 * is `live`: from the moment this node LISTENs until its listening connection drops. Whatever was
 * announced while a node was not listening is therefore never missed: its caches were emptied when
 * the connection dropped and are bypassed until it is back.
 */
export interface ChangeFeed {
  readonly live: boolean;
  /** Calls `listener` with the payload of every change of `topic` that reaches this node. */
  on(topic: ChangeTopic, listener: (id: string) => void): void;
  /**
   * Calls `listener` whenever the feed stops being live, and again just before it is live again:
   * every cache must forget everything (and not store a load begun before).
   */
  onReset(listener: () => void): void;
  /** Resolves once the feed is live, or after `timeoutMs` (whichever is first). */
  whenLive(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

/** Announces a change inside the caller's transaction; delivered to every node when it commits. */
export async function announce(manager: EntityManager, topic: ChangeTopic, id: string): Promise<void> {
  await manager.query("SELECT pg_notify($1, $2)", [CHANNEL, `${topic}:${id}`]);
}

abstract class BaseFeed implements ChangeFeed {
  protected readonly emitter = new EventEmitter();
  protected isLive = false;
  protected closed = false;

  constructor(protected readonly log: Logger) {
    // One listener per cache and topic; a node has a handful.
    this.emitter.setMaxListeners(100);
  }

  get live(): boolean {
    return this.isLive;
  }

  on(topic: ChangeTopic, listener: (id: string) => void): void {
    this.emitter.on(`change:${topic}`, listener);
  }

  onReset(listener: () => void): void {
    this.emitter.on("reset", listener);
  }

  whenLive(timeoutMs = FIRST_CONNECT_WAIT_MS): Promise<boolean> {
    if (this.isLive) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.emitter.off("live", onLive);
        resolve(this.isLive);
      }, timeoutMs);
      timer.unref();
      const onLive = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.emitter.once("live", onLive);
    });
  }

  protected deliver(payload: string | undefined): void {
    if (!payload) return;
    if (payload.startsWith("ping:")) return this.heard(payload);
    const colon = payload.indexOf(":");
    const topic = payload.slice(0, colon);
    if (colon < 0 || !TOPICS.has(topic)) return;
    this.emitter.emit(`change:${topic}`, payload.slice(colon + 1));
  }

  protected goLive(): void {
    // A load that began while nothing was heard may have read a row changed meanwhile: caches
    // forget what they had and refuse to store loads begun before this moment.
    this.emitter.emit("reset");
    this.isLive = true;
    this.emitter.emit("live");
  }

  /** A self-check notification came back (only the server feed sends them). */
  protected heard(_payload: string): void {}

  protected reset(): void {
    this.isLive = false;
    this.emitter.emit("reset");
  }

  abstract close(): Promise<void>;
}

/**
 * On a PostgreSQL server: one dedicated connection (outside the pool) that LISTENs, reconnecting
 * with backoff when it drops.
 */
class PostgresChangeFeed extends BaseFeed {
  private client: Client | null = null;
  private retryMs = RECONNECT_MIN_MS;
  private retryTimer: NodeJS.Timeout | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  /** The self-check notification on its way, and what to do if it does not come back. */
  private awaited: { nonce: string; deadline: NodeJS.Timeout } | null = null;

  constructor(
    private readonly connectionString: string,
    log: Logger,
  ) {
    super(log);
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    // Named, so that an operator (or a test) can tell it from the pool's connections.
    const client = new Client({
      connectionString: this.connectionString,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: FEED_APPLICATION_NAME,
    });
    let gone = false;
    const lost = (error?: unknown) => {
      if (gone) return;
      gone = true;
      if (this.client === client) this.client = null;
      this.stopSelfCheck();
      const wasLive = this.isLive;
      this.reset();
      client.end().catch(() => undefined);
      if (this.closed) return;
      if (wasLive)
        this.log.warn({ err: error }, "change feed lost its connection: caches are bypassed until it is back");
      this.retryTimer = setTimeout(() => void this.connect(), this.retryMs);
      this.retryTimer.unref();
      this.retryMs = Math.min(this.retryMs * 2, RECONNECT_MAX_MS);
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (message) => {
      if (message.channel === CHANNEL) this.deliver(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      lost(error);
      return;
    }
    if (gone) return;
    if (this.closed) {
      gone = true;
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.retryMs = RECONNECT_MIN_MS;
    this.goLive();
    this.startSelfCheck(client, lost);
  }

  private startSelfCheck(client: Client, lost: (error?: unknown) => void): void {
    this.checkTimer = setInterval(() => {
      if (this.awaited) return;
      const nonce = randomUUID();
      const deadline = setTimeout(
        () => lost(new Error("the change feed's own notification did not come back")),
        SELF_CHECK_MS,
      );
      deadline.unref();
      this.awaited = { nonce, deadline };
      client.query("SELECT pg_notify($1, $2)", [CHANNEL, `ping:${nonce}`]).catch(lost);
    }, SELF_CHECK_MS);
    this.checkTimer.unref();
  }

  protected override heard(payload: string): void {
    if (this.awaited && payload === `ping:${this.awaited.nonce}`) {
      clearTimeout(this.awaited.deadline);
      this.awaited = null;
    }
  }

  private stopSelfCheck(): void {
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.checkTimer = null;
    if (this.awaited) clearTimeout(this.awaited.deadline);
    this.awaited = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.stopSelfCheck();
    this.reset();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}

/**
 * On embedded PGlite: its one connection LISTENs (through the data source, so it waits its turn
 * behind any open transaction) and PGlite hands notifications to a callback. It cannot drop.
 */
class PGliteChangeFeed extends BaseFeed {
  private unsubscribe: (() => void) | null = null;

  constructor(dataSource: DataSource, pglite: NonNullable<ReturnType<typeof embeddedPGliteOf>>, log: Logger) {
    super(log);
    this.unsubscribe = pglite.onNotification((channel, payload) => {
      if (channel === CHANNEL) this.deliver(payload);
    });
    dataSource.query(`LISTEN ${CHANNEL}`).then(
      () => (this.closed ? undefined : this.goLive()),
      (error: unknown) => this.log.warn({ err: error }, "change feed could not LISTEN: caches stay off"),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reset();
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}

/**
 * The change feed of a data source: PGlite's own, or a listening connection to the server, made
 * to `directUrl` when given (a LISTEN through a transaction-mode pooler hears nothing).
 */
export function openChangeFeed(dataSource: DataSource, log: Logger, directUrl: string | null = null): ChangeFeed {
  const pglite = embeddedPGliteOf(dataSource);
  if (pglite) return new PGliteChangeFeed(dataSource, pglite, log);
  const url = directUrl ?? (dataSource.options as { url?: string }).url;
  if (!url) throw new Error("The change feed needs the data source's connection URL.");
  return new PostgresChangeFeed(url, log);
}
