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

  @Field(() => JSONObjectScalar, { nullable: true, description: "Free metadata (at most 8 KB serialized), e.g. company or jobTitle, for analytics breakdowns." })
  metadata?: Record<string, unknown>;
}
