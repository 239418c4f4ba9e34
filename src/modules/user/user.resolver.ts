import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { RequestContext } from "../../graphql/context";
import { toUserType } from "./user.service";
import { UpsertUserInput } from "./user.inputs";
import { UserConnection, UserFilter, UserType } from "./user.types";

@Resolver(() => UserType)
export class UserResolver {
  @Authorized()
  @Query(() => UserType, {
    nullable: true,
    description: "A user of the caller's company, by exactly one of id, externalId and email.",
  })
  async user(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "Admit's user id." }) id?: string,
    @Arg("externalId", () => String, { nullable: true, description: "The company's user id." }) externalId?: string,
    @Arg("email", () => String, {
      nullable: true,
      description: "Email, matched case-insensitively (the oldest user with it).",
    })
    email?: string,
  ): Promise<UserType | null> {
    const user = await ctx.services.users.findOne(ctx, { id, externalId, email });
    return user ? toUserType(user) : null;
  }

  @Authorized()
  @Query(() => UserConnection, { description: "The company's users, oldest first." })
  users(
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, { nullable: true, description: "Page size (default 20, at most 100)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
    @Arg("search", () => String, { nullable: true, description: "Part of a name, email or external id." })
    search?: string,
    @Arg("filter", () => UserFilter, { nullable: true, description: "Only the users that match." }) filter?: UserFilter,
  ): Promise<UserConnection> {
    return ctx.services.users.list(ctx, first, after, search, filter);
  }

  @Authorized("MANAGE_USERS")
  @Mutation(() => UserType, {
    description:
      "Suspends a user (Admit's id or the company's external id): live sessions end as SUSPENDED, every credential is refused with USER_SUSPENDED, the seat is kept.",
  })
  async suspendUser(
    @Arg("id", () => ID, { description: "Admit's user id or the company's external id." }) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<UserType> {
    return toUserType(await ctx.services.userLifecycle.suspend(ctx, id));
  }

  @Authorized("MANAGE_USERS")
  @Mutation(() => UserType, {
    description: "Lifts a suspension: the user's credentials work again. Sessions it ended stay ended.",
  })
  async unsuspendUser(
    @Arg("id", () => ID, { description: "Admit's user id or the company's external id." }) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<UserType> {
    return toUserType(await ctx.services.userLifecycle.unsuspend(ctx, id));
  }

  @Authorized("MANAGE_USERS")
  @Mutation(() => Boolean, {
    description:
      "Erases a user for a privacy request: live sessions end, credentials are revoked, the seat is freed, and name, email, avatar, external id and metadata are removed everywhere; analytics keep the counts and seconds, anonymous.",
  })
  async deleteUser(
    @Arg("id", () => ID, { description: "Admit's user id or the company's external id." }) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<boolean> {
    return ctx.services.userLifecycle.delete(ctx, id);
  }

  @Authorized("MANAGE_USERS")
  @Mutation(() => UserType, { description: "Creates the user with this external id (taking a seat) or updates it." })
  async upsertUser(@Arg("input") input: UpsertUserInput, @Ctx() ctx: RequestContext): Promise<UserType> {
    return toUserType(await ctx.services.users.upsert(ctx, input));
  }
}
