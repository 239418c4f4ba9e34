import { DataSource, In } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import { organizerCompany, type Principal, type RequestContext } from "../../request-context";
import { AppError, notFound } from "../../errors";
import type { Role } from "../../graphql/enums";
import type { CompanyService } from "../company/company.service";
import type { EventService } from "../event/event.service";
import type { SessionService } from "../session/session.service";
import { JoinRequestEntity } from "../knock/join-request.entity";
import { toJoinRequestType } from "../knock/join-request.service";
import type { LiveParticipantType } from "../session/organizer.types";
import { LiveWatch } from "./live-watch";
import {
  EventLiveUpdateType,
  LIVE_SNAPSHOT_JOIN_REQUESTS,
  LIVE_SNAPSHOT_PARTICIPANTS,
  LiveDepartureType,
} from "./live.types";

export interface EventWatchDeps {
  dataSource: DataSource;
  clock: Clock;
  sessions: SessionService;
  companies: CompanyService;
  events: EventService;
}

interface ParticipantRow {
  id: string;
  event_id: string;
  role: string;
  joined_at: Date;
  ended_at: Date | null;
  end_reason: string | null;
  name: string | null;
  is_guest: boolean;
}

const PARTICIPANT_COLUMNS = "s.id, s.event_id, s.role, s.joined_at, s.ended_at, s.end_reason, u.name, u.is_guest";
/** $1 event, $2 company, $3 how many: the live sessions, oldest join first (as liveEvent lists them). */
const LIVE_SQL = `SELECT ${PARTICIPANT_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE s.event_id = $1 AND s.company_id = $2 AND s.ended_at IS NULL ORDER BY s.joined_at, s.id LIMIT $3`;
const COUNT_SQL =
  "SELECT count(*)::int AS n FROM sessions WHERE event_id = $1 AND company_id = $2 AND ended_at IS NULL";
/** $1 event, $2 company, $3 a time: the sessions that joined after it (the index on event_id, joined_at). */
const JOINED_SQL = "SELECT id FROM sessions WHERE event_id = $1 AND company_id = $2 AND joined_at > $3";
/**
 * New sessions are looked for this often. Joins are not announced on the change feed (see the
 * migration LiveChangeNotices: a notification per join would serialize every join's COMMIT), so
 * eventLive reads them: one indexed statement per watched event and second, nothing on the join.
 */
export const JOIN_POLL_MS = 1_000;
/** How far back each look reaches: covers the time between nodes' clocks and a slow look. */
const JOIN_POLL_WINDOW_MS = 15_000;
/** $1 event, $2 company, $3 session ids: those sessions as they are now. */
const CHANGED_SQL = `SELECT ${PARTICIPANT_COLUMNS} FROM sessions s JOIN users u ON u.id = s.user_id
  WHERE s.event_id = $1 AND s.company_id = $2 AND s.id = ANY($3::uuid[])`;

/**
 * eventLive of one event for one organizer (an ORGANIZER session of the event, or an API key
 * with MANAGE_EVENTS): who is in and who knocks, a snapshot first and then the changes the feed
 * names. The caller's right is checked at subscribe and again when it may have gone (the event's
 * lists changed, the organizer's own session changed, an API key was revoked): gone, the stream
 * ends with FORBIDDEN or UNAUTHENTICATED and the socket closes with 4403 or 4401.
 */
export class EventWatch extends LiveWatch<EventLiveUpdateType> {
  private readonly changedSessions = new Set<string>();
  private readonly changedRequests = new Set<string>();
  private recheck = false;
  /** Sessions already shown as joined, and when they were seen (forgotten after twice the window). */
  private readonly seenJoins = new Map<string, number>();
  private looking = false;
  companyId = "";

  constructor(
    private readonly deps: EventWatchDeps,
    private readonly ctx: RequestContext,
    /** The bearer the connection presented, to authenticate an API key again after a revocation. */
    private readonly bearer: string | null,
    readonly eventId: string,
    log: Logger,
    onFinish: (watch: LiveWatch<EventLiveUpdateType>) => void,
  ) {
    super(log, onFinish);
  }

  get principal(): Principal {
    return this.ctx.principal;
  }

  sessionChanged(sessionId: string): void {
    this.changedSessions.add(sessionId);
    if (this.principal.kind === "session" && this.principal.sessionId === sessionId) this.recheck = true;
    this.changed();
  }

  joinRequestChanged(id: string): void {
    this.changedRequests.add(id);
    this.changed();
  }

  /** Looks for sessions that joined since the last look; new ones are sent as participants. */
  async lookForJoins(): Promise<void> {
    if (this.looking || this.closed || !this.companyId) return;
    this.looking = true;
    try {
      const now = this.deps.clock.now().getTime();
      const rows = await this.deps.dataSource.query<{ id: string }[]>(JOINED_SQL, [
        this.eventId,
        this.companyId,
        new Date(now - JOIN_POLL_WINDOW_MS),
      ]);
      let found = false;
      for (const { id } of rows) {
        if (this.seenJoins.has(id)) continue;
        this.seenJoins.set(id, now);
        this.changedSessions.add(id);
        found = true;
      }
      for (const [id, at] of this.seenJoins) if (at < now - 2 * JOIN_POLL_WINDOW_MS) this.seenJoins.delete(id);
      if (found) this.changed();
    } catch (error) {
      this.log.debug({ err: error }, "eventLive could not look for joins; it looks again");
    } finally {
      this.looking = false;
    }
  }

