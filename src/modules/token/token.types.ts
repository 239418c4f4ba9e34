import { Field, ID, ObjectType } from "type-graphql";
import { Access } from "../../graphql/access";
import { JSONObjectScalar } from "../../graphql/scalars";
import { Role } from "../../graphql/enums";
import { EventType } from "../event/event.types";
import { UserType } from "../user/user.types";

@ObjectType("JoinToken", { description: "A signed join token (join+jwt) and the join URL that carries it." })
export class JoinTokenType {
  @Field({ description: "The token. Stateless: minting stores nothing." })
  token: string;

  @Field({
    description:
      "<PUBLIC_URL>/j/<event slug>?token=…; for a token that opens any event, the company page <PUBLIC_URL>/c/<companySlug>/?token=…",
  })
  joinUrl: string;

  @Field(() => ID, { description: "The token id, for revokeToken." })
  jti: string;

  @Field(() => Date, { nullable: true, description: "Expiry; null when the token never expires." })
  expiresAt: Date | null;

  @Field(() => Date, { nullable: true, description: "Not valid before this time." })
  notBefore: Date | null;
}

// Whom a credential would admit. The user and the event are shown by their own rules (their
// fields need the company's key, or a session of this request that they belong to): holding a
// credential does not open the records behind it.
@ObjectType("Admission", { description: "Whom a credential would admit, found without joining." })
export class AdmissionType {
  @Access("public")
  @Field(() => UserType, {
    nullable: true,
    description: "The existing user it names; null when joining would create them (just in time).",
  })
  user: UserType | null;

  @Access("public")
  @Field(() => EventType, {
    nullable: true,
    description: "The event it opens (or the event named); null when it opens any event of the company.",
  })
  event: EventType | null;

  @Access("public")
  @Field(() => Role, {
    nullable: true,
    description:
      "The role it would have in that event now (its lists and the credential's grant); null without an event.",
  })
  role: Role | null;
}

// Only what the presented token itself says: whoever holds the token can read it.
@ObjectType("TokenValidation", { description: "What validateToken found, without joining." })
export class TokenValidationType {
  @Access("public")
  @Field({ description: "Whether the token would be accepted now." })
  valid: boolean;

  @Access("public")
  @Field(() => String, {
    nullable: true,
    description:
      "Why not: TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID, TOKEN_REVOKED, TOKEN_WRONG_EVENT, LOGIN_LINK_USED, LOGIN_LINK_EXPIRED, INVALID_CREDENTIALS or NOT_FOUND.",
  })
  errorCode: string | null;

  @Access("public")
  @Field(() => String, {
    nullable: true,
    description:
      "join, registration or session (Admit's own, from the typ header); partner_jwt, oidc_id_token or login_link.",
  })
  tokenType: string | null;

  @Access("public")
  @Field(() => JSONObjectScalar, {
    nullable: true,
    description: "The verified claims; null unless the signature verified.",
  })
  claims: Record<string, unknown> | null;

  @Access("public")
  @Field(() => Date, { nullable: true, description: "Expiry of a verified token." })
  expiresAt: Date | null;

  @Access("public")
  @Field(() => AdmissionType, {
    nullable: true,
    description: "Whom it would admit (user, event, role), without joining; null unless valid.",
  })
  admits: AdmissionType | null;

  /** Finds `admits` when it is asked for (its statements are not run for a bare validity check). */
  admitsOf?: () => Promise<AdmissionType | null>;
}

@ObjectType("SigningKey", { description: "A company key that signs Admit's tokens. Only public facts are shown." })
export class SigningKeyType {
  @Field(() => ID, { description: "The JWT kid." })
  kid: string;

  @Field({ description: "EdDSA (Ed25519) or ES256." })
  alg: string;

  @Field({ description: "Whether new tokens are signed with it." })
  current: boolean;

  @Field({ description: "When it was made." })
  createdAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: "When it stops verifying and leaves the JWKS; null while current or kept for ever.",
  })
  retiresAt: Date | null;
}
