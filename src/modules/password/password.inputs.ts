import { Field, ID, InputType } from "type-graphql";

@InputType({ description: "Gives a user a managed password, replacing any it had." })
export class SetUserPasswordInput {
  @Field(() => ID, {
    nullable: true,
    description: "Admit's id (User.id) of a (non-guest) user of the caller's company. Give this or externalId.",
  })
  userId?: string | null;

  @Field(() => String, { nullable: true, description: "The company's own id for the user. Give this or userId." })
  externalId?: string | null;

  @Field({
    description: "12 to 256 characters (Unicode code points, NFC), not only spaces. Stored only as an argon2id hash.",
  })
  password: string;
}
