import { Field, ID, Int, ObjectType } from "type-graphql";
import { Access, AccessOwner } from "../../graphql/access";
import { LiveParticipantType } from "../session/organizer.types";
import { SessionEndReason } from "../session/session.types";
import { JoinRequestType } from "../knock/join-request.types";

/** The most participants an eventLive snapshot lists; participantCount counts them all. */
export const LIVE_SNAPSHOT_PARTICIPANTS = 1000;
/** The most pending knocks an eventLive snapshot lists (oldest first). */
export const LIVE_SNAPSHOT_JOIN_REQUESTS = 200;

@AccessOwner((d: LiveDepartureType) => ({ companyId: d.companyId, eventId: d.eventId }))
@ObjectType("LiveDeparture", { description: "Someone who was in the event and no longer is." })
export class LiveDepartureType {
  @Access("organizer-or-key")
  @Field(() => ID, { description: "Their session's id." })
  sessionId: string;

  @Access("organizer-or-key")
  @Field(() => SessionEndReason, { nullable: true, description: "Why their session ended." })
  endReason: string | null;

  @Access("organizer-or-key")
  @Field({ description: "When their session ended." })
  endedAt: Date;

  /** Not in the schema: the event and its company, for access rules. */
  companyId: string;
  eventId: string;
}

// The organizers' view of the room, pushed: who is in and who knocks.
@AccessOwner((u: EventLiveUpdateType) => ({ companyId: u.companyId, eventId: u.eventId }))
@ObjectType("EventLiveUpdate", {
  description:
    "What eventLive pushes. A snapshot (snapshot: true) replaces what the client holds; the updates after it are changes to merge, by session id and join request id.",
})
export class EventLiveUpdateType {
  @Access("organizer-or-key")
  @Field({
    description:
      "True for the whole picture: the first message, and again whenever the server may have missed changes (the client replaces its state). False: only what changed.",
  })
  snapshot: boolean;

  @Access("organizer-or-key")
  @Field(() => ID, { description: "The event." })
  eventId: string;

  @Access("organizer-or-key")
  @Field(() => Int, { description: "Live sessions in the event now." })
  participantCount: number;

  @Access("organizer-or-key")
  @Field(() => [LiveParticipantType], {
    description: `Snapshot: who is in, oldest join first (at most ${LIVE_SNAPSHOT_PARTICIPANTS}). Change: who joined or whose role changed.`,
  })
  participants: LiveParticipantType[];

  @Access("organizer-or-key")
  @Field(() => [LiveDepartureType], { description: "Change only: sessions that ended (always empty in a snapshot)." })
  departures: LiveDepartureType[];

  @Access("organizer-or-key")
  @Field(() => [JoinRequestType], {
    description: `Snapshot: the PENDING knocks, oldest first (at most ${LIVE_SNAPSHOT_JOIN_REQUESTS}). Change: knocks made or decided (their status says which).`,
  })
  joinRequests: JoinRequestType[];

  /** Not in the schema: the company, for access rules. */
  companyId: string;
}
