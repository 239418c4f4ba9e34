import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "../event/event.entity";
import { UserEntity } from "../user/user.entity";

/**
 * One row per (event, user) with at least one ended session: what analytics shows of that
 * attendee, precomputed from the raw sessions. Written only by database triggers (see the
 * migration AnalyticsIndexes): on sessions, on registrants and on users' metadata, in the same
 * transaction as the change, so it never disagrees with the raw rows. Live sessions are not in it:
 * queries add them from `sessions`, counted up to now.
 */
@Entity({ name: "attendance_rollups" })
@Index("idx_attendance_rollups_list", ["eventId", "firstJoinedAt", "userId"])
// The company last: first, it made the index as good a match as the primary key for one attendee
// (migration TotalsIndexNotAKey).
@Index("idx_attendance_rollups_totals", ["eventId", "registered", "attendedMs", "companyId"])
@Index("idx_attendance_rollups_user", ["userId"])
// GIN on session_registrant_ids, made by the migration (TypeORM cannot declare a GIN index).
@Index("idx_attendance_rollups_registrants", { synchronize: false })
export class AttendanceRollupEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @PrimaryColumn({ type: "uuid" })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn([
    { name: "user_id", referencedColumnName: "id" },
    { name: "company_id", referencedColumnName: "companyId" },
  ])
  user?: Relation<UserEntity>;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  /** Ended sessions. */
  @Column({ type: "integer", default: 0 })
  sessions: number;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  firstJoinedAt: Date | null;

  /** Time in the event (the length of islands), in milliseconds. */
  @Column({ type: "bigint", default: 0 })
  attendedMs: string;

  /** Highest role seen: 0 ATTENDEE, 1 PRESENTER, 2 ORGANIZER. */
  @Column({ type: "smallint", default: 0 })
  roleRank: number;

  /** Whether a live registration of the event is linked to it (by a session or by the user). */
  @Column({ type: "boolean", default: false })
  registered: boolean;

  /** Its registration: the one of its latest session that had one, else a live one linked to the user. */
  @Column({ type: "uuid", nullable: true })
  registrantId: string | null;

  /** Metadata merged: latest session's < user's < registrant's (null values left out). */
  @Column({ type: "jsonb", default: () => "'{}'" })
  metadata: Record<string, unknown>;

  // Below: what combining live sessions with this row needs; after the columns scans read, which
  // PostgreSQL then need not step over.

  /** The ended sessions' time, overlapping sessions merged: live sessions are added to it at query time. */
  @Column({ type: "tstzmultirange", default: () => "'{}'" })
  islands: string;

  /** The latest ended session (by join, then id) and its metadata: a later live session takes over. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  latestJoinedAt: Date | null;

  @Column({ type: "uuid", nullable: true })
  latestSessionId: string | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  latestMetadata: Record<string, unknown>;

  /** The latest ended session that came with a registration, and that registration. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  latestRegistrationJoinedAt: Date | null;

  @Column({ type: "uuid", nullable: true })
  latestRegistrationSessionId: string | null;

  @Column({ type: "uuid", nullable: true })
  latestRegistrationId: string | null;

  /** Registrations its sessions came in with. */
  @Column({ type: "uuid", array: true, default: () => "'{}'" })
  sessionRegistrantIds: string[];
}

/**
 * What attendance_rollups sums to per event: attendees (rows), their time and how many are
 * registered. Kept by a trigger on attendance_rollups through analytics_pending_attendance (see
 * there), so the headline numbers read one row instead of every attendee.
 */
@Entity({ name: "attendance_event_rollups" })
export class AttendanceEventRollupEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "integer", default: 0 })
  attendees: number;

  @Column({ type: "bigint", default: 0 })
  attendedMs: string;

  @Column({ type: "integer", default: 0 })
  registered: number;
}

/**
 * attendance_rollups summed per event, metadata key and value (the value as `->>` shows it):
 * what a breakdown reads. Attendees without the key are the event's total minus the key's
 * values, so a breakdown by any key costs the number of its values, not of attendees.
 */
@Entity({ name: "attendance_value_rollups" })
export class AttendanceValueRollupEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @PrimaryColumn({ type: "text" })
  key: string;

  @PrimaryColumn({ type: "text" })
  value: string;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "integer", default: 0 })
  attendees: number;

  @Column({ type: "bigint", default: 0 })
  attendedMs: string;
}

/**
 * Changes to the per-event and per-value sums, waiting to be folded into them. A session's end
 * refreshes its attendee's row; summing it straight into the event's row would make every
 * session end of the event wait for the same row until its COMMIT. Instead the trigger appends
 * one row per change here (shared with nobody); analytics_fold_pending moves them every second,
 * and readers add what is still pending, so answers are exact as of their snapshot.
 * key NULL: the per-event totals.
 */
@Entity({ name: "analytics_pending_attendance" })
@Index("idx_analytics_pending_attendance_event_key", ["eventId", "key"])
export class AnalyticsPendingAttendanceEntity {
  @PrimaryGeneratedColumn({ type: "bigint" })
  id: string;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @Column({ type: "text", nullable: true })
  key: string | null;

  @Column({ type: "text", nullable: true })
  value: string | null;

  @Column({ type: "integer" })
  attendees: number;

  @Column({ type: "bigint" })
  attendedMs: string;

  @Column({ type: "integer" })
  registered: number;
}
