import { Field, ID, Int, ObjectType } from "type-graphql";
import { Access, AccessOwner } from "../../graphql/access";
import { EventPrivacy, EventStatus, Role, SessionPolicy } from "../../graphql/enums";
import { Connection } from "../../graphql/connection";

@AccessOwner((p: PrincipalType) => ({ companyId: p.companyId, eventId: p.eventId }))
@ObjectType("Principal", { description: "An entry of a presenter or organizer list: an external user id or an email." })
export class PrincipalType {
  @Access("organizer-or-key")
  @Field(() => Role, { description: "PRESENTER or ORGANIZER." })
  role: Role;

  @Access("organizer-or-key")
  @Field(() => String, { nullable: true, description: "The company's external user id." })
  userId: string | null;

  @Access("organizer-or-key")
  @Field(() => String, { nullable: true, description: "An email, lower-cased; matched case-insensitively." })
  email: string | null;

  /** Not in the schema: the list's event and its company, for access rules. */
  companyId: string;
  eventId: string;
}

// Its public face (name, times, where to join) for the people in it; its configuration and its
// lists of people for its organizers and the company.
@AccessOwner((e: EventType) => ({ companyId: e.companyId, eventId: e.id }))
@ObjectType("Event", { description: "A room, session or webinar of a company." })
export class EventType {
  @Access("participant")
  @Field(() => ID, { description: "Event id." })
  id: string;

  @Access("participant")
  @Field({ description: "Display name." })
  name: string;

  @Access("participant")
  @Field({ description: "The room name: unique within the company, used in join URLs." })
  slug: string;

  @Access("participant")
  @Field(() => EventPrivacy, { description: "PUBLIC or PRIVATE." })
  privacy: EventPrivacy;

  @Access("participant")
  @Field({ description: "Whether people without a credential may knock on a PRIVATE event." })
  knockingEnabled: boolean;

  @Access("participant")
  @Field(() => Date, { nullable: true, description: "Planned start." })
  startsAt: Date | null;

  @Access("participant")
  @Field(() => Date, { nullable: true, description: "Planned end: sessions end then." })
  endsAt: Date | null;

  @Access("participant")
  @Field(() => Date, { nullable: true, description: "When endEvent ended it." })
  endedAt: Date | null;

  @Access("participant")
  @Field(() => EventStatus, { description: "SCHEDULED, LIVE or ENDED, as of now." })
  status: EventStatus;

  @Access("organizer-or-key")
  @Field(() => Int, { nullable: true, description: "Most live sessions at once; null is no limit." })
  capacity: number | null;

  @Access("organizer-or-key")
  @Field(() => SessionPolicy, { description: "What happens when a user joins again while in." })
  sessionPolicy: SessionPolicy;

  @Access("organizer-or-key")
  @Field(() => Int, { description: "Live sessions one user may have at once." })
  maxSessionsPerUser: number;

  @Access("participant")
  @Field({ description: "The event's join page, without a credential: <PUBLIC_URL>/j/<slug>." })
  joinUrl: string;

  @Access("organizer-or-key")
  @Field({ description: "When the event was created." })
  createdAt: Date;

  @Access("organizer-or-key")
  @Field({ description: "When the event was last changed." })
  updatedAt: Date;

  /** Not in the schema: the tenant, for access rules. */
  companyId: string;
}

export const EventConnection = Connection(EventType, "Event");
export type EventConnection = InstanceType<typeof EventConnection>;
