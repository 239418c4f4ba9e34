import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { Access } from "../../graphql/access";
import { companyIdOf, RequestContext } from "../../graphql/context";
import { Role } from "../../graphql/enums";
import { toPrincipalType } from "./event.service";
import { CreateEventInput, EventFilter, EventPrincipalsInput, UpdateEventInput } from "./event.inputs";
import { EventConnection, EventType, PrincipalType } from "./event.types";

@Resolver(() => EventType)
export class EventResolver {
  @Authorized()
  @Query(() => EventType, {
    nullable: true,
    description: "An event of the caller's company; null when there is none with this id.",
  })
  async event(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<EventType | null> {
    const event = await ctx.services.events.find(companyIdOf(ctx), id);
    return event ? ctx.services.events.toType(event) : null;
  }

  @Authorized()
  @Query(() => EventConnection, { description: "The company's events, oldest first." })
  async events(
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, { nullable: true, description: "Page size (default 20, at most 100)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
    @Arg("filter", () => EventFilter, { nullable: true, description: "Narrows the list." }) filter?: EventFilter,
  ): Promise<EventConnection> {
    return ctx.services.events.list(ctx, first, after, filter);
  }

  @Access("organizer-or-key")
  @FieldResolver(() => [PrincipalType], { description: "The presenter list." })
  async presenters(@Root() event: EventType, @Ctx() ctx: RequestContext): Promise<PrincipalType[]> {
    const rows = await ctx.loaders.principalsByEvent.load(event.id);
    return rows.filter((r) => r.role === Role.PRESENTER).map((r) => toPrincipalType(r, event.companyId));
  }

  @Access("organizer-or-key")
  @FieldResolver(() => [PrincipalType], { description: "The organizer list." })
  async organizers(@Root() event: EventType, @Ctx() ctx: RequestContext): Promise<PrincipalType[]> {
    const rows = await ctx.loaders.principalsByEvent.load(event.id);
    return rows.filter((r) => r.role === Role.ORGANIZER).map((r) => toPrincipalType(r, event.companyId));
  }

  @Authorized("MANAGE_EVENTS")
  @Mutation(() => EventType, { description: "Creates an event." })
  async createEvent(@Arg("input") input: CreateEventInput, @Ctx() ctx: RequestContext): Promise<EventType> {
    return ctx.services.events.toType(await ctx.services.events.create(ctx, input));
  }

  @Authorized("MANAGE_EVENTS")
  @Mutation(() => EventType, { description: "Changes an event." })
  async updateEvent(
    @Arg("id", () => ID) id: string,
    @Arg("input") input: UpdateEventInput,
    @Ctx() ctx: RequestContext,
  ): Promise<EventType> {
    return ctx.services.events.toType(await ctx.services.events.update(ctx, id, input));
  }

  @Authorized("MANAGE_EVENTS")
  @Mutation(() => EventType, { description: "Ends an event now; live sessions end as EVENT_ENDED." })
  async endEvent(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<EventType> {
    return ctx.services.events.toType(await ctx.services.events.end(ctx, id));
  }

  @Authorized("MANAGE_EVENTS")
  @Mutation(() => EventType, {
    description: "Adds presenters or organizers; takes effect at the next join or heartbeat.",
  })
  async addEventPrincipals(@Arg("input") input: EventPrincipalsInput, @Ctx() ctx: RequestContext): Promise<EventType> {
    return ctx.services.events.toType(await ctx.services.events.addPrincipals(ctx, input));
  }

  @Authorized("MANAGE_EVENTS")
  @Mutation(() => EventType, { description: "Removes presenters or organizers." })
  async removeEventPrincipals(
    @Arg("input") input: EventPrincipalsInput,
    @Ctx() ctx: RequestContext,
  ): Promise<EventType> {
    return ctx.services.events.toType(await ctx.services.events.removePrincipals(ctx, input));
  }
}
