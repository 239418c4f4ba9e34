import { Field, InputType } from "type-graphql";
import type { IdentityProviderKindValue } from "../identity-provider/identity-provider.entity";
import { IdentityProviderKind } from "./partner.types";

@InputType({ description: "A new partner secret." })
export class CreatePartnerSecretInput {
  @Field({ description: "What the secret is for (at most 200 characters)." })
  name: string;
}

@InputType({ description: "Which ID-token claims give the user's fields; absent fields keep their defaults." })
export class ClaimMappingInput {
  @Field({ nullable: true, description: "The claim holding the user's external id (default sub)." })
  externalId?: string;

  @Field({
    nullable: true,
    description:
      "The claim holding the email (default email). Only the email claim is taken, and only when email_verified is true: another claim is never taken.",
  })
  email?: string;

  @Field({ nullable: true, description: "The claim holding the display name (default name)." })
  name?: string;
}

@InputType({ description: "An identity provider (OIDC) or a partner's own public keys (PARTNER_KEYS)." })
export class AddIdentityProviderInput {
  @Field(() => IdentityProviderKind, { nullable: true, description: "OIDC (default) or PARTNER_KEYS." })
  kind?: IdentityProviderKindValue;

  @Field({ description: "What the provider is (at most 200 characters)." })
  name: string;

  @Field({ description: "The exact `iss` of its tokens; unique per company." })
  issuer: string;

  @Field({
    description:
      "https URL of its JWKS, on a host with public addresses only (http, and loopback hosts, only outside production).",
  })
  jwksUri: string;

  @Field({
    nullable: true,
    description:
      "The exact `aud` its tokens must carry: required for OIDC (Admit's client id at the provider). PARTNER_KEYS without one: tokens must carry the company's Admit issuer (<PUBLIC_URL>/c/<companySlug>) as `aud`.",
  })
  audience?: string;

  @Field(() => [String], {
    nullable: true,
    description: "Accepted algorithms, asymmetric only (default RS256, ES256, EdDSA).",
  })
  algorithms?: string[];

  @Field(() => ClaimMappingInput, {
    nullable: true,
    description: "Which claims give the user's fields (default sub, email, name).",
  })
  claimMapping?: ClaimMappingInput;

  @Field({
    nullable: true,
    description: "Create unknown users just in time (default true); false: only existing users, by external id.",
  })
  jitEnabled?: boolean;
}
