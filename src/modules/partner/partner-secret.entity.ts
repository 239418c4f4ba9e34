import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";

/**
 * A shared HS256 secret a partner signs its JWTs with. The id is the JWT `kid`. The secret
 * is encrypted under the master key (AES-256-GCM, the id as associated data): HMAC needs the
 * secret itself to verify, so a hash would not do.
 */
@Entity({ name: "partner_secrets" })
@Index("idx_partner_secrets_list", ["companyId", "createdAt", "id"])
export class PartnerSecretEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Column({ type: "text" })
  secretEncrypted: string;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  lastUsedAt: Date | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  revokedAt: Date | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
