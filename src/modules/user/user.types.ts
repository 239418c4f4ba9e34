import { Field, ID, ObjectType } from "type-graphql";
import { Access, AccessOwner } from "../../graphql/access";
import { JSONObjectScalar } from "../../graphql/scalars";
import { Connection } from "../../graphql/connection";

// What the person sees about themselves; nobody else without the company's key, except the
// readers of an event's report for the users met there as its attendees.
@AccessOwner((u: UserType) => ({ companyId: u.companyId, eventId: u.viaEventId ?? null, userId: u.id }))
@ObjectType("User", { description: "An identity of the company: created by API, just in time from a credential, or as a guest." })
export class UserType {
  @Access("self")
  @Field(() => ID, { description: "Admit's user id." })
  id: string;

  @Access("self")
  @Field(() => String, { nullable: true, description: "The company's own user id; null for guests." })
  externalId: string | null;

  @Access("self")
  @Field(() => String, { nullable: true, description: "Email as given." })
  email: string | null;

  @Access("self")
  @Field(() => String, { nullable: true, description: "Display name." })
  name: string | null;

  @Access("self")
  @Field(() => String, { nullable: true, description: "Avatar URL; the Gravatar of the email when none was given." })
  avatarUrl: string | null;

  @Access("self")
  @Field(() => JSONObjectScalar, { description: "Free metadata the company attached." })
  metadata: Record<string, unknown>;

  @Access("self")
  @Field({ description: "A guest of a public event: takes no seat." })
  isGuest: boolean;

  @Access("self")
  @Field({ description: "When the user was created." })
  createdAt: Date;

  @Access("self")
  @Field({ description: "When the user was last changed." })
  updatedAt: Date;

  /** Not in the schema: the tenant, for access rules. */
  companyId: string;
  /** Not in the schema: the event this user was reached through as an attendee (Attendee.user), for access rules. */
  viaEventId?: string;
}

export const UserConnection = Connection(UserType, "User");
export type UserConnection = InstanceType<typeof UserConnection>;
