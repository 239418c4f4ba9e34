import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "../event/event.entity";

/**
 * Joins and ends of an event's sessions, second by second: the instants themselves (milliseconds
 * within the second) and, derived from them by a trigger, counts and the highest running total
 * after any instant of the second. Every session's join is here from its INSERT; its end from
 * the moment it ends. Written only by database triggers, in the transaction of the change.
 */
@Entity({ name: "session_second_rollups" })
export class SessionSecondRollupEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @PrimaryColumn({ type: "timestamptz", precision: 0 })
  second: Date;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "integer", default: 0 })
  joins: number;

  @Column({ type: "integer", default: 0 })
  ends: number;

  /** Joins and ends at the very start of the second (offset 0). */
  @Column({ type: "integer", default: 0 })
  joinsAtStart: number;

  @Column({ type: "integer", default: 0 })
  endsAtStart: number;

  /** Highest value of (joins - ends so far in this second) after any of its instants. */
  @Column({ type: "integer", default: 0 })
  maxAfter: number;

  @Column({ type: "smallint", array: true, default: () => "'{}'" })
  joinOffsets: number[];

  @Column({ type: "smallint", array: true, default: () => "'{}'" })
  endOffsets: number[];
}

/** The same summary a minute at a time, composed from its seconds: what long scans read. */
@Entity({ name: "session_minute_rollups" })
export class SessionMinuteRollupEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @PrimaryColumn({ type: "timestamptz", precision: 0 })
  minute: Date;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "integer", default: 0 })
  joins: number;

  @Column({ type: "integer", default: 0 })
  ends: number;

  @Column({ type: "integer", default: 0 })
  joinsAtStart: number;

  @Column({ type: "integer", default: 0 })
  endsAtStart: number;

  @Column({ type: "integer", default: 0 })
  maxAfter: number;
}

/**
 * The same summary an hour at a time, composed from its minutes: what a company's dashboard reads
 * (an event of a working day is a handful of hours, hundreds of minutes).
 */
@Entity({ name: "session_hour_rollups" })
export class SessionHourRollupEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @PrimaryColumn({ type: "timestamptz", precision: 0 })
  hour: Date;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "integer", default: 0 })
  joins: number;

  @Column({ type: "integer", default: 0 })
  ends: number;

  @Column({ type: "integer", default: 0 })
  joinsAtStart: number;

  @Column({ type: "integer", default: 0 })
  endsAtStart: number;

  @Column({ type: "integer", default: 0 })
  maxAfter: number;
}

/**
 * Join and end instants that sessions added and session_second_rollups does not hold yet. A
 * session's INSERT or end writes its instant here (one cheap row, no lock shared with other
 * sessions) instead of folding it into the rollups in the join's own transaction, where every
 * join of a busy event would wait for the same second and minute rows. Each node folds what is
 * pending every second (analytics_fold_pending); readers add what is still pending to what the
 * rollups say, so every answer is exact as of its snapshot. Only additions wait here: a change
 * that removes instants (a session deleted, or its times rewritten) folds everything pending
 * first and applies itself at once.
 */
@Entity({ name: "analytics_pending_instants" })
@Index("idx_analytics_pending_instants_event_at", ["eventId", "at"])
export class AnalyticsPendingInstantEntity {
  @PrimaryGeneratedColumn({ type: "bigint" })
  id: string;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @Column({ type: "timestamptz", precision: 3 })
  at: Date;

  @Column({ type: "boolean" })
  isJoin: boolean;
}
