import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from "typeorm";

/** The platform admin key made on first start (when ADMIN_API_KEY is not set), hashed. */
@Entity({ name: "platform_admin_keys" })
export class PlatformAdminKeyEntity {
  @PrimaryGeneratedColumn("uuid")
  id: string;

  @Index("idx_platform_admin_keys_lookup", { unique: true })
  @Column({ type: "varchar", length: 16 })
  lookup: string;

  @Column({ type: "char", length: 64 })
  secretHash: string;

  @CreateDateColumn({ type: "timestamptz", precision: 3 })
  createdAt: Date;
}
