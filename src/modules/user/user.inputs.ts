import { Field, InputType } from "type-graphql";
import { JSONObjectScalar } from "../../graphql/scalars";

@InputType({ description: "Creates the user with this external id, or updates it." })
export class UpsertUserInput {
  @Field({ description: "The company's own user id (matched exactly, at most 255 characters)." })
  externalId: string;

  @Field({ nullable: true, description: "Email." })
  email?: string;

  @Field({ nullable: true, description: "Display name." })
  name?: string;

  @Field({ nullable: true, description: "Avatar URL (http or https)." })
  avatarUrl?: string;

  @Field(() => JSONObjectScalar, {
    nullable: true,
    description: "Free metadata (at most 8 KB serialized); replaces the old.",
  })
  metadata?: Record<string, unknown>;
}
