import type { GraphQLResolveInfo } from "graphql";
import { Arg, Authorized, Ctx, FieldResolver, Float, ID, Info, Int, Query, Resolver, Root } from "type-graphql";
import { Access } from "../../graphql/access";
import type { RequestContext } from "../../graphql/context";
import { EventType } from "../event/event.types";
import { ReportLinkResolver } from "./report-link.resolver";
import { toRegistrantType } from "../registrant/registrant.service";
import { RegistrantType } from "../registrant/registrant.types";
import { toUserType } from "../user/user.service";
import { UserType } from "../user/user.types";
import {
  AttendeeConnection,
  AttendeeType,
  BreakdownRowType,
  CompanyAnalyticsTotalsType,
  CompanyAnalyticsType,
  EventAnalyticsType,
  TimelineBucketType,
} from "./analytics.types";

const FROM = {
  nullable: true,
  description: "Start of the window (inclusive); absent: since the first session.",
} as const;
const TO = { nullable: true, description: "End of the window (exclusive), after from; absent: up to now." } as const;

const AS_OF = {
  description:
    "How fresh these numbers are: every change committed before this instant is in them. Read from a replica of the database, it is the replica's replay point (it lags the primary by at most a few seconds, or the numbers come from the primary); from the primary, when the request's reads began.",
} as const;

@Resolver(() => EventAnalyticsType)
export class EventAnalyticsResolver {
  // No @Authorized: a report link's token opens its own event's analytics too (analyticsReaderCompany).
  @Access("public")
  @Query(() => EventAnalyticsType, {
    description:
      "Engagement of one of the company's events (API key with READ_ANALYTICS, or the token of that event's report link).",
  })
  eventAnalytics(
    @Ctx() ctx: RequestContext,
    @Arg("eventId", () => ID, { description: "The event." }) eventId: string,
    @Arg("from", () => Date, FROM) from?: Date,
    @Arg("to", () => Date, TO) to?: Date,
  ): Promise<EventAnalyticsType> {
    return ctx.services.analytics.forEvent(ctx, eventId, from, to);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => Date, AS_OF)
  asOf(@Ctx() ctx: RequestContext): Promise<Date> {
    return ctx.services.analytics.asOf(ctx);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => EventType, { description: "The event." })
  async event(@Root() a: EventAnalyticsType, @Ctx() ctx: RequestContext): Promise<EventType> {
    return ctx.services.events.toType(await ctx.loaders.eventById.load(a.eventId));
  }

  @Access("organizer-or-key")
  @FieldResolver(() => Int, { description: "Live registrations of the event (not cancelled), whatever the window." })
  registrants(@Root() a: EventAnalyticsType, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.analytics.registrants(ctx, a);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => Int, { description: "Distinct users with at least one session in the window." })
  attendees(@Root() a: EventAnalyticsType, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.analytics.attendees(ctx, a);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => Float, {
    nullable: true,
    description:
      "Attendees who registered (a live registration linked by a session or by the user) divided by registrants; null without registrants.",
  })
  attendanceRate(@Root() a: EventAnalyticsType, @Ctx() ctx: RequestContext): Promise<number | null> {
    return ctx.services.analytics.attendanceRate(ctx, a);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => Int, { description: "Sessions running at some time in the window." })
  sessions(@Root() a: EventAnalyticsType, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.analytics.sessions(ctx, a);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => Float, {
    description:
      "Attendance in seconds within the window; overlapping sessions of one user count once. A Float, since it outgrows 32-bit integers (100,000 attendees for 6 hours already do).",
  })
  totalAttendanceSeconds(@Root() a: EventAnalyticsType, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.analytics.totalAttendanceSeconds(ctx, a);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => Float, {
    nullable: true,
    description: "Attendance seconds per attendee; null without attendees.",
  })
  averageAttendanceSeconds(@Root() a: EventAnalyticsType, @Ctx() ctx: RequestContext): Promise<number | null> {
    return ctx.services.analytics.averageAttendanceSeconds(ctx, a);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => Int, { description: "The most sessions running at one instant in the window." })
  peakConcurrentSessions(@Root() a: EventAnalyticsType, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.analytics.peakConcurrentSessions(ctx, a);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => [TimelineBucketType], {
    description:
      "Running sessions and joins per bucket, from the window's start (or the first join) to its end (or the last activity).",
  })
  async timeline(
    @Root() a: EventAnalyticsType,
    @Ctx() ctx: RequestContext,
    @Arg("bucketSeconds", () => Int, { description: "Bucket width in seconds (at least 1; at most 10,000 buckets)." })
    bucketSeconds: number,
  ): Promise<TimelineBucketType[]> {
    return ctx.pacer.pace(await ctx.services.analytics.timeline(ctx, a, bucketSeconds));
  }

