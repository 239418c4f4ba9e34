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
import { CompanyEntity } from "./company.entity";

export const API_SCOPES = ["MANAGE_COMPANY", "MANAGE_EVENTS", "MANAGE_USERS", "MINT_TOKENS", "READ_ANALYTICS"] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** A company API key. Only the SHA-256 of the secret is kept, found by its lookup prefix. */
@Entity({ name: "api_keys" })
@Index("idx_api_keys_lookup", ["lookup", "companyId"], { unique: true })
export class ApiKeyEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Index("idx_api_keys_company")
  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @ManyToOne(() => CompanyEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "company_id" })
  company?: Relation<CompanyEntity>;

  @Column({ type: "varchar", length: 200 })
  name: string;

  @Column({ type: "varchar", length: 16 })
  lookup: string;

  @Column({ type: "char", length: 64 })
  secretHash: string;

  @Column({ type: "text", array: true })
  scopes: ApiScope[];

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  lastUsedAt: Date | null;

  @Column({ type: "timestamptz", precision: 3, nullable: true })
  revokedAt: Date | null;
}
