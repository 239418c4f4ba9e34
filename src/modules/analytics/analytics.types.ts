import { Field, Float, Int, ObjectType } from "type-graphql";
import { Access, AccessOwner } from "../../graphql/access";
import { Connection } from "../../graphql/connection";
import { Role } from "../../graphql/enums";
import { JSONObjectScalar } from "../../graphql/scalars";

/**
 * Engagement of one event over a window. The numbers are fields resolved on demand through
 * per-request loaders, so a list of many events costs one statement per group of numbers.
 */
// An API key of the company, or the report link of this event (and its organizers, by the same rule).
@AccessOwner((a: EventAnalyticsType) => ({ companyId: a.companyId, eventId: a.eventId }))
@ObjectType("EventAnalytics", {
  description:
    "Engagement of one event over a window [from, to): a session counts for the part of it inside the window; live sessions count up to now.",
})
export class EventAnalyticsType {
  @Access("organizer-or-key")
  @Field(() => Date, { nullable: true, description: "Start of the window (inclusive); null: since the first session." })
  from: Date | null;

  @Access("organizer-or-key")
  @Field(() => Date, { nullable: true, description: "End of the window (exclusive); null: up to now." })
  to: Date | null;

  /** Not in the schema: the tenant, the event, and the instant "now" pinned for the request. */
  companyId: string;
  eventId: string;
  now: Date;
}

// Plain properties, no middleware: graphql-js reads them directly (simpleResolvers), 10,000 times over.
@ObjectType("TimelineBucket", { description: "One bucket of an event's timeline.", simpleResolvers: true })
export class TimelineBucketType {
  @Access("public")
  @Field({
    description:
      "Start of the bucket: a multiple of bucketSeconds since the Unix epoch. The first and last buckets are cut by the window.",
  })
  start: Date;

  @Access("public")
  @Field(() => Int, { description: "Sessions running at some time in the bucket (within the window)." })
  activeSessions: number;

  @Access("public")
  @Field(() => Int, { description: "Sessions that joined in the bucket (within the window)." })
  joins: number;
}

@ObjectType("BreakdownRow", { description: "Attendees that share one value of a metadata key.", simpleResolvers: true })
export class BreakdownRowType {
  @Access("public")
  @Field(() => String, {
    nullable: true,
    description:
      "The value, as a string (numbers and booleans as written in JSON); null for attendees without the key.",
  })
  value: string | null;

  @Access("public")
  @Field(() => Int, { description: "Attendees with this value." })
  attendees: number;

  @Access("public")
  @Field(() => Float, {
    description:
      "Their time in the event, in seconds, overlapping sessions of a user counted once; a Float, since it outgrows 32-bit integers.",
  })
  totalAttendanceSeconds: number;
}

@AccessOwner((a: AttendeeType) => ({ companyId: a.companyId, eventId: a.eventId }))
@ObjectType("Attendee", { description: "A user who had at least one session in the window." })
export class AttendeeType {
  @Access("public")
  @Field(() => JSONObjectScalar, {
    description:
      "Metadata merged: the latest session's (token) metadata, overridden by the user's, overridden by the registrant's.",
  })
  metadata: Record<string, unknown>;

  @Access("public")
  @Field({ description: "When the user first joined, of the sessions in the window." })
  firstJoinedAt: Date;

  @Access("public")
  @Field(() => Int, {
    description: "Time in the event within the window, in seconds, overlapping sessions counted once.",
  })
  totalAttendanceSeconds: number;

  @Access("public")
  @Field(() => Int, { description: "Sessions in the window." })
  sessions: number;

  @Access("public")
  @Field(() => Role, { description: "The highest role the user had in any of those sessions." })
  role: Role;

  /** Not in the schema: Attendee.user and Attendee.registrant resolve them. */
  companyId: string;
  eventId: string;
  userId: string;
  registrantId: string | null;
}

export const AttendeeConnection = Connection(AttendeeType, "Attendee");
export type AttendeeConnection = InstanceType<typeof AttendeeConnection>;

@ObjectType("CompanyAnalytics", { description: "Engagement across the company's events over a window [from, to)." })
export class CompanyAnalyticsType {
  @Field(() => Date, { nullable: true, description: "Start of the window (inclusive)." })
  from: Date | null;

  @Field(() => Date, { nullable: true, description: "End of the window (exclusive)." })
  to: Date | null;

  /** Not in the schema. */
  companyId: string;
  now: Date;
}

@ObjectType("CompanyAnalyticsTotals", { description: "Company totals over the window." })
export class CompanyAnalyticsTotalsType {
  @Field(() => Int, { description: "Events with at least one session in the window." })
  events: number;

  @Field(() => Int, { description: "Distinct users with a session in the window, across those events." })
  uniqueAttendees: number;

  @Field(() => Int, { description: "Sessions in the window, across those events." })
  sessions: number;

  @Field(() => Int, { description: "Live registrations of those events." })
  registrants: number;

  @Field(() => Float, {
    description:
      "Attendance in seconds, summed over those events (each event merges a user's overlapping sessions); a Float, since it outgrows 32-bit integers.",
  })
  totalAttendanceSeconds: number;
}
