import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn, Relation, UpdateDateColumn } from "typeorm";
import { UserEntity } from "../user/user.entity";

/**
 * A managed password (F7), in its own table so that no query of users can carry a hash by
 * accident. The hash is an argon2id PHC string (parameters and salt included).
 */
@Entity({ name: "user_passwords" })
export class UserPasswordEntity {
  @PrimaryColumn({ type: "uuid" })
  userId: string;

  @ManyToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn([
    { name: "user_id", referencedColumnName: "id" },
    { name: "company_id", referencedColumnName: "companyId" },
  ])
  user?: Relation<UserEntity>;

  /** Part of the primary key: a database distributed by company keeps every key within one company. */
  @PrimaryColumn({ type: "uuid" })
  companyId: string;

  @Column({ type: "text" })
  passwordHash: string;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
