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

/** How a user came to exist: the API, or the credential that created it just in time. */
export const USER_ORIGINS = [
  "API",
  "PARTNER_JWT",
  "OIDC",
  "LOGIN_LINK",
  "PASSWORD",
  "GUEST",
  "JOIN_TOKEN",
  "REGISTRATION",
] as const;
export type UserOriginValue = (typeof USER_ORIGINS)[number];

@Entity({ name: "users" })
@Index("idx_users_external_id", ["companyId", "externalId"], { unique: true, where: "external_id IS NOT NULL" })
@Index("idx_users_email", ["companyId", "emailNormalized"])
@Index("idx_users_list", ["companyId", "createdAt", "id"])
// Each node's revocation view loads the suspended users: few, among many.
@Index("idx_users_suspended", ["suspendedAt"], { where: "suspended_at IS NOT NULL" })
@Index("idx_users_created_via", ["companyId", "createdVia", "createdAt", "id"])
// Each node's revocation view loads the users whose tokens were revoked: few, among many.
@Index("idx_users_tokens_revoked", ["tokensRevokedBefore"], {
  where: "tokens_revoked_before IS NOT NULL AND external_id IS NOT NULL",
})
export class UserEntity {
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

  /** The company's own user id; null for guests. Compared exactly. */
  @Column({ type: "varchar", length: 255, nullable: true })
  externalId: string | null;

  /** As given. */
  @Column({ type: "varchar", length: 320, nullable: true })
  email: string | null;

  /**
   * Trimmed and lower-cased, for matching (presenter and organizer lists, lookups by email). Set
   * only for an email someone entitled to vouch for it gave: a user made for an unverified
   * registration shows its email but has none here, so the email confers nothing.
   */
  @Column({ type: "varchar", length: 320, nullable: true })
  emailNormalized: string | null;

  @Column({ type: "varchar", length: 200, nullable: true })
  name: string | null;

  @Column({ type: "varchar", length: 2048, nullable: true })
  avatarUrl: string | null;

  @Column({ type: "jsonb", default: () => "'{}'" })
  metadata: Record<string, unknown>;

  /** Guests joined a public event with a display name; they take no seat. */
  @Column({ type: "boolean", default: false })
  isGuest: boolean;

  /** revokeUserTokens: credentials issued before this are refused. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  tokensRevokedBefore: Date | null;

  /** How the user was created; a row written without saying is the API's (upsertUser). */
  @Column({ type: "varchar", length: 16, default: "API" })
  createdVia: UserOriginValue;

  /** suspendUser: every credential is refused (USER_SUSPENDED) until unsuspendUser; the seat is kept. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  suspendedAt: Date | null;

  /** deleteUser: the row stays, anonymous, so analytics keep their counts; nothing names the person. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  deletedAt: Date | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
