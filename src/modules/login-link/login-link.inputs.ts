import { Field, ID, InputType, Int } from "type-graphql";

@InputType({ description: "A one-time login link for a user of the caller's company." })
export class CreateLoginLinkInput {
  @Field(() => ID, {
    nullable: true,
    description:
      "The user the link signs in, by Admit's id (User.id): a non-guest user of the caller's company. Give this or externalId.",
  })
  userId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: "The user the link signs in, by the company's own id for it. Give this or userId.",
  })
  externalId?: string | null;

  @Field(() => ID, {
    nullable: true,
    description:
      "The event the link opens (of the caller's company). Absent: the link signs in to the company's landing page, and joinEvent accepts it for any of its events.",
  })
  eventId?: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "Where the browser is sent when the session the link opened expires; its origin must be in the company's allowedRedirectOrigins.",
  })
  redirectOnExpiryUrl?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: "Seconds the link may wait to be opened, 1 to 300; default: the company's loginLinkTtlSeconds.",
  })
  ttlSeconds?: number | null;
}
