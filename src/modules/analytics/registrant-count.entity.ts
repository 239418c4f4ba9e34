import { Column, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "../event/event.entity";

/**
 * Live registrations (not cancelled) per event, so that analytics reads a row per event instead
 * of counting every registration. Kept by a trigger on registrants through
 * analytics_pending_registrants and its fold (sql/registrant-counts.sql); readers add what is
 * still pending, so counts are exact as of their snapshot.
 */
@Entity({ name: "registrant_counts" })
export class RegistrantCountEntity {
  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @Column({ type: "integer", default: 0 })
  registrants: number;
}

/**
 * Changes to registrant_counts, waiting for the fold. Counting a registration straight into its
 * event's row would make every registration of the event wait for that row until its COMMIT;
 * instead each statement appends its own rows here (shared with nobody), the fold moves them every
 * second, and readers add what is still pending.
 */
@Entity({ name: "analytics_pending_registrants" })
@Index("idx_analytics_pending_registrants_event", ["companyId", "eventId"])
export class AnalyticsPendingRegistrantsEntity {
  @PrimaryGeneratedColumn({ type: "bigint" })
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @Column({ type: "integer" })
  registrants: number;
}
