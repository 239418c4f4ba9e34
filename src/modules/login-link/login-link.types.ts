import { Field, ID, ObjectType, registerEnumType } from "type-graphql";

export enum LoginLinkStatus {
  ACTIVE = "ACTIVE",
  USED = "USED",
  EXPIRED = "EXPIRED",
  REVOKED = "REVOKED",
}
registerEnumType(LoginLinkStatus, {
  name: "LoginLinkStatus",
  description: "Where a login link stands, as of the moment it is read.",
  valuesConfig: {
    ACTIVE: { description: "May still be opened, once, before expiresAt." },
    USED: { description: "Was opened: it made a session and cannot be opened again." },
    EXPIRED: { description: "Was not opened before expiresAt." },
    REVOKED: { description: "revokeLoginLink expired it before it was opened." },
  },
});

@ObjectType("LoginLink", {
  description: "A one-time URL that signs a user in: short window, single use, revocable by id.",
})
export class LoginLinkType {
  @Field(() => ID, { description: "Login link id (revokeLoginLink takes it); also the jti of the sessions it opens." })
  id: string;

  @Field(() => String, {
    nullable: true,
    description:
      "<PUBLIC_URL>/login/<code>. It carries the secret code, so it is returned only by createLoginLink and is null everywhere else: send it to the user at once.",
  })
  url: string | null;

  @Field(() => LoginLinkStatus, { description: "ACTIVE, USED, EXPIRED or REVOKED, as of now." })
  status: LoginLinkStatus;

  @Field(() => ID, { description: "The user the link signs in." })
  userId: string;

  @Field(() => ID, {
    nullable: true,
    description: "The event the link opens; null: the company's landing page (and any event through joinEvent).",
  })
  eventId: string | null;

  @Field(() => String, {
    nullable: true,
    description: "Where the browser is sent when the session the link opened expires.",
  })
  redirectOnExpiryUrl: string | null;

  @Field({ description: "The link cannot be opened from this moment on." })
  expiresAt: Date;

  @Field({ description: "When the link was created." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When the link was opened; null while unused." })
  usedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When revokeLoginLink revoked it; null otherwise." })
  revokedAt: Date | null;

  /** Not in the schema: the tenant, for checks. */
  companyId: string;
}
