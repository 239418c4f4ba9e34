import { Column, Entity, PrimaryColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "../event/event.entity";

/**
 * Sessions not yet ended (ended_at IS NULL) of an event that has a capacity, kept by the triggers
 * on sessions, so a join checks the capacity without counting the event's sessions. Only events
 * with a capacity have a row. It may count sessions that a time limit has already ended but no
 * one has written down yet: a join that finds the event full writes those down first and counts
 * again (admit_join), so the capacity is exact.
 */
@Entity({ name: "event_occupancy" })
export class EventOccupancyEntity {
  @PrimaryColumn({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "integer", default: 0 })
  live: number;
}
