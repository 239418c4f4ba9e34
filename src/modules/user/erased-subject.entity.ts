import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, Relation } from "typeorm";
import { CompanyEntity } from "../company/company.entity";

/**
 * The external id of a deleted user, as a digest only (SHA-256 of "<company id> <external id>"):
 * a credential issued before the deletion that names it (a join token, a partner JWT, an ID token
 * with the user's profile) would otherwise create the person again just in time. One issued
 * after it may: the company chose to bring the person back.
 */
@Entity({ name: "erased_subjects" })
export class ErasedSubjectEntity {
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @ManyToOne(() => CompanyEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "company_id" })
  company?: Relation<CompanyEntity>;

  @PrimaryColumn({ type: "char", length: 64 })
  digest: string;

  /**
   * The revocation view's 32-bit fingerprint of (company, external id) (revocations.ts), so a
   * node loading the view still refuses, in validateToken, join tokens issued before the erasure.
   */
  @Column({ type: "integer" })
  print: number;

  /** Credentials issued before this are refused. */
  @Column({ type: "timestamptz", precision: 3 })
  erasedAt: Date;
}
