import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { Access, grantSession, noteBearerIsOrganizer } from "../../graphql/access";
import type { RequestContext } from "../../graphql/context";
import { Role } from "../../graphql/enums";
import { EventType } from "../event/event.types";
import { toUserType } from "../user/user.service";
import { UserType } from "../user/user.types";
import { JoinEventInput } from "./session.inputs";
import { JoinResultType, RoleResolutionType, SessionStateType, SessionType } from "./session.types";
import type { SessionEntity } from "./session.entity";
import type { SessionStateOutcome } from "./session.service";

export function toSessionType(session: SessionEntity): SessionType {
  const end = session.endedAt ?? session.lastSeenAt;
  return {
    id: session.id,
    companyId: session.companyId,
    eventId: session.eventId,
    userId: session.userId,
    registrantId: session.registrantId,
    role: session.role as SessionType["role"],
    credentialType: session.credentialType,
    joinedAt: session.joinedAt,
    lastSeenAt: session.lastSeenAt,
    endedAt: session.endedAt,
    endReason: session.endReason,
    ejectAt: session.ejectAt,
    active: session.endedAt === null,
    durationSeconds: Math.max(0, Math.floor((end.getTime() - session.joinedAt.getTime()) / 1000)),
    metadata: session.metadata ?? {},
  };
}

const toStateType = (state: SessionStateOutcome): SessionStateType => ({
  ...state,
  session: toSessionType(state.session),
});

@Resolver(() => SessionType)
export class SessionResolver {
  // The three keyless operations below grant the caller what their credential resolved to: their
  // own session and user, their event's public face, and the organizer's view while their live
  // role is ORGANIZER (the field rules of src/graphql/access.ts read the grant).
  @Access("public")
  @Mutation(() => JoinResultType, {
    description: "Exchanges a credential for a session. No API key: the credential is the authority.",
  })
  async joinEvent(@Arg("input") input: JoinEventInput, @Ctx() ctx: RequestContext): Promise<JoinResultType> {
    const joined = await ctx.services.admission.join(input, { ip: ctx.ip });
    grantSession(ctx, joined.session, joined.session.endedAt === null && joined.role === Role.ORGANIZER);
    return { ...joined, session: toSessionType(joined.session) };
  }

  @Access("public")
  @Mutation(() => SessionStateType, {
    description:
      "Keeps a session alive; answers its live state and a fresh session token. An ended session is not an error: active is false.",
  })
  async heartbeat(@Arg("sessionToken") sessionToken: string, @Ctx() ctx: RequestContext): Promise<SessionStateType> {
    const state = await ctx.services.sessions.heartbeat(sessionToken);
    grantSession(ctx, state.session, state.active && state.role === Role.ORGANIZER);
    return toStateType(state);
  }

  @Access("public")
  @Mutation(() => SessionType, { description: "Ends the caller's own session (LEFT)." })
  async leaveEvent(@Arg("sessionToken") sessionToken: string, @Ctx() ctx: RequestContext): Promise<SessionType> {
    const session = await ctx.services.sessions.leave(sessionToken);
    grantSession(ctx, session, false);
    return toSessionType(session);
  }

  @Access("public")
  @Mutation(() => SessionType, {
    description:
      "Kicks a session (API key, or an ORGANIZER session token of the event as bearer); ban also revokes its credential.",
  })
  async endSession(
    @Arg("id", () => ID) id: string,
    @Ctx() ctx: RequestContext,
    @Arg("ban", () => Boolean, { nullable: true, description: "Also revoke the credential it came in with." })
    ban?: boolean,
  ): Promise<SessionType> {
    const kicked = await ctx.services.sessions.kick(ctx, id, ban ?? false);
    // The service admitted the caller: an API key, or a session token of a live organizer of the event.
    noteBearerIsOrganizer(ctx);
    return toSessionType(kicked);
  }

  @Authorized()
  @Query(() => SessionType, { nullable: true, description: "A session of the caller's company." })
  async session(@Arg("id", () => ID) id: string, @Ctx() ctx: RequestContext): Promise<SessionType | null> {
    const session = await ctx.services.sessions.get(ctx, id);
    return session ? toSessionType(session) : null;
  }

  @Authorized()
  @Query(() => RoleResolutionType, {
    description: "The role a user (external id) or email would have in the event now, and why.",
  })
  effectiveRole(
    @Arg("eventId", () => ID) eventId: string,
    @Ctx() ctx: RequestContext,
    @Arg("userId", () => String, { nullable: true, description: "The company's external user id." }) userId?: string,
    @Arg("email", () => String, { nullable: true, description: "An email." }) email?: string,
  ): Promise<RoleResolutionType> {
    return ctx.services.sessions.effectiveRole(ctx, eventId, userId, email);
  }

  @Authorized("MINT_TOKENS")
  @Mutation(() => Int, {
    description: "Revokes every credential of the user issued before now; returns how many live sessions it ended.",
  })
  revokeUserTokens(
    @Ctx() ctx: RequestContext,
    @Arg("userId", () => ID, {
      nullable: true,
      description: "The user by Admit's id (User.id). Give this or externalId.",
    })
    userId?: string,
    @Arg("externalId", () => String, {
      nullable: true,
      description: "The user by the company's own id for it. Give this or userId.",
    })
    externalId?: string,
  ): Promise<number> {
    return ctx.services.sessions.revokeUserTokens(ctx, { userId, externalId });
  }

  @Access("self")
  @FieldResolver(() => EventType, { description: "The event." })
  async event(@Root() session: SessionType, @Ctx() ctx: RequestContext): Promise<EventType> {
    return ctx.services.events.toType(await ctx.loaders.eventById.load(session.eventId));
  }

  @Access("self")
  @FieldResolver(() => UserType, { description: "The user." })
  async user(@Root() session: SessionType, @Ctx() ctx: RequestContext): Promise<UserType> {
    return toUserType(await ctx.loaders.userById.load(session.userId));
  }
}
