import { Column, CreateDateColumn, Entity, Index, PrimaryColumn, PrimaryGeneratedColumn } from "typeorm";

export const IDENTITY_PROVIDER_KINDS = ["OIDC", "PARTNER_KEYS"] as const;
export type IdentityProviderKindValue = (typeof IDENTITY_PROVIDER_KINDS)[number];

/**
 * Keys Admit fetches from a JWKS URI: an OIDC identity provider whose ID tokens are
 * credentials (OIDC), or a partner's own public keys for asymmetric PARTNER_JWTs (PARTNER_KEYS).
 * The issuer is unique per company: a token's `iss` names its provider.
 */
@Entity({ name: "identity_providers" })
@Index("idx_identity_providers_issuer", ["companyId", "issuer"], { unique: true })
@Index("idx_identity_providers_list", ["companyId", "createdAt", "id"])
export class IdentityProviderEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "varchar", length: 16 })
  kind: IdentityProviderKindValue;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Column({ type: "varchar", length: 2048 })
  issuer: string;

  @Column({ type: "varchar", length: 2048 })
  jwksUri: string;

  /** The exact `aud` required (OIDC: the client id Admit's company has at the provider). */
  @Column({ type: "varchar", length: 2048, nullable: true })
  audience: string | null;

  /** Algorithms accepted from this provider (pinned). */
  @Column({ type: "text", array: true })
  algorithms: string[];

  @Column({ type: "varchar", length: 100, default: "sub" })
  externalIdClaim: string;

  @Column({ type: "varchar", length: 100, default: "email" })
  emailClaim: string;

  @Column({ type: "varchar", length: 100, default: "name" })
  nameClaim: string;

  /** Create unknown users just in time (charged against the seat limit). */
  @Column({ type: "boolean", default: true })
  jitEnabled: boolean;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  disabledAt: Date | null;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
