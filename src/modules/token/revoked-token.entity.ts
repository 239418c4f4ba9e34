import { Column, Entity, Index, PrimaryColumn } from "typeorm";

/** A revoked token id (revokeToken, or a ban). Kept until the token would have expired anyway. */
@Entity({ name: "revoked_tokens" })
@Index("idx_revoked_tokens_company_revoked", ["companyId", "revokedAt"])
export class RevokedTokenEntity {
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @PrimaryColumn({ type: "varchar", length: 128 })
  jti: string;

  @Column({ type: "timestamptz", precision: 3 })
  revokedAt: Date;

  /** null: the token had no expiry. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  expiresAt: Date | null;
}
