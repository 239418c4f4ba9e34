import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import { literalEnum } from "../../graphql/enums";
import { IDENTITY_PROVIDER_KINDS } from "../identity-provider/identity-provider.entity";

export const IdentityProviderKind = literalEnum(IDENTITY_PROVIDER_KINDS);
registerEnumType(IdentityProviderKind, {
  name: "IdentityProviderKind",
  description: "What a registered JWKS issuer vouches for.",
  valuesConfig: {
    OIDC: { description: "An OpenID Connect provider: its ID tokens are OIDC_ID_TOKEN credentials." },
    PARTNER_KEYS: {
      description:
        "A partner's own public keys: its asymmetric PARTNER_JWTs (ES256, EdDSA, RS256…) are verified with them.",
    },
  },
});

@ObjectType("PartnerSecret", {
  description: "A shared HS256 secret a partner signs its JWTs with. The secret itself is shown once, at creation.",
})
export class PartnerSecretType {
  @Field(() => ID, { description: "Partner secret id: the `kid` the partner puts in its JWT header." })
  id: string;

  @Field({ description: "What the secret is for." })
  name: string;

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When it last verified a token (to the minute)." })
  lastUsedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When it was revoked; null while it verifies tokens." })
  revokedAt: Date | null;
}

@ObjectType({ description: "A new partner secret and the secret itself (shown once)." })
export class CreatePartnerSecretPayload {
  @Field(() => PartnerSecretType, { description: "The partner secret; its id is the JWT kid." })
  partnerSecret: PartnerSecretType;

  @Field({ description: "The HS256 secret: its UTF-8 bytes are the HMAC key. Shown once: store it now." })
  secret: string;
}

@ObjectType("ClaimMapping", { description: "Which ID-token claims give the user's fields." })
export class ClaimMappingType {
  @Field({ description: "The claim holding the user's external id (default sub)." })
  externalId: string;

  @Field({ description: "The claim holding the email (default email)." })
  email: string;

  @Field({ description: "The claim holding the display name (default name)." })
  name: string;
}

@ObjectType("IdentityProvider", {
  description: "An issuer whose keys Admit fetches from a JWKS URI: an OIDC provider or a partner's own keys.",
})
export class IdentityProviderType {
  @Field(() => ID, { description: "Identity provider id." })
  id: string;

  @Field(() => IdentityProviderKind, { description: "OIDC or PARTNER_KEYS." })
  kind: string;

  @Field({ description: "What the provider is." })
  name: string;

  @Field({ description: "The exact `iss` of its tokens; unique per company." })
  issuer: string;

  @Field({ description: "Where its public keys are fetched." })
  jwksUri: string;

  @Field(() => String, {
    nullable: true,
    description:
      "The exact `aud` its tokens must carry (OIDC: Admit's client id at the provider). Null (PARTNER_KEYS only): the company's Admit issuer.",
  })
  audience: string | null;

  @Field(() => [String], { description: "The signing algorithms accepted from it." })
  algorithms: string[];

  @Field(() => ClaimMappingType, { description: "Which claims give the user's fields." })
  claimMapping: ClaimMappingType;

  @Field({ description: "Whether unknown users are created just in time (taking a seat)." })
  jitEnabled: boolean;

  @Field({ description: "When it was registered." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When it was removed; its tokens are refused since." })
  disabledAt: Date | null;
}
