import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { literalEnum } from "../../graphql/enums";
import { USER_ORIGINS, type UserOriginValue } from "./user.entity";
import { Access, AccessOwner } from "../../graphql/access";
import { JSONObjectScalar } from "../../graphql/scalars";
import { Connection } from "../../graphql/connection";

export const UserOrigin = literalEnum(USER_ORIGINS);
registerEnumType(UserOrigin, {
  name: "UserOrigin",
  description: "How a user came to exist.",
  valuesConfig: {
    API: { description: "upsertUser (or before origins were recorded)." },
    PARTNER_JWT: { description: "Just in time, from a partner-signed JWT." },
    OIDC: { description: "Just in time, from an ID token of a registered identity provider." },
    LOGIN_LINK: { description: "Along with a one-time login link." },
    PASSWORD: { description: "Along with a managed password." },
    GUEST: { description: "A guest of a public event (or an approved knock), by display name." },
    JOIN_TOKEN: { description: "Just in time, from a join token minted by the company (or a token exchange)." },
    REGISTRATION: { description: "For a registration's first join." },
  },
});

@InputType({ description: "Narrows users()." })
export class UserFilter {
  @Field(() => UserOrigin, {
    nullable: true,
    description: "Only users created this way (e.g. PARTNER_JWT: a partner's just-in-time users).",
  })
  createdVia?: UserOriginValue;
}

// What the person sees about themselves; nobody else without the company's key, except the
// readers of an event's report for the users met there as its attendees.
@AccessOwner((u: UserType) => ({ companyId: u.companyId, eventId: u.viaEventId ?? null, userId: u.id }))
@ObjectType("User", {
  description: "An identity of the company: created by API, just in time from a credential, or as a guest.",
})
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

  @Access("key")
  @Field(() => UserOrigin, {
    description: "How the user came to exist: the API, or the credential that created it just in time.",
  })
  createdVia: UserOriginValue;

  @Access("key")
  @Field(() => Date, {
    nullable: true,
    description: "When suspendUser suspended the user (every credential refused); null when not suspended.",
  })
  suspendedAt: Date | null;

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
