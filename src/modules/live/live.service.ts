import { DataSource } from "typeorm";
import { decodeJwt } from "jose";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import type { ChangeFeed } from "../../db/change-feed";
import type { ReadRouter } from "../../db/read-replica";
import { newAccessState, type AccessState } from "../../graphql/access";
import type { RequestContext } from "../../request-context";
import { createLoaders, type Loaders } from "../../graphql/loaders";
import type { CompanyService } from "../company/company.service";
import { EventPrincipalEntity } from "../event/event-principal.entity";
import type { EventService } from "../event/event.service";
import { normalizeGrant, resolveRole } from "../session/role";
import type { SessionService } from "../session/session.service";
import { EventWatch, JOIN_POLL_MS } from "./event-watch";
import { SessionWatch } from "./session-watch";

export interface LiveServiceDeps {
  dataSource: DataSource;
  reads: ReadRouter;
  clock: Clock;
  log: Logger;
  changes: ChangeFeed;
  sessions: SessionService;
  companies: CompanyService;
  events: EventService;
}

/** How long a node waits for its change feed at a time before looking again (it may be closing). */
const FEED_WAIT_MS = 5_000;

/** Adds `value` to the set of `key`, making the set. */
function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}

/** The session and event a session token names, unverified: only where to listen. */
function peekClaims(token: string): { sessionId: string; eventId: string } {
  try {
    const payload = decodeJwt(token);
    return { sessionId: payload.sub ?? "", eventId: typeof payload.evt === "string" ? payload.evt : "" };
  } catch {
    return { sessionId: "", eventId: "" };
  }
}

/**
 * This node's live subscriptions (sessionUpdates, eventLive) and what wakes them: the change
 * feed's notifications, which carry ids only, from whichever node made the change. A watch
 * reads its state itself when woken. When this node's feed drops, changes may be missed until
 * it is back: every watch then sends a snapshot.
 */
export class LiveService {
  private readonly bySession = new Map<string, Set<SessionWatch>>();
  private readonly sessionsByEvent = new Map<string, Set<SessionWatch>>();
  private readonly eventWatches = new Map<string, Set<EventWatch>>();
  private waitingForFeed = false;
  private stopped = false;

  constructor(private readonly deps: LiveServiceDeps) {
    const { changes } = deps;
    changes.on("session", (payload) => {
      const [eventId, sessionId] = payload.split("/");
      for (const watch of this.bySession.get(sessionId) ?? []) watch.changed();
      for (const watch of this.eventWatches.get(eventId) ?? []) watch.sessionChanged(sessionId);
    });
    changes.on("join_request", (payload) => {
      const [eventId, id] = payload.split("/");
      for (const watch of this.eventWatches.get(eventId) ?? []) watch.joinRequestChanged(id);
    });
    changes.on("event_principals", (eventId) => {
      for (const watch of this.eventWatches.get(eventId) ?? []) watch.accessMayHaveChanged();
      if (this.sessionsByEvent.has(eventId)) void this.rolesMayHaveChanged(eventId);
    });
    changes.on("api_key", () => {
      for (const watches of this.eventWatches.values())
        for (const watch of watches) if (watch.principal.kind === "apiKey") watch.accessMayHaveChanged();
    });
    changes.onReset(() => void this.resnapshotWhenLive());
  }

  /** How many subscriptions this node serves. */
  get size(): number {
    let n = 0;
    for (const set of this.bySession.values()) n += set.size;
    for (const set of this.eventWatches.values()) n += set.size;
    return n;
  }

  /**
   * sessionUpdates: the session's state now (a heartbeat: the token is verified exactly as
   * heartbeat verifies it, and an AppError refuses the subscription), then every change.
   */
  async watchSession(sessionToken: string, log: Logger): Promise<SessionWatch> {
    const watch = new SessionWatch(this.deps.sessions, sessionToken, log, () => {
      removeFrom(this.bySession, watch.sessionId, watch);
      removeFrom(this.sessionsByEvent, watch.eventId, watch);
    });
    // Listening starts before the first read, so a change committed meanwhile is read again. The
    // ids are the token's own claims, unverified until the first read verifies them (a refusal
    // forgets the watch).
    const claims = peekClaims(sessionToken);
    watch.sessionId = claims.sessionId;
    watch.eventId = claims.eventId;
    addTo(this.bySession, watch.sessionId, watch);
    addTo(this.sessionsByEvent, watch.eventId, watch);
    try {
      await watch.first();
    } catch (error) {
      watch.finish();
      throw error;
    }
    return watch;
  }

