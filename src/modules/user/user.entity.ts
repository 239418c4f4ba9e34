import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  Relation,
  UpdateDateColumn,
} from "typeorm";
import { CompanyEntity } from "../company/company.entity";

@Entity({ name: "users" })
@Index(["companyId", "externalId"], { unique: true, where: "external_id IS NOT NULL" })
@Index(["companyId", "emailNormalized"])
@Index(["companyId", "createdAt", "id"])
// Each node's revocation view loads the users whose tokens were revoked: few, among many.
@Index("idx_users_tokens_revoked", ["tokensRevokedBefore"], { where: "tokens_revoked_before IS NOT NULL AND external_id IS NOT NULL" })
export class UserEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ type: "uuid" })
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

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