  @Access("organizer-or-key")
  @FieldResolver(() => [BreakdownRowType], {
    description:
      "Attendees and their time by the value of a metadata key: the registrant's, else the user's, else the session's (token) metadata. Most attendees first.",
  })
  async breakdown(
    @Root() a: EventAnalyticsType,
    @Ctx() ctx: RequestContext,
    @Arg("metadataKey", { description: "The key, e.g. company or jobTitle." }) metadataKey: string,
    @Arg("first", () => Int, {
      nullable: true,
      description: "At most this many values (default 100, at most 1000), most attendees first.",
    })
    first?: number,
  ): Promise<BreakdownRowType[]> {
    return ctx.pacer.pace(await ctx.services.analytics.breakdown(ctx, a, metadataKey, first));
  }

  @Access("organizer-or-key")
  @FieldResolver(() => AttendeeConnection, { description: "Attendees, by first join (then user id)." })
  async attendeeList(
    @Root() a: EventAnalyticsType,
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, { nullable: true, description: "Page size (default 20, at most 100)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ): Promise<AttendeeConnection> {
    return await ctx.services.analytics.attendeeList(ctx, a, first, after);
  }
}

@Resolver(() => EventType)
export class EventAnalyticsFieldResolver {
  @Access("key")
  @Authorized("READ_ANALYTICS")
  @FieldResolver(() => EventAnalyticsType, {
    description: "Engagement of this event over a window (API key with READ_ANALYTICS).",
  })
  analytics(
    @Root() event: EventType,
    @Ctx() ctx: RequestContext,
    @Arg("from", () => Date, FROM) from?: Date,
    @Arg("to", () => Date, TO) to?: Date,
  ): Promise<EventAnalyticsType> {
    return ctx.services.analytics.forEvent(ctx, event.id, from, to);
  }
}

@Resolver(() => AttendeeType)
export class AttendeeResolver {
  @Access("public")
  @FieldResolver(() => UserType, { description: "The user." })
  async user(@Root() attendee: AttendeeType, @Ctx() ctx: RequestContext): Promise<UserType> {
    // Met as an attendee of this event: readable by whoever may read the event's report.
    return { ...toUserType(await ctx.loaders.userById.load(attendee.userId)), viaEventId: attendee.eventId };
  }

  @Access("key")
  @FieldResolver(() => RegistrantType, {
    nullable: true,
    description:
      "The registration: that of the latest session that came with one, else a live one linked to the user; null if none.",
  })
  async registrant(@Root() attendee: AttendeeType, @Ctx() ctx: RequestContext): Promise<RegistrantType | null> {
    if (!attendee.registrantId) return null;
    const row = await ctx.loaders.registrantById.load({ companyId: attendee.companyId, id: attendee.registrantId });
    return row ? toRegistrantType(row) : null;
  }
}

@Resolver(() => AttendeeConnection)
export class AttendeeConnectionResolver {
  @Access("public")
  @FieldResolver(() => Int, {
    nullable: true,
    description: "Attendees in the window, across all pages (counted only when asked).",
  })
  totalCount(
    @Root() page: { totalCount?: number; countTotal?: () => Promise<number> },
  ): Promise<number> | number | null {
    return page.totalCount ?? page.countTotal?.() ?? null;
  }
}

@Resolver(() => CompanyAnalyticsType)
export class CompanyAnalyticsResolver {
  @Authorized("READ_ANALYTICS")
  @Query(() => CompanyAnalyticsType, {
    description: "Engagement across the company's events (API key with READ_ANALYTICS).",
  })
  companyAnalytics(
    @Ctx() ctx: RequestContext,
    @Arg("from", () => Date, FROM) from?: Date,
    @Arg("to", () => Date, TO) to?: Date,
  ): CompanyAnalyticsType {
    return ctx.services.analytics.company(ctx, from, to);
  }

  @FieldResolver(() => [EventAnalyticsType], {
    description: "Each event with at least one session in the window, oldest event first.",
  })
  async events(
    @Root() c: CompanyAnalyticsType,
    @Ctx() ctx: RequestContext,
    @Info() info: GraphQLResolveInfo,
  ): Promise<EventAnalyticsType[]> {
    const events = await ctx.services.analytics.companyEvents(ctx, c);
    // Their timelines, breakdowns and pages count in the request's budget before any of them runs.
    ctx.budget?.chargeResolvedList(info, events.length);
    return events;
  }

  @FieldResolver(() => Date, AS_OF)
  asOf(@Ctx() ctx: RequestContext): Promise<Date> {
    return ctx.services.analytics.asOf(ctx);
  }

  @FieldResolver(() => CompanyAnalyticsTotalsType, { description: "Totals over those events." })
  totals(@Root() c: CompanyAnalyticsType, @Ctx() ctx: RequestContext): Promise<CompanyAnalyticsTotalsType> {
    return ctx.services.analytics.companyTotals(ctx, c);
  }
}

/** Every resolver of this module, for RESOLVERS in src/graphql/schema.ts. */
export const ANALYTICS_RESOLVERS = [
  ReportLinkResolver,
  EventAnalyticsResolver,
  EventAnalyticsFieldResolver,
  AttendeeResolver,
  AttendeeConnectionResolver,
  CompanyAnalyticsResolver,
] as const;
