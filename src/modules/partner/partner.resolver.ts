import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from "type-graphql";
import { companyIdOf, RequestContext } from "../../graphql/context";
import { CompanyType } from "../company/company.types";
import { AddIdentityProviderInput, CreatePartnerSecretInput } from "./partner.inputs";
import { toIdentityProviderType } from "./partner.service";
import { CreatePartnerSecretPayload, IdentityProviderType, PartnerSecretType } from "./partner.types";

@Resolver(() => CompanyType)
export class PartnerResolver {
  @Authorized("MANAGE_COMPANY")
  @Mutation(() => CreatePartnerSecretPayload, {
    description:
      "Creates an HS256 partner secret; the secret is shown once. Partners sign JWTs with it, its id as the kid.",
  })
  createPartnerSecret(
    @Arg("input") input: CreatePartnerSecretInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CreatePartnerSecretPayload> {
    return ctx.services.partners.createSecret(ctx, input);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => PartnerSecretType, {
    description: "Revokes a partner secret: tokens signed with it are refused within seconds on every node.",
  })
  revokePartnerSecret(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<PartnerSecretType> {
    return ctx.services.partners.revokeSecret(ctx, id);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => IdentityProviderType, {
    description:
      "Registers an OIDC identity provider (its ID tokens join as OIDC_ID_TOKEN) or a partner's own public keys (PARTNER_KEYS).",
  })
  async addIdentityProvider(
    @Arg("input") input: AddIdentityProviderInput,
    @Ctx() ctx: RequestContext,
  ): Promise<IdentityProviderType> {
    return toIdentityProviderType(await ctx.services.partners.addProvider(ctx, input));
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => IdentityProviderType, {
    description: "Removes an identity provider: its tokens are refused from the next join on.",
  })
  async removeIdentityProvider(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<IdentityProviderType> {
    return toIdentityProviderType(await ctx.services.partners.removeProvider(ctx, id));
  }

  @Authorized("MANAGE_COMPANY")
  @FieldResolver(() => [PartnerSecretType], {
    description: "Partner secrets, revoked ones included, oldest first (never the secret itself).",
  })
  partnerSecrets(@Root() _company: CompanyType, @Ctx() ctx: RequestContext): Promise<PartnerSecretType[]> {
    return ctx.services.partners.listSecrets(companyIdOf(ctx));
  }

  @Authorized("MANAGE_COMPANY")
  @FieldResolver(() => [IdentityProviderType], {
    description: "Identity providers and partner keys, removed ones included, oldest first.",
  })
  async identityProviders(@Root() _company: CompanyType, @Ctx() ctx: RequestContext): Promise<IdentityProviderType[]> {
    return (await ctx.services.partners.listProviders(companyIdOf(ctx))).map(toIdentityProviderType);
  }
}

export const PARTNER_RESOLVERS = [PartnerResolver] as const;
