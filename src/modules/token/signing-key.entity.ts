import { Column, CreateDateColumn, Entity, Index, JoinColumn, ManyToOne, PrimaryColumn, Relation } from "typeorm";
import type { JWK } from "jose";
import { CompanyEntity } from "../company/company.entity";
import type { SigningAlg } from "../../auth/signing-keys";

/**
 * A company's token signing key. The private JWK is stored only encrypted under the master key
 * (AES-256-GCM, the kid as associated data). One key per company is current; older ones keep
 * verifying until retiresAt, when the last token they signed has expired.
 */
@Entity({ name: "signing_keys" })
@Index("idx_signing_keys_current", ["companyId"], { unique: true, where: "is_current" })
@Index("idx_signing_keys_company_created", ["companyId", "createdAt"])
export class SigningKeyEntity {
  /** The JWT `kid`. */
  @PrimaryColumn({ type: "varchar", length: 64 })
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @ManyToOne(() => CompanyEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "company_id" })
  company?: Relation<CompanyEntity>;

  @Column({ type: "varchar", length: 16 })
  alg: SigningAlg;

  @Column({ type: "jsonb" })
  publicJwk: JWK;

  @Column({ type: "text" })
  privateJwkEncrypted: string;

  @Column({ type: "boolean" })
  isCurrent: boolean;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  /** When a rotation replaced it. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  rotatedAt: Date | null;

  /** After this it verifies nothing and leaves the JWKS; null while current, or kept for ever. */
  @Column({ type: "timestamptz", precision: 3, nullable: true })
  retiresAt: Date | null;
}
