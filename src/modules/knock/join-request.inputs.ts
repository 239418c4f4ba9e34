import { Field, InputType } from "type-graphql";

@InputType({ description: "A knock on a PRIVATE event with knocking on (no API key needed)." })
export class RequestToJoinInput {
  @Field({ description: "Event id, companySlug/eventSlug, or a slug only one company uses." })
  event: string;

  @Field({ description: "The name to show to organizers, and to join under (at most 200 characters)." })
  name: string;

  @Field({ nullable: true, description: "An email for the organizers' information; unverified, so it grants no role." })
  email?: string;
}
