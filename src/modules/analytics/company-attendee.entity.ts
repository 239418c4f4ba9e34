import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, Relation } from "typeorm";
import { CompanyEntity } from "../company/company.entity";

/**
 * One row per (company, user) attending at least one of the company's events: how many events
 * the user has an attendance_rollups row in (an ended session). companyAnalytics counts its
 * distinct attendees over the whole range here, one row per user, instead of uniting the rows of
 * every event. Written only by a trigger on attendance_rollups (sql/company-attendees.sql), in
 * the same transaction, so it never disagrees with them; live sessions are not in it.
 */
@Entity({ name: "company_attendees" })
export class CompanyAttendeeEntity {
  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @ManyToOne(() => CompanyEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "company_id" })
  company?: Relation<CompanyEntity>;

  @PrimaryColumn({ type: "uuid" })
  userId: string;

  /** The company's events the user has an attendance row in. */
  @Column({ type: "integer", default: 0 })
  events: number;
}
