import { Column, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, PrimaryGeneratedColumn, Relation } from "typeorm";
import { EventEntity, OfEvent } from "../event/event.entity";
import { UserEntity, type UserOriginValue } from "../user/user.entity";

export const CREDENTIAL_TYPES = [
  "JOIN_TOKEN",
  "REGISTRATION_TOKEN",
  "LOGIN_LINK",
  "PARTNER_JWT",
  "OIDC_ID_TOKEN",
  "PASSWORD",
  "GUEST",
] as const;
export type CredentialTypeValue = (typeof CREDENTIAL_TYPES)[number];

/** The origin (users.created_via) of a user that a credential of this type creates just in time. */
export const ORIGIN_OF_CREDENTIAL: Readonly<Record<CredentialTypeValue, UserOriginValue>> = {
  JOIN_TOKEN: "JOIN_TOKEN",
  REGISTRATION_TOKEN: "REGISTRATION",
  LOGIN_LINK: "LOGIN_LINK",
  PARTNER_JWT: "PARTNER_JWT",
  OIDC_ID_TOKEN: "OIDC",
  PASSWORD: "PASSWORD",
  GUEST: "GUEST",
};

export const SESSION_END_REASONS = [
  "LEFT",
  "LOGGED_OUT",
  "KICKED",
  "SUPERSEDED",
  "INACTIVE",
  "ELAPSED",
  "TOKEN_EXPIRED",
  "EVENT_ENDED",
  "REVOKED",
  "SUSPENDED",
  "NO_HEARTBEAT",
] as const;
export type SessionEndReasonValue = (typeof SESSION_END_REASONS)[number];

/** One presence of one user in one event. Ended sessions keep their times and reason for analytics. */
@Entity({ name: "sessions" })
@Index("idx_sessions_live_by_user", ["eventId", "userId"], { where: "ended_at IS NULL" })
@Index("idx_sessions_live_by_registrant", ["eventId", "registrantId"], {
  where: "ended_at IS NULL AND registrant_id IS NOT NULL",
})
@Index("idx_sessions_live_by_last_seen", ["lastSeenAt"], { where: "ended_at IS NULL" })
@Index("idx_sessions_event_joined", ["eventId", "joinedAt"])
@Index("idx_sessions_user_joined", ["userId", "joinedAt"])
export class SessionEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  eventId: string;

  @OfEvent()
  event?: Relation<EventEntity>;

  @Column({ type: "uuid" })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn([
    { name: "user_id", referencedColumnName: "id" },
    { name: "company_id", referencedColumnName: "companyId" },
  ])
  user?: Relation<UserEntity>;

  @Column({ type: "uuid", nullable: true })
  registrantId: string | null;

  @Column({ type: "varchar", length: 24 })
  credentialType: CredentialTypeValue;

  /** The jti of the credential it came in with: a ban revokes it. */
  @Column({ type: "varchar", length: 128, nullable: true })
  credentialJti: string | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  credentialIssuedAt: Date | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  credentialExpiresAt: Date | null;

  /** A role the credential granted; lists may raise it, never lower it. */
  @Column({ type: "varchar", length: 16, nullable: true })
  roleGrant: string | null;

  /** The role as last resolved (join or heartbeat). */
  @Column({ type: "varchar", length: 16 })
  role: string;

  @Column({ type: "timestamptz", precision: 3 })
  joinedAt: Date;

  @Column({ type: "timestamptz", precision: 3 })
  lastSeenAt: Date;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  endedAt: Date | null;

  @Column({ type: "varchar", length: 16, nullable: true })
  endReason: SessionEndReasonValue | null;

  /** The first hard limit: joined + ejectAfterElapsedSeconds, or token expiry with ejectAtTokenExpiry. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  ejectAt: Date | null;

  @Column({ type: "varchar", length: 16, nullable: true })
  ejectReason: SessionEndReasonValue | null;

  /** Metadata carried in (token metadata, registrant metadata). */
  @Column({ type: "jsonb", default: () => "'{}'" })
  metadata: Record<string, unknown>;
}
