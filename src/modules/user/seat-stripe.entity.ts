import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, Relation } from "typeorm";
import { CompanyEntity } from "../company/company.entity";

/**
 * The company's seats in use, split over SEAT_STRIPES rows so that users created at the same time
 * take different rows instead of queueing on one counter. With a seat limit, each stripe has a
 * `cap` and the caps sum to the limit, so the stripes together can never pass it; without one,
 * `cap` is null. Seats in use = companies.seats_used (seats counted before stripes existed) + the
 * sum of `used`. Written only by the SQL functions admit_take_seat and admit_set_seat_limit.
 */
@Entity({ name: "seat_stripes" })
export class SeatStripeEntity {
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @ManyToOne(() => CompanyEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "company_id" })
  company?: Relation<CompanyEntity>;

  @PrimaryColumn({ type: "smallint" })
  stripe: number;

  @Column({ type: "integer", default: 0 })
  used: number;

  @Column({ type: "integer", nullable: true })
  cap: number | null;
}
