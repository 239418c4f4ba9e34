import { Ctx, Query, Resolver } from "type-graphql";
import { Access, noteBearerIsOrganizer } from "../../graphql/access";
import { organizerOf } from "../../graphql/auth-checker";
import type { RequestContext } from "../../graphql/context";
import { Role } from "../../graphql/enums";
import { AppError } from "../../errors";

import { LIVE_PARTICIPANTS_SHOWN, LiveEventType, LiveParticipantType } from "./organizer.types";

export { LIVE_PARTICIPANTS_SHOWN, LiveEventType, LiveParticipantType };

@Resolver()
export class OrganizerResolver {
  @Access("public")
  @Query(() => LiveEventType, {
    description:
      "Who is in the caller's event now. Only for an ORGANIZER session token of the event as bearer (resolved now from the lists); an API key reads event(id) { sessions } instead.",
  })
  async liveEvent(@Ctx() ctx: RequestContext): Promise<LiveEventType> {
    const principal = ctx.principal;
    if (principal.kind === "anonymous" || principal.kind === "invalid") {
      throw new AppError(
        "UNAUTHENTICATED",
        "Present a live organizer session token as bearer (Authorization: Bearer <session token>).",
      );
    }
    if (principal.kind !== "session") {
      throw new AppError(
        "FORBIDDEN",
        "liveEvent answers an organizer's session token; with an API key, read event(id) { sessions }.",
      );
    }
    // FORBIDDEN unless this session is live and its user is an ORGANIZER of the event right now.
    const companyId = await organizerOf(ctx);
    noteBearerIsOrganizer(ctx);
    const key = { companyId, parentId: principal.eventId, filter: "active" as const };
    const [event, sessions, participantCount] = await Promise.all([
      ctx.loaders.eventById.load(principal.eventId),
      ctx.loaders.sessionPageByEvent.load({ ...key, take: LIVE_PARTICIPANTS_SHOWN, after: null }),
      ctx.loaders.sessionCountByEvent.load(key),
    ]);
    const users = await Promise.all(sessions.map((s) => ctx.loaders.userById.load(s.userId)));
    return {
      event: ctx.services.events.toType(event),
      participantCount,
      participants: sessions.map((s, i) => ({
        sessionId: s.id,
        name: users[i].name,
        role: s.role as Role,
        isGuest: users[i].isGuest,
        joinedAt: s.joinedAt,
        companyId,
        eventId: s.eventId,
      })),
    };
  }
}
