import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { Access, grantJoinRequest, noteBearerIsOrganizer } from "../../graphql/access";
import type { RequestContext } from "../../graphql/context";
import { Role } from "../../graphql/enums";
import { EventType } from "../event/event.types";
import type { JoinRequestStatusValue } from "./join-request.entity";
import { RequestToJoinInput } from "./join-request.inputs";
import { toJoinRequestType } from "./join-request.service";
import { JoinRequestConnection, JoinRequestStatus, JoinRequestTicketType, JoinRequestType } from "./join-request.types";

// Organizer operations carry no @Authorized: an ORGANIZER session token of the event may act as
// bearer too, which the service checks (organizerCompany in src/graphql/auth-checker.ts).
@Resolver(() => JoinRequestType)
export class JoinRequestResolver {
  @Access("public")
  @Mutation(() => JoinRequestTicketType, {
    description:
      "Knocks on a PRIVATE event with knocking on (no API key): a PENDING request and the secret to poll it with, shown once. PUBLIC events need none (join as a guest).",
  })
  async requestToJoin(
    @Arg("input") input: RequestToJoinInput,
    @Ctx() ctx: RequestContext,
  ): Promise<JoinRequestTicketType> {
    const { request, secret } = await ctx.services.joinRequests.request(ctx, input);
    grantJoinRequest(ctx, request);
    return { request: toJoinRequestType(request, ctx.clock.now()), secret };
  }

  @Access("public")
  @Query(() => JoinRequestType, {
    nullable: true,
    description:
      "A join request. With secret: the requester's poll (no API key), with its credential once approved. Without: for organizers (API key with MANAGE_EVENTS, or an ORGANIZER session of its event as bearer). Null when the secret is wrong or the request is not the caller's.",
  })
  async joinRequest(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: RequestContext,
    @Arg("secret", () => String, { nullable: true, description: "The requester's secret from requestToJoin." })
    secret?: string,
  ): Promise<JoinRequestType | null> {
    const found = await ctx.services.joinRequests.find(ctx, id, secret);
    // Found with a secret: the requester's own; without: the service admitted an organizer.
    if (found && typeof secret === "string") grantJoinRequest(ctx, found);
    else if (found) noteBearerIsOrganizer(ctx);
    return found;
  }

  @Access("public")
  @Mutation(() => JoinRequestType, {
    description:
      "Approves a PENDING join request (API key with MANAGE_EVENTS, or an ORGANIZER session of its event as bearer); the requester's next poll gets a single-use credential. Deciding twice is refused.",
  })
  async approveJoinRequest(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: RequestContext,
    @Arg("role", () => Role, { nullable: true, description: "The role to join with (default ATTENDEE)." }) role?: Role,
  ): Promise<JoinRequestType> {
    const approved = await ctx.services.joinRequests.approve(ctx, id, role);
    noteBearerIsOrganizer(ctx);
    return toJoinRequestType(approved, ctx.clock.now());
  }

  @Access("public")
  @Mutation(() => JoinRequestType, {
    description:
      "Denies a PENDING join request (API key with MANAGE_EVENTS, or an ORGANIZER session of its event as bearer). Deciding twice is refused.",
  })
  async denyJoinRequest(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: RequestContext,
    @Arg("reason", () => String, {
      nullable: true,
      description: "Why, shown to the requester (at most 500 characters).",
    })
    reason?: string,
  ): Promise<JoinRequestType> {
    const denied = await ctx.services.joinRequests.deny(ctx, id, reason);
    noteBearerIsOrganizer(ctx);
    return toJoinRequestType(denied, ctx.clock.now());
  }
}

@Resolver(() => EventType)
export class EventJoinRequestsResolver {
  @Access("organizer-or-key")
  @FieldResolver(() => JoinRequestConnection, {
    description:
      "Knocks on the event, oldest first (status PENDING: the lobby). For organizers: an API key with MANAGE_EVENTS, or an ORGANIZER session of this event as bearer.",
  })
  async joinRequests(
    @Root() event: EventType,
    @Ctx() ctx: RequestContext,
    @Arg("first", () => Int, { nullable: true, description: "Page size (default 20, at most 100)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
    @Arg("status", () => JoinRequestStatus, {
      nullable: true,
      description: "Only requests with this status (as read now).",
    })
    status?: JoinRequestStatusValue,
  ): Promise<JoinRequestConnection> {
    return await ctx.services.joinRequests.listForEvent(ctx, event.id, { first, after, status });
  }
}

/** Every resolver of the knocking module, for RESOLVERS in src/graphql/schema.ts. */
export const JOIN_REQUEST_RESOLVERS = [JoinRequestResolver, EventJoinRequestsResolver] as const;
