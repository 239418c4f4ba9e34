import { Column, Entity, JoinColumn, OneToOne, PrimaryColumn, Relation, UpdateDateColumn } from "typeorm";
import { UserEntity } from "../user/user.entity";

/**
 * A managed password (F7), in its own table so that no query of users can carry a hash by
 * accident. The hash is an argon2id PHC string (parameters and salt included).
 */
@Entity({ name: "user_passwords" })
export class UserPasswordEntity {
  @PrimaryColumn({ type: "uuid" })
  userId: string;

  @OneToOne(() => UserEntity, { onDelete: "CASCADE" })
  @JoinColumn({ name: "user_id" })
  user?: Relation<UserEntity>;

  @Column({ type: "uuid" })
  companyId: string;

  @Column({ type: "text" })
  passwordHash: string;

  @UpdateDateColumn({ type: "timestamptz", precision: 3 })
  updatedAt: Date;
}
