import { Field, ID, Int, ObjectType } from "type-graphql";
import { Access, AccessOwner } from "../../graphql/access";
import { Role } from "../../graphql/enums";
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
