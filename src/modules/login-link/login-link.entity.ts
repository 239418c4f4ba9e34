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
} from "typeorm";
import { UserEntity } from "../user/user.entity";

/**
 * A one-time login link. The code is an opaque secret: only its lookup prefix and SHA-256
 * are stored. Redeemed by one conditional UPDATE (used_at IS NULL AND revoked_at IS NULL AND
 * expires_at > now), so two racing requests cannot both pass.
 */
@Entity({ name: "login_links" })
@Index("idx_login_links_list", ["companyId", "createdAt", "id"])
@Index("idx_login_links_code_lookup", ["codeLookup", "companyId"], { unique: true })
export class LoginLinkEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "uuid" })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn([
    { name: "user_id", referencedColumnName: "id" },
    { name: "company_id", referencedColumnName: "companyId" },
  ])
  user?: Relation<UserEntity>;

  /** The event the link opens; null: the company's landing page. */
  @Column({ type: "uuid", nullable: true })
  eventId: string | null;

  @Column({ type: "varchar", length: 16 })
  codeLookup: string;

  @Column({ type: "char", length: 64 })
  codeHash: string;

  /** Where the browser goes when the session this link made expires. */
  @Column({ type: "varchar", length: 2048, nullable: true })
  redirectOnExpiryUrl: string | null;

  @Column({ type: "timestamptz", precision: 3 })
  expiresAt: Date;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  usedAt: Date | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  revokedAt: Date | null;

  /** The session the redemption opened; ended when the used code is presented again. */
  @Column({ type: "uuid", nullable: true })
  sessionId: string | null;

  /** When a used code was presented again (treated as a stolen link). */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  reusedAt: Date | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
