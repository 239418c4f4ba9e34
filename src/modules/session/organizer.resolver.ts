import { Ctx, Field, ID, Int, ObjectType, Query, Resolver } from "type-graphql";
import { Access, AccessOwner, noteBearerIsOrganizer } from "../../graphql/access";
import { organizerOf } from "../../graphql/auth-checker";
import type { RequestContext } from "../../graphql/context";
import { Role } from "../../graphql/enums";
import { AppError } from "../../errors";
import { EventType } from "../event/event.types";

/** The most participants liveEvent lists; participantCount counts them all. */
export const LIVE_PARTICIPANTS_SHOWN = 100;

/*
 * The organizer's view of the join page. A session token as bearer may not read `event(id)` or
 * `Event.sessions` (those are the company's, behind an API key); this answers only what an
 * organizer in the room needs: who is in, by name and role. The event's join requests are read
 * through `liveEvent { event { joinRequests } }`, whose own resolver admits the same organizer.
 * The types live here, beside their only resolver.
 */

@AccessOwner((p: LiveParticipantType) => ({ companyId: p.companyId, eventId: p.eventId }))
@ObjectType("LiveParticipant", { description: "Someone in the event right now, as its organizers see them." })
export class LiveParticipantType {
  @Access("organizer-or-key")
  @Field(() => ID, { description: "Their session's id (endSession takes it)." })
  sessionId: string;

  @Access("organizer-or-key")
  @Field(() => String, { nullable: true, description: "Display name." })
  name: string | null;

  @Access("organizer-or-key")
  @Field(() => Role, { description: "Their role, as last resolved (join or heartbeat)." })
  role: Role;

  @Access("organizer-or-key")
  @Field({ description: "A guest of a public event, or a knock let in." })
  isGuest: boolean;

  @Access("organizer-or-key")
  @Field({ description: "When they joined." })
  joinedAt: Date;

  /** Not in the schema: the event and its company, for access rules. */
  companyId: string;
  eventId: string;
}

@AccessOwner((l: LiveEventType) => ({ companyId: l.event.companyId, eventId: l.event.id }))
@ObjectType("LiveEvent", { description: "The caller's event as its organizer sees it from the join page." })
export class LiveEventType {
  @Access("organizer-or-key")
  @Field(() => EventType, { description: "The event; its joinRequests answer this organizer too." })
  event: EventType;

  @Access("organizer-or-key")
  @Field(() => Int, { description: "Live sessions in the event." })
  participantCount: number;

  @Access("organizer-or-key")
  @Field(() => [LiveParticipantType], {
    description: `Live sessions, oldest join first (at most ${LIVE_PARTICIPANTS_SHOWN}).`,
  })
  participants: LiveParticipantType[];
}

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
