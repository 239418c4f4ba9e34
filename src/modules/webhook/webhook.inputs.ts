import { Field, ID, InputType } from "type-graphql";
import { WebhookDeliveryStatus, WebhookEventType } from "./webhook.types";

@InputType({ description: "A new webhook endpoint." })
export class CreateWebhookEndpointInput {
  @Field({
    description:
      "https URL on a host with public addresses only, without credentials (outside production, http on a loopback host is also accepted).",
  })
  url: string;

  @Field(() => [WebhookEventType], { description: "The event types to send to it (at least one)." })
  eventTypes: WebhookEventType[];

  @Field(() => String, { nullable: true, description: "What the endpoint is for (at most 500 characters)." })
  description?: string | null;
}

@InputType({ description: "Changes to a webhook endpoint; absent fields stay as they are." })
export class UpdateWebhookEndpointInput {
  @Field(() => ID, { description: "The endpoint to change." })
  id: string;

  @Field({ nullable: true, description: "A new URL (same rules as at creation)." })
  url?: string;

  @Field(() => [WebhookEventType], { nullable: true, description: "The event types to send from now on." })
  eventTypes?: WebhookEventType[];

  @Field(() => String, { nullable: true, description: "A new description; null clears it." })
  description?: string | null;

  @Field({
    nullable: true,
    description: "true re-enables a disabled endpoint: its pending deliveries resume; false disables it.",
  })
  enabled?: boolean;
}

@InputType({ description: "Which deliveries to list." })
export class WebhookDeliveryFilter {
  @Field(() => WebhookDeliveryStatus, { nullable: true, description: "Only deliveries in this status." })
  status?: string;

  @Field({ nullable: true, description: "Only messages of this type (e.g. session.started)." })
  type?: string;
}
