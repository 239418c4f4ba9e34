import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { Access } from "../../graphql/access";
import { companyIdOf, RequestContext } from "../../graphql/context";
import { notFound } from "../../errors";
import { EventType } from "../event/event.types";
import { toSessionType } from "../session/session.resolver";
import type { SessionEntity } from "../session/session.entity";
import { SessionType } from "../session/session.types";
import { toUserType } from "../user/user.service";
import { UserType } from "../user/user.types";
import { RegisterForEventInput } from "./registrant.inputs";
import { toRegistrantType } from "./registrant.service";
import { CountedConnection, RegistrantConnection, RegistrantType, SessionConnection } from "./registrant.types";

const FIRST = { nullable: true, description: "Page size (default 20, at most 100)." } as const;
const AFTER = { nullable: true, description: "endCursor of the previous page." } as const;
const ACTIVE = { nullable: true, description: "true: live sessions only; false: ended only; absent: all." } as const;

function sessionPage(page: CountedConnection<SessionEntity>): SessionConnection {
  return {
    ...page,
    edges: page.edges.map((edge) => ({ cursor: edge.cursor, node: toSessionType(edge.node) })),
  };
}

@Resolver(() => RegistrantType)
export class RegistrantResolver {
  @Authorized()
  @Query(() => RegistrantType, {
    nullable: true,
    description:
      "A registration of the caller's company: by id, or the live one of an email (case-insensitive) for an event.",
  })
  async registrant(
    @Ctx() ctx: RequestContext,
    @Arg("id", () => ID, { nullable: true, description: "Registrant id (alone)." }) id?: string,
    @Arg("eventId", () => ID, { nullable: true, description: "The event (with email)." }) eventId?: string,
    @Arg("email", () => String, { nullable: true, description: "Email (with eventId), matched case-insensitively." })
    email?: string,
  ): Promise<RegistrantType | null> {
    const row = await ctx.services.registrants.findOne(ctx, { id, eventId, email });
    return row ? toRegistrantType(row) : null;
  }

  @Authorized("MANAGE_EVENTS")
  @Mutation(() => RegistrantType, {
    description:
      "Registers an email for an event; a second live registration of the email is EMAIL_ALREADY_REGISTERED.",
  })
  async registerForEvent(
    @Arg("input") input: RegisterForEventInput,
    @Ctx() ctx: RequestContext,
  ): Promise<RegistrantType> {
    return toRegistrantType(await ctx.services.registrants.register(ctx, input));
  }

  @Authorized("MANAGE_EVENTS")
  @Mutation(() => RegistrantType, {
    description: "Cancels a registration (idempotent): its links are refused and its live sessions end as REVOKED.",
  })
  async cancelRegistration(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<RegistrantType> {
    return toRegistrantType(await ctx.services.registrants.cancel(ctx, id));
  }

  // A join URL is a credential: minted for keys that may manage events only.
  @Authorized("MANAGE_EVENTS")
  @FieldResolver(() => String, {
    description:
      "<PUBLIC_URL>/j/<event slug>?token=<registration token>: opens this event only; refused once the registration is cancelled.",
  })
  joinUrl(@Root() registrant: RegistrantType, @Ctx() ctx: RequestContext): Promise<string> {
    if (registrant.companyId !== companyIdOf(ctx)) throw notFound("The registration");
    return ctx.services.registrants.joinUrl(ctx, registrant);
  }

  @FieldResolver(() => EventType, { description: "The event registered for." })
  async event(@Root() registrant: RegistrantType, @Ctx() ctx: RequestContext): Promise<EventType> {
    return ctx.services.events.toType(await ctx.loaders.eventById.load(registrant.eventId));
  }

  @FieldResolver(() => UserType, {
    nullable: true,
    description: "The user the registrant joined as; null before the first join.",
  })
  async user(@Root() registrant: RegistrantType, @Ctx() ctx: RequestContext): Promise<UserType | null> {
    return registrant.userId ? toUserType(await ctx.loaders.userById.load(registrant.userId)) : null;
  }

  @FieldResolver(() => SessionConnection, {
    description: "Sessions that came in with this registration, oldest first.",
  })
  async sessions(
    @Root() registrant: RegistrantType,
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, FIRST) first?: number,
    @Arg("after", () => String, AFTER) after?: string,
    @Arg("active", () => Boolean, ACTIVE) active?: boolean,
  ): Promise<SessionConnection> {
    return sessionPage(
      await ctx.services.registrants.sessionsOf(ctx, "Registrant", registrant.id, { first, after, active }),
    );
  }
}

