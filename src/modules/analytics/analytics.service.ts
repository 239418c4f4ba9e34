import type { DataSource } from "typeorm";
import type { ReadRouter } from "../../db/read-replica";
import type { Clock } from "../../clock";
import { analyticsReaderCompany, companyIdOf, RequestContext } from "../../request-context";
import { decodeCursor, pageSize, toConnection, ConnectionShape } from "../../graphql/connection";
import { badInput, notFound } from "../../errors";
import { Role } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import { companyEventCandidatesSql, type AnalyticsWindow, type Statement } from "./analytics.sql";
import { companyAttendeesSql, uniqueAttendeesSql, type AttendeeCursor, type AttendeeSources } from "./attendance.sql";
import type { AnalyticsKey, AttendeeRow } from "./analytics.loaders";
import { attendeeCsv } from "./attendee-export";
import type {
  AttendeeType,
  BreakdownRowType,
  CompanyAnalyticsTotalsType,
  CompanyAnalyticsType,
  EventAnalyticsType,
  TimelineBucketType,
} from "./analytics.types";

export interface AnalyticsServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  /** Where the reports read: the read replica while it keeps up, else the primary. */
  reads: ReadRouter;
}

/** A timeline has at most this many buckets; more is BAD_USER_INPUT on bucketSeconds. */
export const MAX_TIMELINE_BUCKETS = 10_000;
export const DEFAULT_BREAKDOWN_ROWS = 100;
export const MAX_BREAKDOWN_ROWS = 1000;
const MAX_METADATA_KEY_LENGTH = 200;
const ROLES_BY_RANK = [Role.ATTENDEE, Role.PRESENTER, Role.ORGANIZER];

const seconds = (ms: number) => Math.round(ms / 1000);

/**
 * Engagement analytics (F12). The numbers come from per-request loaders (analytics.loaders.ts),
 * which read rollups that triggers keep in step with the raw sessions (the activity rollups plus
 * the instants still pending for them), and the raw sessions where the rollups cannot answer
 * (live sessions, windows that cut sessions).
 */
export class AnalyticsService {
  /** "Now" is read once per request: every number of a response is as of the same instant, and loaders batch. */
  private readonly nowByRequest = new WeakMap<RequestContext, Date>();
  /**
   * The company's active events, found once per request and window: `events` and `totals` each
   * get their own copy of the CompanyAnalytics object, so it cannot hold them.
   */
  private readonly activeEventsByRequest = new WeakMap<RequestContext, Map<string, Promise<string[]>>>();

  constructor(private readonly deps: AnalyticsServiceDeps) {}

  /**
   * Moves the join and end instants that sessions added into the activity rollups, in one batch
   * (every node calls this every second; callers take turns), and the changes to the registrant
   * counts into theirs. Readers add what is still pending, so this only keeps the pending tables
   * short. Returns how many instants it moved.
   */
  async foldPending(): Promise<number> {
    const [row] = await this.deps.dataSource.query<{ n: number | string }[]>(
      "SELECT analytics_fold_pending() AS n, analytics_fold_registrants() AS registrants",
    );
    return Number(row.n);
  }

  /**
   * Reclaims the pending tables' dead rows (they are emptied every second). PostgreSQL's autovacuum
   * does this too, at most once a minute; embedded PGlite has no autovacuum, so nodes call this
   * every minute. A node finding another one's VACUUM running skips its turn.
   */
  async vacuumPending(): Promise<void> {
    await this.deps.dataSource.query(
      "VACUUM (SKIP_LOCKED) analytics_pending_instants, analytics_pending_attendance, analytics_pending_registrants",
    );
  }

