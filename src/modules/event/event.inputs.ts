import { Field, ID, InputType, Int } from "type-graphql";
import { EventPrivacy, EventStatus, Role, SessionPolicy } from "../../graphql/enums";

@InputType({ description: "A presenter or organizer: exactly one of userId and email." })
export class PrincipalInput {
  @Field({ nullable: true, description: "The company's external user id (matched exactly)." })
  userId?: string;

  @Field({ nullable: true, description: "An email (matched case-insensitively)." })
  email?: string;
}

@InputType({ description: "A new event." })
export class CreateEventInput {
  @Field({ description: "Display name (at most 200 characters)." })
  name: string;

  @Field({ nullable: true, description: "Room name, unique in the company; made from the name when absent." })
  slug?: string;

  @Field(() => EventPrivacy, { nullable: true, description: "Default PRIVATE." })
  privacy?: EventPrivacy;

  @Field({ nullable: true, description: "Default false." })
  knockingEnabled?: boolean;

  @Field({ nullable: true, description: "Planned start." })
  startsAt?: Date;

  @Field({ nullable: true, description: "Planned end; after startsAt." })
  endsAt?: Date;

  @Field(() => Int, { nullable: true, description: "Most live sessions at once (1 to 1,000,000)." })
  capacity?: number;

  @Field(() => SessionPolicy, { nullable: true, description: "Default REPLACE_OLDEST." })
  sessionPolicy?: SessionPolicy;

  @Field(() => Int, { nullable: true, description: "Live sessions per user (1 to 100, default 1)." })
  maxSessionsPerUser?: number;

  @Field(() => [PrincipalInput], { nullable: true, description: "Presenters." })
  presenters?: PrincipalInput[];

  @Field(() => [PrincipalInput], { nullable: true, description: "Organizers." })
  organizers?: PrincipalInput[];
}

@InputType({ description: "Changes to an event; absent fields stay as they are." })
export class UpdateEventInput {
  @Field({ nullable: true, description: "Display name." })
  name?: string;

  @Field({ nullable: true, description: "Room name; join URLs with the old slug stop working." })
  slug?: string;

  @Field(() => EventPrivacy, { nullable: true, description: "PUBLIC or PRIVATE." })
  privacy?: EventPrivacy;

  @Field({ nullable: true, description: "Whether knocking is on." })
  knockingEnabled?: boolean;

  @Field(() => Date, { nullable: true, description: "Planned start; null clears it." })
  startsAt?: Date | null;

  @Field(() => Date, { nullable: true, description: "Planned end; null clears it." })
  endsAt?: Date | null;

  @Field(() => Int, { nullable: true, description: "Most live sessions at once; null removes the limit." })
  capacity?: number | null;

  @Field(() => SessionPolicy, { nullable: true, description: "Duplicate-session policy." })
  sessionPolicy?: SessionPolicy;

  @Field(() => Int, { nullable: true, description: "Live sessions per user." })
  maxSessionsPerUser?: number;
}

@InputType({ description: "Principals to add to or remove from one list of an event." })
export class EventPrincipalsInput {
  @Field(() => ID, { description: "The event." })
  eventId: string;

  @Field(() => Role, { description: "PRESENTER or ORGANIZER." })
  role: Role;

  @Field(() => [PrincipalInput], { description: "At most 1000 at a time." })
  principals: PrincipalInput[];
}

@InputType({ description: "Narrows an events query." })
export class EventFilter {
  @Field(() => EventStatus, { nullable: true, description: "Only events in this status now." })
  status?: EventStatus;

  @Field(() => EventPrivacy, { nullable: true, description: "Only PUBLIC or only PRIVATE events." })
  privacy?: EventPrivacy;

  @Field({ nullable: true, description: "Only events starting at or after this time." })
  startsAfter?: Date;

  @Field({ nullable: true, description: "Only events starting before this time." })
  startsBefore?: Date;
}
