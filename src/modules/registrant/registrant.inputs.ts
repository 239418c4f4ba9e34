import { Field, ID, InputType } from "type-graphql";
import { JSONObjectScalar } from "../../graphql/scalars";

@InputType({ description: "A registration for one event." })
export class RegisterForEventInput {
  @Field(() => ID, { description: "The event (of the caller's company)." })
  eventId: string;

  @Field({ description: "The registrant's name (at most 200 characters)." })
  name: string;

  @Field({ description: "The registrant's email; one live registration per email per event (case-insensitive)." })
  email: string;

  @Field(() => JSONObjectScalar, {
    nullable: true,
    description: "Free metadata (at most 8 KB serialized), e.g. company or jobTitle, for analytics breakdowns.",
  })
  metadata?: Record<string, unknown>;

  @Field({
    nullable: true,
    description:
      "Your word that you confirmed this person controls the email (default false). Pass true only for an address you verified: " +
      "only then does the registration join as your existing user with that email and match the event's presenter and organizer " +
      "lists by email. An unverified registration joins as a user of its own; its email is a label.",
  })
  emailVerified?: boolean;
}