@Resolver(() => EventType)
export class EventRelationsResolver {
  @Access("key")
  @FieldResolver(() => RegistrantConnection, {
    description: "The event's registrations, oldest first: live ones unless includeCancelled.",
  })
  async registrants(
    @Root() event: EventType,
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, FIRST) first?: number,
    @Arg("after", () => String, AFTER) after?: string,
    @Arg("includeCancelled", () => Boolean, {
      nullable: true,
      description: "Also list cancelled registrations (default false).",
    })
    includeCancelled?: boolean,
  ): Promise<RegistrantConnection> {
    return await ctx.services.registrants.registrantsOfEvent(ctx, event.id, { first, after, includeCancelled });
  }

  @Access("key")
  @FieldResolver(() => SessionConnection, { description: "The event's sessions, oldest join first." })
  async sessions(
    @Root() event: EventType,
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, FIRST) first?: number,
    @Arg("after", () => String, AFTER) after?: string,
    @Arg("active", () => Boolean, ACTIVE) active?: boolean,
  ): Promise<SessionConnection> {
    return sessionPage(await ctx.services.registrants.sessionsOf(ctx, "Event", event.id, { first, after, active }));
  }
}

@Resolver(() => SessionType)
export class SessionRegistrantResolver {
  @Access("key")
  @FieldResolver(() => RegistrantType, {
    nullable: true,
    description: "The registration it came in with; null for other credentials.",
  })
  async registrant(@Root() session: SessionType, @Ctx() ctx: RequestContext): Promise<RegistrantType | null> {
    if (!session.registrantId) return null;
    const row = await ctx.loaders.registrantById.load({ companyId: companyIdOf(ctx), id: session.registrantId });
    return row ? toRegistrantType(row) : null;
  }
}

@Resolver(() => UserType)
export class UserSessionsResolver {
  @Access("key")
  @FieldResolver(() => SessionConnection, { description: "The user's sessions in every event, oldest join first." })
  async sessions(
    @Root() user: UserType,
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, FIRST) first?: number,
    @Arg("after", () => String, AFTER) after?: string,
    @Arg("active", () => Boolean, ACTIVE) active?: boolean,
  ): Promise<SessionConnection> {
    return sessionPage(await ctx.services.registrants.sessionsOf(ctx, "User", user.id, { first, after, active }));
  }
}

const TOTAL_COUNT = {
  nullable: true,
  description: "How many items match, across all pages (counted only when asked).",
} as const;

@Resolver(() => RegistrantConnection)
export class RegistrantConnectionResolver {
  @FieldResolver(() => Int, TOTAL_COUNT)
  totalCount(@Root() page: Partial<CountedConnection<RegistrantType>>): Promise<number> | number | null {
    return page.totalCount ?? page.countTotal?.() ?? null;
  }
}

@Resolver(() => SessionConnection)
export class SessionConnectionResolver {
  @FieldResolver(() => Int, TOTAL_COUNT)
  totalCount(@Root() page: Partial<CountedConnection<SessionType>>): Promise<number> | number | null {
    return page.totalCount ?? page.countTotal?.() ?? null;
  }
}

/** Every resolver of this module, for RESOLVERS in src/graphql/schema.ts. */
export const REGISTRANT_RESOLVERS = [
  RegistrantResolver,
  EventRelationsResolver,
  SessionRegistrantResolver,
  UserSessionsResolver,
  RegistrantConnectionResolver,
  SessionConnectionResolver,
] as const;
