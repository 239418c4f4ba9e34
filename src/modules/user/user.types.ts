import { Field, ID, ObjectType } from "type-graphql";
import { JSONObjectScalar } from "../../graphql/scalars";
import { Connection } from "../../graphql/connection";

@ObjectType("User", { description: "An identity of the company: created by API, just in time from a credential, or as a guest." })
export class UserType {
  @Field(() => ID, { description: "Admit's user id." })
  id: string;

  @Field(() => String, { nullable: true, description: "The company's own user id; null for guests." })
  externalId: string | null;

  @Field(() => String, { nullable: true, description: "Email as given." })
  email: string | null;

  @Field(() => String, { nullable: true, description: "Display name." })
  name: string | null;

  @Field(() => String, { nullable: true, description: "Avatar URL; the Gravatar of the email when none was given." })
  avatarUrl: string | null;

  @Field(() => JSONObjectScalar, { description: "Free metadata the company attached." })
  metadata: Record<string, unknown>;

  @Field({ description: "A guest of a public event: takes no seat." })
  isGuest: boolean;

  @Field({ description: "When the user was created." })
  createdAt: Date;

  @Field({ description: "When the user was last changed." })
  updatedAt: Date;
}

export const UserConnection = Connection(UserType, "User");
export type UserConnection = InstanceType<typeof UserConnection>;
