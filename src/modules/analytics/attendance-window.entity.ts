import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "../event/event.entity";

/**
 * What answers attendees, their time and how many registered over a window that cuts sessions
 * (see docs/analytics.md, "Windows that cut sessions"). Written only by the trigger on
 * attendance_rollups (migration WindowSegments), so every path that writes sessions, registrants
 * or users keeps them exact.
 *
 * A segment is one stretch of a user's presence: their ended sessions merged where they overlap
 * or touch, a zero-length session being a segment of no length unless it lies within another.
 * Family 0 merges all ended sessions; family 1 only those that make the user registered (all of
 * them when a live registration is linked to the user, else those that came with a live
 * registration of the event). A user is present in [from, to) when one of its segments has
 * start < to and end > from, and those users number
 *   #(start < to) − #(end ≤ from) − #(gaps with previous end > from and start < to),
 * each count read from per-minute rows, with the segments of the window's two edge minutes read
 * one by one.
 */
@Entity({ name: "attendance_segments" })
@Index("idx_attendance_segments_start", ["eventId", "family", "startAt"])
@Index("idx_attendance_segments_end", ["eventId", "family", "endAt"])
@Index("idx_attendance_segments_gap", ["eventId", "family", "prevEnd"])
export class AttendanceSegmentEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  // No foreign key to users: erasing a user deletes its attendance rows, whose trigger takes its
  // segments out of the per-minute counts; a cascade would delete them before it could.
  @PrimaryColumn({ type: "uuid" })
  userId: string;

  @PrimaryColumn({ type: "smallint" })
  family: number;

  @PrimaryColumn({ type: "timestamptz", precision: 3 })
  startAt: Date;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "timestamptz", precision: 3 })
  endAt: Date;

  /** The end of the user's previous segment of the family: the gap before this one. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  prevEnd: Date | null;
}

/**
 * Segments counted per event, family and minute: how many start and end in the minute, and the
 * sum of their milliseconds past the minute (time in a window is Σ clamp(end) − Σ clamp(start)).
 * Kept through analytics_pending_windows and the per-second fold, as the attendance sums are.
 */
@Entity({ name: "attendance_window_minutes" })
export class AttendanceWindowMinuteEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @PrimaryColumn({ type: "smallint" })
  family: number;

  @PrimaryColumn({ type: "timestamptz" })
  minute: Date;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "integer", default: 0 })
  starts: number;

  @Column({ type: "bigint", default: 0 })
  startsOffsetMs: string;

  @Column({ type: "integer", default: 0 })
  ends: number;

  @Column({ type: "bigint", default: 0 })
  endsOffsetMs: string;
}

/** Gaps between a user's segments, counted per event, family, minute of the gap's start (the previous end) and minute of its end (the next start). */
@Entity({ name: "attendance_gap_cells" })
export class AttendanceGapCellEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @PrimaryColumn({ type: "smallint" })
  family: number;

  @PrimaryColumn({ type: "timestamptz" })
  endMinute: Date;

  @PrimaryColumn({ type: "timestamptz" })
  startMinute: Date;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "integer", default: 0 })
  gaps: number;
}

/**
 * Changes to attendance_window_minutes (startMinute NULL) and attendance_gap_cells (minute = the
 * gap's end minute) waiting for the fold, like analytics_pending_attendance.
 */
@Entity({ name: "analytics_pending_windows" })
@Index("idx_analytics_pending_windows_event", ["eventId"])
export class AnalyticsPendingWindowEntity {
  @PrimaryGeneratedColumn({ type: "bigint" })
  id: string;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @Column({ type: "smallint" })
  family: number;

  @Column({ type: "timestamptz" })
  minute: Date;

  @Column({ type: "timestamptz", nullable: true })
  startMinute: Date | null;

  @Column({ type: "integer", default: 0 })
  starts: number;

  @Column({ type: "bigint", default: 0 })
  startsOffsetMs: string;

  @Column({ type: "integer", default: 0 })
  ends: number;

  @Column({ type: "bigint", default: 0 })
  endsOffsetMs: string;

  @Column({ type: "integer", default: 0 })
  gaps: number;
}
