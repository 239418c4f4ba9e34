import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "./event.entity";

export const PRINCIPAL_ROLES = ["PRESENTER", "ORGANIZER"] as const;
export type PrincipalRole = (typeof PRINCIPAL_ROLES)[number];

/** One entry of an event's presenter or organizer list: an external user id or an email. */
@Entity({ name: "event_principals" })
@Index("idx_event_principals_external_id", ["eventId", "role", "userExternalId", "companyId"], {
  unique: true,
  where: "user_external_id IS NOT NULL",
})
@Index("idx_event_principals_email", ["eventId", "role", "email", "companyId"], {
  unique: true,
  where: "email IS NOT NULL",
})
export class EventPrincipalEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** The event's company, copied from it: part of every key, as a database distributed by company needs. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @Column({ type: "varchar", length: 16 })
  role: PrincipalRole;

  @Column({ type: "varchar", length: 255, nullable: true })
  userExternalId: string | null;

  /** Trimmed and lower-cased. */
  @Column({ type: "varchar", length: 320, nullable: true })
  email: string | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
