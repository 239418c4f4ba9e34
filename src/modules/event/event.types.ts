import { Field, ID, Int, ObjectType } from "type-graphql";
import { EventPrivacy, EventStatus, Role, SessionPolicy } from "../../graphql/enums";
import { Connection } from "../../graphql/connection";

@ObjectType("Principal", { description: "An entry of a presenter or organizer list: an external user id or an email." })
export class PrincipalType {
  @Field(() => Role, { description: "PRESENTER or ORGANIZER." })
  role: Role;

  @Field(() => String, { nullable: true, description: "The company's external user id." })
  userId: string | null;

  @Field(() => String, { nullable: true, description: "An email, lower-cased; matched case-insensitively." })
  email: string | null;
}

@ObjectType("Event", { description: "A room, session or webinar of a company." })
export class EventType {
  @Field(() => ID, { description: "Event id." })
  id: string;

  @Field({ description: "Display name." })
  name: string;

  @Field({ description: "The room name: unique within the company, used in join URLs." })
  slug: string;

  @Field(() => EventPrivacy, { description: "PUBLIC or PRIVATE." })
  privacy: EventPrivacy;

  @Field({ description: "Whether people without a credential may knock on a PRIVATE event." })
  knockingEnabled: boolean;

  @Field(() => Date, { nullable: true, description: "Planned start." })
  startsAt: Date | null;

  @Field(() => Date, { nullable: true, description: "Planned end: sessions end then." })
  endsAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When endEvent ended it." })
  endedAt: Date | null;

  @Field(() => EventStatus, { description: "SCHEDULED, LIVE or ENDED, as of now." })
  status: EventStatus;

  @Field(() => Int, { nullable: true, description: "Most live sessions at once; null is no limit." })
  capacity: number | null;

  @Field(() => SessionPolicy, { description: "What happens when a user joins again while in." })
  sessionPolicy: SessionPolicy;

  @Field(() => Int, { description: "Live sessions one user may have at once." })
  maxSessionsPerUser: number;

  @Field({ description: "The event's join page, without a credential: <PUBLIC_URL>/j/<slug>." })
  joinUrl: string;

  @Field({ description: "When the event was created." })
  createdAt: Date;

  @Field({ description: "When the event was last changed." })
  updatedAt: Date;
}

export const EventConnection = Connection(EventType, "Event");
export type EventConnection = InstanceType<typeof EventConnection>;
