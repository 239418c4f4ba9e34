import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import type { RequestContext } from "../../graphql/context";
import { CreateApiKeyInput, CreateCompanyInput, UpdateCompanySettingsInput } from "./company.inputs";
import { toApiKeyType } from "./company.service";
import { ApiKeyType, CompanyType, CreateApiKeyPayload, CreateCompanyPayload } from "./company.types";

@Resolver(() => CompanyType)
export class CompanyResolver {
  @Authorized()
  @Query(() => CompanyType, { description: "The caller's company (API key)." })
  async company(@Ctx() ctx: RequestContext): Promise<CompanyType> {
    return ctx.services.companies.toType(await ctx.services.companies.getCompany(ctx));
  }

  @FieldResolver(() => Int, { description: "Non-guest users the company has (each takes a seat)." })
  seatsUsed(@Root() company: CompanyType, @Ctx() ctx: RequestContext): Promise<number> {
    return ctx.services.users.seatsUsed(company.id);
  }

  @Authorized("MANAGE_COMPANY")
  @FieldResolver(() => [ApiKeyType], { description: "The company's API keys, revoked ones included." })
  async apiKeys(@Root() _company: CompanyType, @Ctx() ctx: RequestContext): Promise<ApiKeyType[]> {
    return (await ctx.services.companies.listApiKeys(ctx)).map(toApiKeyType);
  }

  @Authorized("PLATFORM_ADMIN")
  @Mutation(() => CreateCompanyPayload, {
    description: "Creates a company and its first API key (platform admin key).",
  })
  createCompany(@Arg("input") input: CreateCompanyInput, @Ctx() ctx: RequestContext): Promise<CreateCompanyPayload> {
    return ctx.services.companies.createCompany(ctx, input);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => CompanyType, { description: "Changes the caller's company settings." })
  async updateCompanySettings(
    @Arg("input") input: UpdateCompanySettingsInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CompanyType> {
    return ctx.services.companies.toType(await ctx.services.companies.updateSettings(ctx, input));
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => CreateApiKeyPayload, { description: "Creates an API key; its secret is shown once." })
  createApiKey(@Arg("input") input: CreateApiKeyInput, @Ctx() ctx: RequestContext): Promise<CreateApiKeyPayload> {
    return ctx.services.companies.createApiKey(ctx, input);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => ApiKeyType, { description: "Revokes an API key; it fails from the next request on." })
  async revokeApiKey(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ApiKeyType> {
    return toApiKeyType(await ctx.services.companies.revokeApiKey(ctx, id));
  }
}
