import { Check, Column, Entity, PrimaryColumn } from "typeorm";

/**
 * Proof of which master key this database's encrypted columns are under: a constant encrypted
 * with it (AES-256-GCM, the key id as associated data). One row. A node whose MASTER_KEY cannot
 * open it refuses to start, instead of starting and answering INTERNAL at the first mint.
 */
@Entity({ name: "master_key_verifiers" })
@Check("master_key_verifiers_single_row", `"id" = 1`)
export class MasterKeyVerifierEntity {
  /** Always 1: there is one master key per database. */
  @PrimaryColumn({ type: "smallint" })
  id: number;

  /** KeyEncryption.keyId of the key: names it in messages without revealing it. */
  @Column({ type: "varchar", length: 32 })
  keyId: string;

  @Column({ type: "text" })
  verifier: string;

  /** When this key was recorded (first start, or the last rotation). */
  @Column({ type: "timestamptz", precision: 3 })
  recordedAt: Date;
}