  /** The caller's right may have changed: checked again before the next message. */
  accessMayHaveChanged(): void {
    this.recheck = true;
    this.changed();
  }

  /** Admits the caller for this event, or throws the AppError that refuses it. */
  async authorize(): Promise<void> {
    const principal = this.principal;
    if (principal.kind === "anonymous" || principal.kind === "invalid") {
      throw new AppError(
        "UNAUTHENTICATED",
        'eventLive needs a company API key or an organizer\'s session token: connection_init { authorization: "Bearer …" }.',
      );
    }
    if (principal.kind === "apiKey" && this.companyId) {
      // Revoked since the connection was made: the key no longer authenticates.
      const again = await this.deps.companies.authenticate(this.bearer);
      if (again.kind !== "apiKey" || again.apiKeyId !== principal.apiKeyId)
        throw new AppError("UNAUTHENTICATED", "This API key was revoked.");
    }
    if (principal.kind === "session" && principal.eventId !== this.eventId) {
      throw new AppError("FORBIDDEN", "This session token is an organizer's of another event.");
    }
    if (principal.kind !== "session" && principal.kind !== "apiKey") {
      throw new AppError("FORBIDDEN", "eventLive answers a company API key or an organizer's session token.");
    }
    // An ORGANIZER session now (resolved from the lists), or a key with MANAGE_EVENTS.
    const companyId = await organizerCompany(this.ctx, (company, session) =>
      this.deps.sessions.liveRoleOf(company, session),
    );
    if (!this.companyId) {
      const event = await this.deps.events.find(companyId, this.eventId);
      if (!event) throw notFound("The event");
    }
    this.companyId = companyId;
  }

  protected async compute(snapshot: boolean): Promise<EventLiveUpdateType | null> {
    if (this.recheck || snapshot) {
      this.recheck = false;
      await this.authorize();
    }
    const sessionIds = [...this.changedSessions];
    const requestIds = [...this.changedRequests];
    this.changedSessions.clear();
    this.changedRequests.clear();
    const now = this.deps.clock.now();
    const query = <R>(sql: string, params: unknown[]) => this.deps.dataSource.query<R[]>(sql, params);
    const update: EventLiveUpdateType = {
      snapshot,
      eventId: this.eventId,
      companyId: this.companyId,
      participantCount: 0,
      participants: [],
      departures: [],
      joinRequests: [],
    };
    if (snapshot) {
      const [live, pending] = await Promise.all([
        query<ParticipantRow>(LIVE_SQL, [this.eventId, this.companyId, LIVE_SNAPSHOT_PARTICIPANTS]),
        this.deps.dataSource.getRepository(JoinRequestEntity).find({
          where: { eventId: this.eventId, companyId: this.companyId, status: "PENDING" },
          order: { createdAt: "ASC", id: "ASC" },
          take: LIVE_SNAPSHOT_JOIN_REQUESTS,
        }),
      ]);
      update.participants = live.map((row) => this.participantOf(row));
      // Shown already: a later look does not announce them again.
      const seenAt = now.getTime();
      for (const row of live) this.seenJoins.set(row.id, seenAt);
      update.joinRequests = pending
        .filter((r) => r.expiresAt.getTime() > now.getTime())
        .map((r) => toJoinRequestType(r, now));
    } else {
      if (sessionIds.length === 0 && requestIds.length === 0) return null;
      const [rows, requests] = await Promise.all([
        sessionIds.length ? query<ParticipantRow>(CHANGED_SQL, [this.eventId, this.companyId, sessionIds]) : [],
        requestIds.length
          ? this.deps.dataSource
              .getRepository(JoinRequestEntity)
              .findBy({ id: In(requestIds), eventId: this.eventId, companyId: this.companyId })
          : [],
      ]);
      for (const row of rows) {
        if (row.ended_at) update.departures.push(this.departureOf(row));
        else update.participants.push(this.participantOf(row));
      }
      update.joinRequests = requests.map((r) => toJoinRequestType(r, now));
      if (update.participants.length + update.departures.length + update.joinRequests.length === 0) return null;
    }
    const [count] = await query<{ n: number }>(COUNT_SQL, [this.eventId, this.companyId]);
    update.participantCount = count?.n ?? 0;
    return update;
  }

  private participantOf(row: ParticipantRow): LiveParticipantType {
    return {
      sessionId: row.id,
      name: row.name,
      role: row.role as Role,
      isGuest: row.is_guest,
      joinedAt: row.joined_at,
      companyId: this.companyId,
      eventId: row.event_id,
    };
  }

  private departureOf(row: ParticipantRow): LiveDepartureType {
    return {
      sessionId: row.id,
      endReason: row.end_reason,
      endedAt: row.ended_at!,
      companyId: this.companyId,
      eventId: row.event_id,
    };
  }
}