  /**
   * Embedded PGlite has no autovacuum, so nothing refreshes the planner's statistics: tables
   * analysed when nearly empty keep plans that read every row of them. This analyses every table
   * that has more than doubled (by pages) since its statistics were taken, as autovacuum's
   * analyse would; nodes on PGlite call it every few seconds. Returns the tables it analysed.
   */
  async analyzeGrownTables(): Promise<string[]> {
    const grown: { relname: string }[] = await this.deps.dataSource.query(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r'
          AND pg_relation_size(c.oid) / current_setting('block_size')::int > 2 * GREATEST(c.relpages, 0) + 8`,
    );
    for (const { relname } of grown) {
      const [{ statement }] = await this.deps.dataSource.query<{ statement: string }[]>(
        "SELECT format('ANALYZE %I', $1::text) AS statement",
        [relname],
      );
      await this.deps.dataSource.query(statement);
    }
    return grown.map((t) => t.relname);
  }

  private nowOf(ctx: RequestContext): Date {
    let now = this.nowByRequest.get(ctx);
    if (!now) {
      now = this.deps.clock.now();
      this.nowByRequest.set(ctx, now);
    }
    return now;
  }

  private window(from: Date | null | undefined, to: Date | null | undefined): AnalyticsWindow {
    const window = { from: from ?? null, to: to ?? null };
    v.dateOrder("to", window.from, window.to);
    return window;
  }

  /** eventAnalytics and Event.analytics: another company's event is NOT_FOUND, like a missing one. */
  async forEvent(
    ctx: RequestContext,
    eventId: string,
    from?: Date | null,
    to?: Date | null,
  ): Promise<EventAnalyticsType> {
    const companyId = analyticsReaderCompany(ctx, eventId);
    const window = this.window(from, to);
    if (!v.isUuid(eventId) || !(await ctx.loaders.analytics.owned.load({ companyId, eventId })))
      throw notFound("The event");
    return { companyId, eventId, ...window, now: this.nowOf(ctx) };
  }

  /**
   * How fresh the request's numbers are: every change committed before this instant is in them
   * (the read replica's replay point, or when the primary's reads began). One per request.
   */
  async asOf(ctx: RequestContext): Promise<Date> {
    return (await ctx.loaders.analytics.read()).asOf();
  }

  private key(analytics: EventAnalyticsType): AnalyticsKey {
    const { companyId, eventId, from, to, now } = analytics;
    return { companyId, eventId, from, to, now };
  }

  registrants(ctx: RequestContext, a: EventAnalyticsType): Promise<number> {
    return ctx.loaders.analytics.registrants.load(this.key(a));
  }

  async attendees(ctx: RequestContext, a: EventAnalyticsType): Promise<number> {
    return (await ctx.loaders.analytics.totals.load(this.key(a))).attendees;
  }

  /** Attendees linked to a live registration, over live registrations; null without registrations. */
  async attendanceRate(ctx: RequestContext, a: EventAnalyticsType): Promise<number | null> {
    const [registrants, totals] = await Promise.all([
      this.registrants(ctx, a),
      ctx.loaders.analytics.totals.load(this.key(a)),
    ]);
    return registrants === 0 ? null : totals.registered / registrants;
  }

  async totalAttendanceSeconds(ctx: RequestContext, a: EventAnalyticsType): Promise<number> {
    return seconds((await ctx.loaders.analytics.totals.load(this.key(a))).attendedMs);
  }

  async averageAttendanceSeconds(ctx: RequestContext, a: EventAnalyticsType): Promise<number | null> {
    const totals = await ctx.loaders.analytics.totals.load(this.key(a));
    return totals.attendees === 0 ? null : totals.attendedMs / 1000 / totals.attendees;
  }

  async sessions(ctx: RequestContext, a: EventAnalyticsType): Promise<number> {
    return (await ctx.loaders.analytics.activity.load(this.key(a))).sessions;
  }

  async peakConcurrentSessions(ctx: RequestContext, a: EventAnalyticsType): Promise<number> {
    return (await ctx.loaders.analytics.activity.load(this.key(a))).peak;
  }

  async timeline(ctx: RequestContext, a: EventAnalyticsType, bucketSeconds: number): Promise<TimelineBucketType[]> {
    if (!Number.isInteger(bucketSeconds) || bucketSeconds < 1)
      throw badInput("bucketSeconds", "bucketSeconds must be a whole number of at least 1.");
    if (a.from && a.to) {
      const buckets = timelineBucketCount(a.from, a.to, bucketSeconds);
      if (buckets > MAX_TIMELINE_BUCKETS) throw tooManyBuckets(bucketSeconds, buckets);
    }
    const result = await ctx.loaders.analytics.timeline.load({
      ...this.key(a),
      bucketSeconds,
      maxBuckets: MAX_TIMELINE_BUCKETS,
    });
    if ("tooManyBuckets" in result) throw tooManyBuckets(bucketSeconds, result.tooManyBuckets);
    return result.buckets;
  }

  async breakdown(
    ctx: RequestContext,
    a: EventAnalyticsType,
    metadataKey: string,
    first?: number | null,
  ): Promise<BreakdownRowType[]> {
    const key = v.requiredText("metadataKey", metadataKey, MAX_METADATA_KEY_LENGTH);
    const limit =
      first === null || first === undefined
        ? DEFAULT_BREAKDOWN_ROWS
        : v.intInRange("first", first, 1, MAX_BREAKDOWN_ROWS);
    const rows = await ctx.loaders.analytics.breakdown.load({ ...this.key(a), metadataKey: key, limit });
    return rows.map((row) => ({
      value: row.value,
      attendees: row.attendees,
      totalAttendanceSeconds: seconds(row.attendedMs),
    }));
  }

  /** Attendees ordered by first join, then user id: the cursor is that pair, so pages never skip or repeat. */
  async attendeeList(
    ctx: RequestContext,
    a: EventAnalyticsType,
    first?: number | null,
    after?: string | null,
  ): Promise<ConnectionShape<AttendeeType> & { countTotal: () => Promise<number> }> {
    const limit = pageSize(first);
    const cursor = decodeAttendeeCursor(after);
    const rows = await ctx.loaders.analytics.attendeePage.load({ ...this.key(a), take: limit + 1, after: cursor });
    return {
      ...toConnection(rows, limit, attendeeCursorOf, (row) => toAttendee(a, row)),
      countTotal: () => this.attendees(ctx, a),
    };
  }

  /**
   * The attendee list of one event as CSV lines (GET …/attendees.csv), as of now, with the same
   * numbers as attendeeList; the route has decided who may read it. Read a page at a time, so the
   * caller can stream it; from the read replica while it keeps up, and `asOf` says how fresh.
   */
  async exportAttendees(
    companyId: string,
    eventId: string,
    window: AnalyticsWindow,
  ): Promise<{ asOf: Date; lines: AsyncGenerator<string> }> {
    const read = await this.deps.reads.choose();
    const lines = attendeeCsv(read, { companyId, eventId, window, now: this.deps.clock.now() });
    // The header row is read first, so asOf is known (on the primary: when its reads began).
    const first = await lines.next();
    async function* all() {
      if (!first.done) yield first.value;
      yield* lines;
    }
    return { asOf: read.asOf(), lines: all() };
  }

  // ----------------------------------------------------------------------------------------------
  // Company

  company(ctx: RequestContext, from?: Date | null, to?: Date | null): CompanyAnalyticsType {
    return { companyId: companyIdOf(ctx), ...this.window(from, to), now: this.nowOf(ctx) };
  }

  /** The company's events with at least one session in the window, oldest first. */
  async companyEvents(ctx: RequestContext, c: CompanyAnalyticsType): Promise<EventAnalyticsType[]> {
    let byWindow = this.activeEventsByRequest.get(ctx);
    if (!byWindow) this.activeEventsByRequest.set(ctx, (byWindow = new Map<string, Promise<string[]>>()));
    const window = JSON.stringify([c.companyId, c.from, c.to, c.now]);
    let found = byWindow.get(window);
    if (!found) byWindow.set(window, (found = this.findActiveEvents(ctx, c)));
    const ids = await found;
    return ids.map((eventId) => ({ companyId: c.companyId, eventId, from: c.from, to: c.to, now: c.now }));
  }

  private async findActiveEvents(ctx: RequestContext, c: CompanyAnalyticsType): Promise<string[]> {
    const candidates: { id: string }[] = await this.query(ctx, companyEventCandidatesSql(c.companyId, c));
    const keys = candidates.map((row) => ({
      companyId: c.companyId,
      eventId: row.id,
      from: c.from,
      to: c.to,
      now: c.now,
    }));
    const activity = await Promise.all(keys.map((key) => ctx.loaders.analytics.activity.load(key)));
    return keys.filter((_, i) => activity[i].sessions > 0).map((key) => key.eventId);
  }

  async companyTotals(ctx: RequestContext, c: CompanyAnalyticsType): Promise<CompanyAnalyticsTotalsType> {
    const events = await this.companyEvents(ctx, c);
    const keys = events.map((e) => this.key(e));
    const [registrants, totals, activity, uniqueAttendees] = await Promise.all([
      Promise.all(keys.map((k) => ctx.loaders.analytics.registrants.load(k))),
      Promise.all(keys.map((k) => ctx.loaders.analytics.totals.load(k))),
      Promise.all(keys.map((k) => ctx.loaders.analytics.activity.load(k))),
      this.uniqueAttendees(ctx, c, events),
    ]);
    const sum = (values: number[]) => values.reduce((acc, n) => acc + n, 0);
    return {
      events: events.length,
      uniqueAttendees,
      sessions: sum(activity.map((a) => a.sessions)),
      registrants: sum(registrants),
      totalAttendanceSeconds: seconds(sum(totals.map((t) => t.attendedMs))),
    };
  }

  private async uniqueAttendees(
    ctx: RequestContext,
    c: CompanyAnalyticsType,
    events: EventAnalyticsType[],
  ): Promise<number> {
    if (events.length === 0) return 0;
    const keys = events.map((e) => this.key(e));
    if (!c.from && !c.to) {
      // The whole range: the company's own count of its attendees, not the union of every event's.
      const scope = { companyId: c.companyId, eventIds: keys.map((k) => k.eventId), window: c, now: c.now };
      const [row] = await this.query<{ n: number | string }>(ctx, companyAttendeesSql(scope));
      return Number(row?.n ?? 0);
    }
    const kinds = await ctx.loaders.analytics.sources.loadMany(keys);
    const sources: AttendeeSources = { fast: [], raw: [] };
    kinds.forEach((kind, i) => {
      if (kind instanceof Error) throw kind;
      sources[kind].push(keys[i].eventId);
    });
    const scope = { companyId: c.companyId, eventIds: keys.map((k) => k.eventId), window: c, now: c.now };
    const [row] = await this.query<{ n: number }>(ctx, uniqueAttendeesSql(scope, sources));
    return Number(row?.n ?? 0);
  }

  /** Where the request's other analytics statements read (see AnalyticsRead). */
  private query<R>(ctx: RequestContext, statement: Statement): Promise<R[]> {
    return ctx.loaders.analytics.query<R>(statement);
  }
}

/**
 * The buckets of a timeline over [from, to), as its query counts them: from the one holding `from`
 * to the one holding the last instant before `to`.
 */
export function timelineBucketCount(from: Date, to: Date, bucketSeconds: number): number {
  const width = bucketSeconds * 1000;
  return Math.floor((to.getTime() - 1) / width) - Math.floor(from.getTime() / width) + 1;
}

function tooManyBuckets(bucketSeconds: number, buckets: number) {
  return badInput(
    "bucketSeconds",
    `bucketSeconds ${bucketSeconds} makes ${buckets} buckets; at most ${MAX_TIMELINE_BUCKETS}: choose larger buckets or a shorter window.`,
  );
}

function toAttendee(a: EventAnalyticsType, row: AttendeeRow): AttendeeType {
  return {
    companyId: a.companyId,
    eventId: a.eventId,
    userId: row.userId,
    registrantId: row.registrantId,
    metadata: row.metadata,
    firstJoinedAt: row.firstJoinedAt,
    totalAttendanceSeconds: seconds(row.attendedMs),
    sessions: row.sessions,
    role: ROLES_BY_RANK[row.roleRank] ?? Role.ATTENDEE,
  };
}

const attendeeCursorOf = (row: AttendeeRow): [string, string] => [row.firstJoinedAt.toISOString(), row.userId];

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function decodeAttendeeCursor(after: string | null | undefined): AttendeeCursor | null {
  const parts = decodeCursor(after, 2);
  if (!parts) return null;
  const [at, userId] = parts;
  if (typeof at !== "string" || !ISO_INSTANT.test(at) || typeof userId !== "string" || !v.isUuid(userId)) {
    throw badInput("after", "after is not a cursor this API gave out.");
  }
  const firstJoinedAt = new Date(at);
  if (Number.isNaN(firstJoinedAt.getTime())) throw badInput("after", "after is not a cursor this API gave out.");
  return { firstJoinedAt, userId };
}
