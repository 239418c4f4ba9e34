import { Column, Entity, PrimaryColumn } from "typeorm";

/**
 * Failed password attempts in a fixed window, per company and subject ("name:<sha256 of the
 * username>", counted whether or not it names a user, or "ip:<address>"). In the database so every node shares the count; moved by one upsert.
 */
@Entity({ name: "auth_failures" })
export class AuthFailureEntity {
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @PrimaryColumn({ type: "varchar", length: 200 })
  subject: string;

  @Column({ type: "timestamptz", precision: 3 })
  windowStartedAt: Date;

  @Column({ type: "integer" })
  failures: number;
}
