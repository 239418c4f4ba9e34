import { ok, TestApp } from "../support/harness";
import type { TestCompany } from "../support/factories";

export const ALL_TYPES = [
  "SESSION_STARTED",
  "SESSION_ENDED",
  "SESSION_ROLE_CHANGED",
  "REGISTRANT_CREATED",
  "REGISTRANT_CANCELLED",
  "JOIN_REQUEST_CREATED",
  "JOIN_REQUEST_DECIDED",
  "USER_CREATED",
  "EVENT_ENDED",
];

export const ENDPOINT_FIELDS =
  "id url description eventTypes createdAt updatedAt disabledAt disabledReason failingSince previousSecretExpiresAt";
export const DELIVERY_FIELDS =
  "id endpointId messageId type occurredAt payload status attempts nextAttemptAt lastAttemptAt lastResponseCode lastError deliveredAt createdAt";

export const CREATE_ENDPOINT = `mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { webhookEndpoint { ${ENDPOINT_FIELDS} } secret }
}`;
export const DELIVERIES = `query($endpointId: ID!, $filter: WebhookDeliveryFilter, $first: Int, $after: String) {
  webhookDeliveries(endpointId: $endpointId, filter: $filter, first: $first, after: $after) {
    edges { cursor node { ${DELIVERY_FIELDS} } } pageInfo { hasNextPage endCursor }
  }
}`;

export async function createEndpoint(
  t: TestApp,
  company: TestCompany,
  url: string,
  eventTypes: string[] = ALL_TYPES,
): Promise<{ id: string; secret: string }> {
  const data = ok(
    await t.gql(CREATE_ENDPOINT, { input: { url, eventTypes, description: "backend" } }, { key: company.key }),
  ).createWebhookEndpoint;
  return { id: data.webhookEndpoint.id, secret: data.secret };
}

export async function deliveries(
  t: TestApp,
  company: TestCompany,
  endpointId: string,
  filter?: Record<string, unknown>,
): Promise<any[]> {
  return ok(
    await t.gql(DELIVERIES, { endpointId, filter, first: 100 }, { key: company.key }),
  ).webhookDeliveries.edges.map((e: any) => e.node);
}

/** Runs the worker's rounds until nothing is due now (the worker is not started in these tests). */
export function drain(t: TestApp): Promise<number> {
  return t.app.services.webhookWorker.drain();
}

/**
 * Runs the worker's rounds like drain, and answers the attempts made for this company's
 * deliveries only: on a PostgreSQL server the suite's files share one database, and other
 * files' endpoints may have retries due when a test moves the clock.
 */
export async function drainFor(t: TestApp, company: TestCompany): Promise<number> {
  const attempts = async (): Promise<number> =>
    Number(
      (
        await t.db.dataSource.query(
          "SELECT coalesce(sum(attempts), 0) AS n FROM webhook_deliveries WHERE company_id = $1",
          [company.id],
        )
      )[0].n,
    );
  const before = await attempts();
  await drain(t);
  return (await attempts()) - before;
}
