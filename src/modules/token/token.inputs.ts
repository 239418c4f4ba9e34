import { Field, ID, InputType, Int } from "type-graphql";
import { Role } from "../../graphql/enums";
import { JSONObjectScalar } from "../../graphql/scalars";

@InputType({ description: "The user a join token names." })
export class TokenUserInput {
  @Field({ description: "The company's own user id (becomes the token's sub)." })
  id: string;

  @Field({ nullable: true, description: "Display name." })
  name?: string;

  @Field({ nullable: true, description: "Email." })
  email?: string;

  @Field({ nullable: true, description: "Avatar URL." })
  avatarUrl?: string;

  @Field(() => JSONObjectScalar, { nullable: true, description: "User metadata, stored on the user at join." })
  metadata?: Record<string, unknown>;
}

@InputType({
  description: "What a join token carries (an events platform's embed token plus a video API's access-token grants).",
})
export class MintJoinTokenInput {
  @Field(() => ID, { nullable: true, description: "The event; required unless eventSpecific is false." })
  eventId?: string;

  @Field({
    nullable: true,
    description: "Default true: the token opens this event only. False: any event of the company.",
  })
  eventSpecific?: boolean;

  @Field(() => TokenUserInput, { description: "Who the token is for." })
  user: TokenUserInput;

  @Field(() => Role, { nullable: true, description: "A role grant; absent = resolved from the event's lists at join." })
  role?: Role;

  @Field(() => Int, {
    nullable: true,
    description: "Lifetime in seconds (default: company setting). 0 = no expiry, where the company allows it.",
  })
  ttlSeconds?: number;

  @Field({ nullable: true, description: "Absolute expiry, instead of ttlSeconds." })
  expiresAt?: Date;

  @Field({ nullable: true, description: "Not valid before this time." })
  notBefore?: Date;

  @Field(() => Int, { nullable: true, description: "The session ends this many seconds after joining." })
  ejectAfterElapsedSeconds?: number;

  @Field({ nullable: true, description: "The session ends when the token expires." })
  ejectAtTokenExpiry?: boolean;

  @Field(() => JSONObjectScalar, {
    nullable: true,
    description: "Free metadata carried into the session (at most 1000 characters serialized).",
  })
  metadata?: Record<string, unknown>;
}
