import { Arg, Ctx, ID, Resolver, Root, Subscription } from "type-graphql";
import type { SubscribeResolverData } from "type-graphql";
import { Access, grantSession, noteBearerIsOrganizer } from "../../graphql/access";
import type { RequestContext } from "../../graphql/context";
import { Role } from "../../graphql/enums";
import { toSessionType } from "../session/session.resolver";
import type { SessionStateOutcome } from "../session/session.service";
import { SessionStateType } from "../session/session.types";
import { EventLiveUpdateType } from "./live.types";

/** A subscription's context: a request's, and the bearer its connection presented (connection_init). */
export interface LiveContext extends RequestContext {
  bearer: string | null;
}

type Data = SubscribeResolverData<unknown, Record<string, string>, LiveContext>;

// Over WebSocket only (graphql-ws at /graphql/ws, src/http/live.routes.ts). The subscribe
// functions verify before anything is sent: a refusal is an AppError, and the connection is then
// closed with 4401 or 4403 (see closeCodeOf).
@Resolver()
export class LiveResolver {
  @Access("public")
  @Subscription(() => SessionStateType, {
    description:
      "The session's state, as heartbeat answers it: first now, then at every change (role, kick, ban, ejection time, end of the session or of the event). Verifies the session token as heartbeat does. Ends after the message whose active is false. Keep heartbeating: this makes changes immediate, heartbeats keep the session alive.",
    subscribe: ({ args, context }: Data) => context.services.live.watchSession(args.sessionToken, context.log),
  })
  sessionUpdates(
    @Root() state: SessionStateOutcome,
    @Ctx() ctx: LiveContext,
    @Arg("sessionToken", {
      description:
        "The session token from joinEvent or the newest heartbeat (an expired one is accepted, as heartbeat accepts it).",
    })
    _sessionToken: string,
  ): SessionStateType {
    ctx.services.live.freshRequest(ctx);
    grantSession(ctx, state.session, state.active && state.role === Role.ORGANIZER);
    return { ...state, session: toSessionType(state.session) };
  }

  @Access("public")
  @Subscription(() => EventLiveUpdateType, {
    description:
      'Who is in the event and who knocks, for its organizers: a snapshot first, then the changes. For an ORGANIZER session token of the event (resolved now from the lists) or a company API key with MANAGE_EVENTS, presented in connection_init as { authorization: "Bearer …" }.',
    subscribe: ({ args, context }: Data) => context.services.live.watchEvent(context, context.bearer, args.eventId),
  })
  eventLive(
    @Root() update: EventLiveUpdateType,
    @Ctx() ctx: LiveContext,
    @Arg("eventId", () => ID, { description: "The event." }) _eventId: string,
  ): EventLiveUpdateType {
    ctx.services.live.freshRequest(ctx);
    // The watch admitted the caller (again, whenever its right may have changed).
    if (ctx.principal.kind === "session") noteBearerIsOrganizer(ctx);
    return update;
  }
}
