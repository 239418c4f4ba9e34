import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn, UpdateDateColumn } from "typeorm";

/** A tenant. Settings live as columns: they are few, typed and read on hot paths. */
@Entity({ name: "companies" })
export class CompanyEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Index("idx_companies_slug", { unique: true })
  @Column({ type: "varchar", length: 64 })
  slug: string;

  /** null: no limit. */
  @Column({ type: "integer", nullable: true })
  seatLimit: number | null;

  /** Non-guest users; moved only by conditional updates so the limit holds under concurrency. */
  @Column({ type: "integer", default: 0 })
  seatsUsed: number;

  @Column({ type: "integer", default: 14_400 })
  sessionInactivityTimeoutSeconds: number;

  /**
   * A session that has not sent its first heartbeat this long after joining ends as NO_HEARTBEAT
   * (at its join: it attended nothing), so joins that never come alive (bots) give their place back.
   */
  @Column({ type: "integer", default: 120 })
  firstHeartbeatWindowSeconds: number;

  @Column({ type: "integer", default: 3_600 })
  defaultTokenTtlSeconds: number;

  @Column({ type: "integer", default: 2_592_000 })
  maxTokenTtlSeconds: number;

  @Column({ type: "integer", default: 15 })
  loginLinkTtlSeconds: number;

  /** How far ahead a partner-signed JWT's exp may lie (integrators commonly sign for 7 days). */
  @Column({ type: "integer", default: 604_800 })
  partnerTokenMaxTtlSeconds: number;

  @Column({ type: "integer", default: 3_600 })
  joinRequestTtlSeconds: number;

  @Column({ type: "boolean", default: false })
  passwordAuthEnabled: boolean;

  @Column({ type: "boolean", default: false })
  allowNonExpiringTokens: boolean;

  @Column({ type: "text", array: true, default: () => "'{}'" })
  allowedRedirectOrigins: string[];

  @Column({ type: "text", array: true, default: () => "'{}'" })
  allowedEmbedOrigins: string[];

  /** What each role may do, as session tokens carry it: null keeps the defaults (see role-permissions.ts). */
  @Column({ type: "jsonb", nullable: true })
  rolePermissions: Partial<Record<"ATTENDEE" | "PRESENTER" | "ORGANIZER", string[]>> | null;

  /** The session token's audience, for media servers to pin; null is the company's issuer. */
  @Column({ type: "varchar", length: 2048, nullable: true })
  sessionTokenAudience: string | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
