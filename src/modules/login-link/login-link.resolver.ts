import { Arg, Authorized, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from "type-graphql";
import { companyIdOf, RequestContext } from "../../graphql/context";
import { notFound } from "../../errors";
import { EventType } from "../event/event.types";
import { toUserType } from "../user/user.service";
import { UserType } from "../user/user.types";
import { CreateLoginLinkInput } from "./login-link.inputs";
import { LoginLinkType } from "./login-link.types";

@Resolver(() => LoginLinkType)
export class LoginLinkResolver {
  @Authorized("MINT_TOKENS")
  @Mutation(() => LoginLinkType, {
    description: "Creates a one-time login link for a user. Its url carries the secret code and is shown here only.",
  })
  async createLoginLink(@Arg("input") input: CreateLoginLinkInput, @Ctx() ctx: RequestContext): Promise<LoginLinkType> {
    const { link, url } = await ctx.services.loginLinks.create(ctx, input);
    return ctx.services.loginLinks.toType(link, url);
  }

  @Authorized("MINT_TOKENS")
  @Mutation(() => LoginLinkType, {
    description: "Expires an unopened login link at once; revoking again, or a used link, answers the link as it is.",
  })
  async revokeLoginLink(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<LoginLinkType> {
    return ctx.services.loginLinks.toType(await ctx.services.loginLinks.revoke(ctx, id));
  }

  @Authorized("MINT_TOKENS")
  @Query(() => LoginLinkType, {
    nullable: true,
    description: "A login link of the caller's company, by id (its url is null).",
  })
  async loginLink(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<LoginLinkType | null> {
    const link = await ctx.services.loginLinks.get(ctx, id);
    return link ? ctx.services.loginLinks.toType(link) : null;
  }

  @FieldResolver(() => UserType, { description: "The user the link signs in." })
  async user(@Root() link: LoginLinkType, @Ctx() ctx: RequestContext): Promise<UserType> {
    if (link.companyId !== companyIdOf(ctx)) throw notFound("The login link");
    return toUserType(await ctx.loaders.userById.load(link.userId));
  }

  @FieldResolver(() => EventType, {
    nullable: true,
    description: "The event the link opens; null: the company's landing page.",
  })
  async event(@Root() link: LoginLinkType, @Ctx() ctx: RequestContext): Promise<EventType | null> {
    if (link.companyId !== companyIdOf(ctx)) throw notFound("The login link");
    return link.eventId ? ctx.services.events.toType(await ctx.loaders.eventById.load(link.eventId)) : null;
  }
}

/** Every resolver of login links, for RESOLVERS in src/graphql/schema.ts. */
export const LOGIN_LINK_RESOLVERS = [LoginLinkResolver] as const;
