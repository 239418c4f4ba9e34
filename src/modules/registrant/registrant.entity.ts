import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "../event/event.entity";

/** A registration for one event. One live registration per email per event, held by a unique index. */
@Entity({ name: "registrants" })
@Index("idx_registrants_event_email", ["eventId", "emailNormalized", "companyId"], {
  unique: true,
  where: "cancelled_at IS NULL",
})
@Index("idx_registrants_list", ["eventId", "createdAt", "id"])
// Analytics: live registrations by event (counts, index-only) and by the user they joined as.
@Index("idx_registrants_live_by_user", ["eventId", "userId"], { where: "cancelled_at IS NULL" })
export class RegistrantEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  /** The user the registrant joined as (set at the first join). */
  @Column({ type: "uuid", nullable: true })
  userId: string | null;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Column({ type: "varchar", length: 320 })
  email: string;

  @Column({ type: "varchar", length: 320 })
  emailNormalized: string;

  /**
   * The company's word that it confirmed this address (registerForEvent emailVerified). Only a
   * verified registration links to an existing user with the same email or matches the event's
   * lists by email; an unverified one joins as a user of its own, the email only a label.
   */
  @Column({ type: "boolean", default: false })
  emailVerified: boolean;

  @Column({ type: "jsonb", default: () => "'{}'" })
  metadata: Record<string, unknown>;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  cancelledAt: Date | null;
}
