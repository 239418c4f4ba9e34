import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "../event/event.entity";

export const JOIN_REQUEST_STATUSES = ["PENDING", "APPROVED", "DENIED", "EXPIRED"] as const;
export type JoinRequestStatusValue = (typeof JOIN_REQUEST_STATUSES)[number];

/**
 * A knock on a PRIVATE event with knocking on (F8). The requester polls with a secret stored only
 * as a hash. Decisions are conditional UPDATEs (status = 'PENDING'), so concurrent approvals
 * change the state once; the credential handed out after approval is single use (consumed_at).
 */
@Entity({ name: "join_requests" })
@Index("idx_join_requests_pending", ["eventId", "createdAt", "id"], { where: "status = 'PENDING'" })
@Index("idx_join_requests_list", ["eventId", "createdAt", "id"])
export class JoinRequestEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Column({ type: "varchar", length: 320, nullable: true })
  email: string | null;

  @Column({ type: "varchar", length: 320, nullable: true })
  emailNormalized: string | null;

  @Column({ type: "varchar", length: 16, default: "PENDING" })
  status: JoinRequestStatusValue;

  @Column({ type: "char", length: 64 })
  secretHash: string;

  /** The role granted on approval. */
  @Column({ type: "varchar", length: 16, nullable: true })
  role: string | null;

  @Column({ type: "varchar", length: 500, nullable: true })
  denyReason: string | null;

  /** Who decided: an API key id or an organizer's session id. */
  @Column({ type: "varchar", length: 80, nullable: true })
  decidedBy: string | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  decidedAt: Date | null;

  /** A PENDING request past this time is EXPIRED. */
  @Column({ type: "timestamptz", precision: 3 })
  expiresAt: Date;

  /** When the approval's credential was used to join (single use). */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  consumedAt: Date | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
