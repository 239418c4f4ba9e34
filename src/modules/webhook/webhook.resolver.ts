import {
  Arg,
  Args,
  ArgsType,
  Authorized,
  Ctx,
  Field,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from "type-graphql";
import { companyIdOf, RequestContext } from "../../graphql/context";
import { CompanyType } from "../company/company.types";
import { CreateWebhookEndpointInput, UpdateWebhookEndpointInput, WebhookDeliveryFilter } from "./webhook.inputs";
import {
  CreateWebhookEndpointPayload,
  RotateWebhookSecretPayload,
  WebhookDeliveryConnection,
  WebhookDeliveryType,
  WebhookEndpointType,
} from "./webhook.types";

@ArgsType()
class WebhookDeliveriesArgs {
  @Field(() => ID, { description: "The endpoint whose deliveries to list." })
  endpointId: string;

  @Field(() => WebhookDeliveryFilter, { nullable: true, description: "Only deliveries matching this." })
  filter?: WebhookDeliveryFilter;

  @Field(() => Int, { nullable: true, description: "Page size (default 20, at most 100)." })
  first?: number;

  @Field(() => String, { nullable: true, description: "The endCursor of the previous page." })
  after?: string;
}

@Resolver(() => CompanyType)
export class WebhookResolver {
  @Authorized("MANAGE_COMPANY")
  @Mutation(() => CreateWebhookEndpointPayload, {
    description:
      "Creates a webhook endpoint; the signing secret (whsec_…) is shown once. Messages of the chosen types are POSTed to it, signed per Standard Webhooks.",
  })
  createWebhookEndpoint(
    @Arg("input") input: CreateWebhookEndpointInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CreateWebhookEndpointPayload> {
    return ctx.services.webhooks.createEndpoint(ctx, input);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => WebhookEndpointType, {
    description:
      "Changes a webhook endpoint's URL, types or description, or re-enables (enabled: true) a disabled one.",
  })
  updateWebhookEndpoint(
    @Arg("input") input: UpdateWebhookEndpointInput,
    @Ctx() ctx: RequestContext,
  ): Promise<WebhookEndpointType> {
    return ctx.services.webhooks.updateEndpoint(ctx, input);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => RotateWebhookSecretPayload, {
    description:
      "Makes a new signing secret (shown once). The previous one keeps signing beside it for graceSeconds (default a day), so receivers can switch over.",
  })
  rotateWebhookSecret(
    @Arg("id", () => ID, { description: "The endpoint." }) id: string,
    @Arg("graceSeconds", () => Int, {
      nullable: true,
      description: "How long the previous secret still signs (default 86400, at most 604800; 0: not at all).",
    })
    graceSeconds: number | null,
    @Ctx() ctx: RequestContext,
  ): Promise<RotateWebhookSecretPayload> {
    return ctx.services.webhooks.rotateSecret(ctx, id, graceSeconds);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => WebhookEndpointType, {
    description:
      "Stops sending to an endpoint; its deliveries wait until updateWebhookEndpoint(enabled: true). Idempotent.",
  })
  disableWebhookEndpoint(
    @Arg("id", () => ID, { description: "The endpoint." }) id: string,
    @Arg("reason", () => String, { nullable: true, description: "Why (shown as disabledReason)." })
    reason: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<WebhookEndpointType> {
    return ctx.services.webhooks.disableEndpoint(ctx, id, reason);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => ID, { description: "Deletes an endpoint and its deliveries; returns its id." })
  deleteWebhookEndpoint(
    @Arg("id", () => ID, { description: "The endpoint." }) id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<string> {
    return ctx.services.webhooks.deleteEndpoint(ctx, id);
  }

  @Authorized("MANAGE_COMPANY")
  @Query(() => WebhookDeliveryConnection, {
    description: "An endpoint's deliveries, newest first: status, attempts, last response code and time.",
  })
  webhookDeliveries(
    @Args() args: WebhookDeliveriesArgs,
    @Ctx() ctx: RequestContext,
  ): Promise<WebhookDeliveryConnection> {
    return ctx.services.webhooks.listDeliveries(ctx, args.endpointId, args.filter, args.first, args.after);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => [WebhookDeliveryType], {
    description:
      "Sends a message again (same webhook-id, fresh signature) to endpointId, or to every endpoint it was sent to before. Returns the new deliveries.",
  })
  replayWebhookMessage(
    @Arg("id", () => ID, { description: "The message (a delivery's messageId)." }) id: string,
    @Arg("endpointId", () => ID, { nullable: true, description: "Only to this endpoint." }) endpointId: string | null,
    @Ctx() ctx: RequestContext,
  ): Promise<WebhookDeliveryType[]> {
    return ctx.services.webhooks.replay(ctx, id, endpointId);
  }

  @Authorized("MANAGE_COMPANY")
  @Mutation(() => WebhookDeliveryType, {
    description: "Sends a `webhook.test` message to the endpoint, signed and retried like any other.",
  })
  sendTestWebhook(
    @Arg("endpointId", () => ID, { description: "The endpoint." }) endpointId: string,
    @Ctx() ctx: RequestContext,
  ): Promise<WebhookDeliveryType> {
    return ctx.services.webhooks.sendTest(ctx, endpointId);
  }

  @Authorized("MANAGE_COMPANY")
  @FieldResolver(() => [WebhookEndpointType], {
    description: "Webhook endpoints, disabled ones included, oldest first (never a secret).",
  })
  webhookEndpoints(@Root() _company: CompanyType, @Ctx() ctx: RequestContext): Promise<WebhookEndpointType[]> {
    return ctx.services.webhooks.listEndpoints(companyIdOf(ctx));
  }
}

export const WEBHOOK_RESOLVERS = [WebhookResolver] as const;
