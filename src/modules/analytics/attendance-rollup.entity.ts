import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, Relation } from "typeorm";
import { EventEntity } from "../event/event.entity";
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
@Index("idx_attendance_rollups_totals", ["eventId", "companyId", "registered", "attendedMs"])
@Index("idx_attendance_rollups_user", ["userId"])
// GIN on session_registrant_ids, made by the migration (TypeORM cannot declare a GIN index).
@Index("idx_attendance_rollups_registrants", { synchronize: false })
export class AttendanceRollupEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @ManyToOne(() => EventEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "event_id" })
  event?: Relation<EventEntity>;

  @PrimaryColumn({ type: "uuid" })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id" })
  user?: Relation<UserEntity>;

  @Column({ type: "uuid" })
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
