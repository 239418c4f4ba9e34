import { Field, ID, ObjectType } from "type-graphql";
import { Access } from "../../graphql/access";
import { JSONObjectScalar } from "../../graphql/scalars";

@ObjectType("JoinToken", { description: "A signed join token (join+jwt) and the join URL that carries it." })
export class JoinTokenType {
  @Field({ description: "The token. Stateless: minting stores nothing." })
  token: string;

  @Field({ description: "<PUBLIC_URL>/j/<event slug>?token=…" })
  joinUrl: string;

  @Field(() => ID, { description: "The token id, for revokeToken." })
  jti: string;

  @Field(() => Date, { nullable: true, description: "Expiry; null when the token never expires." })
  expiresAt: Date | null;

  @Field(() => Date, { nullable: true, description: "Not valid before this time." })
  notBefore: Date | null;
}

// Only what the presented token itself says: whoever holds the token can read it.
@ObjectType("TokenValidation", { description: "What validateToken found, without joining." })
export class TokenValidationType {
  @Access("public")
  @Field({ description: "Whether the token would be accepted now." })
  valid: boolean;

  @Access("public")
  @Field(() => String, { nullable: true, description: "Why not: TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID or TOKEN_REVOKED." })
  errorCode: string | null;

  @Access("public")
  @Field(() => String, { nullable: true, description: "join, registration or session (from the typ header)." })
  tokenType: string | null;

  @Access("public")
  @Field(() => JSONObjectScalar, { nullable: true, description: "The verified claims; null unless the signature verified." })
  claims: Record<string, unknown> | null;

  @Access("public")
  @Field(() => Date, { nullable: true, description: "Expiry of a verified token." })
  expiresAt: Date | null;
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

  @Field(() => Date, { nullable: true, description: "When it stops verifying and leaves the JWKS; null while current or kept for ever." })
  retiresAt: Date | null;
}
