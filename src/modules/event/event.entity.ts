import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryColumn,
  PrimaryGeneratedColumn,
  Relation,
  UpdateDateColumn,
} from "typeorm";
import { CompanyEntity } from "../company/company.entity";

export const EVENT_PRIVACIES = ["PUBLIC", "PRIVATE"] as const;
export type EventPrivacyValue = (typeof EVENT_PRIVACIES)[number];
export const SESSION_POLICIES = ["REPLACE_OLDEST", "REJECT_NEW"] as const;
export type SessionPolicyValue = (typeof SESSION_POLICIES)[number];

@Entity({ name: "events" })
@Index("idx_events_company_slug", ["companyId", "slug"], { unique: true })
@Index("idx_events_list", ["companyId", "createdAt", "id"])
export class EventEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /**
   * Part of the primary key (id, company_id), which the company-owned tables' foreign keys name:
   * each reference stays inside one company, as a database distributed by company needs.
   */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @ManyToOne(() => CompanyEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "company_id" })
  company?: Relation<CompanyEntity>;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Column({ type: "varchar", length: 64 })
  slug: string;

  @Column({ type: "varchar", length: 16, default: "PRIVATE" })
  privacy: EventPrivacyValue;

  @Column({ type: "boolean", default: false })
  knockingEnabled: boolean;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  startsAt: Date | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  endsAt: Date | null;

  /** Set by endEvent: the event is over whatever endsAt says. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  endedAt: Date | null;

  @Column({ type: "integer", nullable: true })
  capacity: number | null;

  @Column({ type: "varchar", length: 16, default: "REPLACE_OLDEST" })
  sessionPolicy: SessionPolicyValue;

  @Column({ type: "integer", default: 1 })
  maxSessionsPerUser: number;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}

/**
 * The event a row belongs to, joined on (event_id, company_id): the row's company is its event's,
 * and a database distributed by company keeps the foreign key within one company. Deleting the
 * event deletes the row.
 */
export function OfEvent(): PropertyDecorator {
  return (target, property) => {
    ManyToOne(() => EventEntity, { onDelete: "CASCADE" })(target, property);
    JoinColumn([
      { name: "event_id", referencedColumnName: "id" },
      { name: "company_id", referencedColumnName: "companyId" },
    ])(target, property);
  };
}
