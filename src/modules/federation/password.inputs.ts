import { Field, ID, InputType } from "type-graphql";

@InputType({ description: "Gives a user a managed password (F7), replacing any it had." })
export class SetUserPasswordInput {
  @Field(() => ID, { description: "Admit's id of a (non-guest) user of the caller's company." })
  userId: string;

  @Field({ description: "12 to 256 characters (Unicode code points, NFC), not only spaces. Stored only as an argon2id hash." })
  password: string;
}
