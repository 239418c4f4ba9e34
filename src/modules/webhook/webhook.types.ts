import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import { Connection } from "../../graphql/connection";
import { literalEnum } from "../../graphql/enums";
import { WEBHOOK_DELIVERY_STATUSES } from "./webhook.entity";

/** GraphQL names the types in SCREAMING_SNAKE; messages carry them as `session.started`. */
export enum WebhookEventType {
  SESSION_STARTED = "session.started",
  SESSION_ENDED = "session.ended",
  SESSION_ROLE_CHANGED = "session.role_changed",
  REGISTRANT_CREATED = "registrant.created",
  REGISTRANT_CANCELLED = "registrant.cancelled",
  JOIN_REQUEST_CREATED = "join_request.created",
  JOIN_REQUEST_DECIDED = "join_request.decided",
  USER_CREATED = "user.created",
  EVENT_ENDED = "event.ended",
}
registerEnumType(WebhookEventType, {
  name: "WebhookEventType",
  description:
    "What a webhook endpoint can be told about; the message's `type` is the lower-case dotted form (SESSION_STARTED: session.started).",
  valuesConfig: {
    SESSION_STARTED: { description: "session.started: someone joined an event (a session was opened)." },
    SESSION_ENDED: { description: "session.ended: a session ended; `endReason` says why (LEFT, KICKED, INACTIVE…)." },
    SESSION_ROLE_CHANGED: {
      description: "session.role_changed: a live session's role changed (`role`, `previousRole`).",
    },
    REGISTRANT_CREATED: { description: "registrant.created: someone registered for an event." },
    REGISTRANT_CANCELLED: { description: "registrant.cancelled: a registration was cancelled." },
    JOIN_REQUEST_CREATED: { description: "join_request.created: someone knocked on a private event." },
    JOIN_REQUEST_DECIDED: { description: "join_request.decided: a knock was approved or denied (`status`)." },
    USER_CREATED: {
      description: "user.created: a user was created (upsertUser, just in time at a join, a guest, a registrant).",
    },
    EVENT_ENDED: { description: "event.ended: an event was ended (endEvent)." },
  },
});

export const WebhookDeliveryStatus = literalEnum(WEBHOOK_DELIVERY_STATUSES);
registerEnumType(WebhookDeliveryStatus, {
  name: "WebhookDeliveryStatus",
  description: "Where a delivery of one message to one endpoint stands.",
  valuesConfig: {
    PENDING: {
      description:
        "Not delivered yet: waiting for its first attempt, for a retry, or behind an earlier message of the same event.",
    },
    DELIVERED: { description: "The endpoint answered 2xx." },
    FAILED: {
      description: "Every attempt of the retry schedule (about 3 days) failed; replayWebhookMessage sends it again.",
    },
  },
});

@ObjectType("WebhookEndpoint", {
  description:
    "A URL of the company's backend that Admit POSTs signed messages to. The signing secret is shown only at creation and rotation.",
})
export class WebhookEndpointType {
  @Field(() => ID, { description: "Webhook endpoint id." })
  id: string;

  @Field({ description: "Where messages are POSTed." })
  url: string;

  @Field(() => String, { nullable: true, description: "What the endpoint is for." })
  description: string | null;

  @Field(() => [WebhookEventType], { description: "The event types sent to it." })
  eventTypes: WebhookEventType[];

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field({ description: "When it was last changed." })
  updatedAt: Date;

  @Field(() => Date, {
    nullable: true,
    description:
      "When it was disabled (by disableWebhookEndpoint, or after failing for about 3 days); null while it receives messages.",
  })
  disabledAt: Date | null;

  @Field(() => String, { nullable: true, description: "Why it was disabled." })
  disabledReason: string | null;

  @Field(() => Date, {
    nullable: true,
    description: "Since when every attempt to reach it has failed; null after any success.",
  })
  failingSince: Date | null;

  @Field(() => Date, {
    nullable: true,
    description:
      "After rotateWebhookSecret: until when the previous secret still signs beside the new one (both signatures are sent).",
  })
  previousSecretExpiresAt: Date | null;
}

@ObjectType({ description: "A new webhook endpoint and its signing secret (shown once)." })
export class CreateWebhookEndpointPayload {
  @Field(() => WebhookEndpointType, { description: "The endpoint." })
  webhookEndpoint: WebhookEndpointType;

  @Field({
    description:
      "The signing secret, `whsec_` + base64 of 32 random bytes, for a Standard Webhooks verifier. Shown once: store it now.",
  })
  secret: string;
}

@ObjectType({ description: "An endpoint after its secret was rotated, and the new secret (shown once)." })
export class RotateWebhookSecretPayload {
  @Field(() => WebhookEndpointType, {
    description: "The endpoint; previousSecretExpiresAt says how long the old secret still signs.",
  })
  webhookEndpoint: WebhookEndpointType;

  @Field({ description: "The new signing secret (`whsec_…`). Shown once: store it now." })
  secret: string;
}

@ObjectType("WebhookDelivery", { description: "One message to one endpoint: its attempts and outcome." })
export class WebhookDeliveryType {
  @Field(() => ID, { description: "Delivery id." })
  id: string;

  @Field(() => ID, { description: "The endpoint it goes to." })
  endpointId: string;

  @Field(() => ID, {
    description: "The message: its id is the `webhook-id` header (the same for every endpoint and every attempt).",
  })
  messageId: string;

  @Field({ description: "The message's type, e.g. session.started (webhook.test for sendTestWebhook)." })
  type: string;

  @Field({ description: "When what it reports happened (the body's `timestamp`)." })
  occurredAt: Date;

  @Field({ description: "The JSON body POSTed: `{ type, timestamp, data }`." })
  payload: string;

  @Field(() => WebhookDeliveryStatus, { description: "PENDING, DELIVERED or FAILED." })
  status: string;

  @Field(() => Int, { description: "Attempts made so far." })
  attempts: number;

  @Field(() => Date, { nullable: true, description: "When the next attempt is due (PENDING only)." })
  nextAttemptAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When the last attempt was made." })
  lastAttemptAt: Date | null;

  @Field(() => Int, {
    nullable: true,
    description: "The HTTP status of the last answer; null when there was none (timeout, refused connection).",
  })
  lastResponseCode: number | null;

  @Field(() => String, {
    nullable: true,
    description: "Why the last attempt failed without an answer (timeout, connection refused, refused address).",
  })
  lastError: string | null;

  @Field(() => Date, { nullable: true, description: "When the endpoint acknowledged it (2xx)." })
  deliveredAt: Date | null;

  @Field({ description: "When the delivery was created (the message fanned out to this endpoint, or replayed)." })
  createdAt: Date;
}

@ObjectType({ description: "A page of deliveries." })
export class WebhookDeliveryConnection extends Connection(WebhookDeliveryType, "WebhookDelivery") {}