  /** eventLive: a snapshot of the event's room for an organizer or an API key, then every change. */
  async watchEvent(ctx: RequestContext, bearer: string | null, eventId: string): Promise<EventWatch> {
    const { dataSource, clock, sessions, companies, events } = this.deps;
    const lookForJoins = setInterval(() => void watch.lookForJoins(), JOIN_POLL_MS);
    lookForJoins.unref();
    const watch = new EventWatch(
      { dataSource, clock, sessions, companies, events },
      ctx,
      bearer,
      eventId,
      ctx.log,
      () => {
        clearInterval(lookForJoins);
        removeFrom(this.eventWatches, eventId, watch);
      },
    );
    // Registered before the snapshot is read: a change that commits meanwhile is read again.
    addTo(this.eventWatches, eventId, watch);
    try {
      await watch.first();
    } catch (error) {
      watch.finish();
      throw error;
    }
    return watch;
  }

  /** Before each message: the rules and loaders of a request that starts now, not of the subscription's start. */
  freshRequest(ctx: { access: AccessState; loaders: Loaders }): void {
    ctx.access = newAccessState();
    ctx.loaders = this.newLoaders();
  }

  /** A subscription's own DataLoaders (replaced before each message). */
  newLoaders(): Loaders {
    return createLoaders(this.deps.dataSource, this.deps.reads);
  }

  /**
   * The event's lists changed: the sessions watched here whose role the lists now resolve
   * differently (one read of the lists and of those sessions' users) are woken; their heartbeat
   * writes and pushes the new role. The others are left alone.
   */
  private async rolesMayHaveChanged(eventId: string): Promise<void> {
    const watches = [...(this.sessionsByEvent.get(eventId) ?? [])];
    if (watches.length === 0) return;
    try {
      const manager = this.deps.dataSource.manager;
      const [principals, rows] = await Promise.all([
        manager.findBy(EventPrincipalEntity, { eventId }),
        manager.query<
          { id: string; role_grant: string | null; external_id: string | null; email_normalized: string | null }[]
        >(
          `SELECT s.id, s.role_grant, u.external_id, u.email_normalized FROM sessions s JOIN users u ON u.id = s.user_id
            WHERE s.id = ANY($1::uuid[]) AND s.ended_at IS NULL`,
          [watches.map((w) => w.sessionId)],
        ),
      ]);
      const roleOf = new Map(
        rows.map((r) => [
          r.id,
          resolveRole(
            principals,
            { externalId: r.external_id, emailNormalized: r.email_normalized },
            normalizeGrant(r.role_grant),
          ).role,
        ]),
      );
      for (const watch of watches) {
        const role = roleOf.get(watch.sessionId);
        if (role !== undefined && role !== watch.role) watch.changed();
      }
    } catch (error) {
      this.deps.log.warn(
        { err: error },
        "live: could not re-resolve roles after a list change; every watch of the event reads its own",
      );
      for (const watch of watches) watch.changed();
    }
  }

  /** The feed dropped (or is back): once it is live again, every watch sends a snapshot. */
  private async resnapshotWhenLive(): Promise<void> {
    if (this.waitingForFeed || this.stopped) return;
    this.waitingForFeed = true;
    try {
      while (!this.stopped && !(await this.deps.changes.whenLive(FEED_WAIT_MS)));
    } finally {
      this.waitingForFeed = false;
    }
    if (this.stopped) return;
    for (const watches of this.bySession.values()) for (const watch of watches) watch.resnapshot();
    for (const watches of this.eventWatches.values()) for (const watch of watches) watch.resnapshot();
  }

  /** Ends every watch (the app is closing); their sockets are closed by the WebSocket server. */
  stop(): void {
    this.stopped = true;
    for (const watches of [...this.bySession.values(), ...this.eventWatches.values()])
      for (const watch of [...watches]) watch.finish();
  }
}
