import { randomBytes, randomUUID } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import type { Clock } from "../../clock";
import type { KeyEncryption } from "../../auth/key-encryption";
import type { JwksAddressPolicy } from "../../auth/external-tokens";
import { companyIdOf, RequestContext } from "../../request-context";
import { badInput, notFound } from "../../errors";
import { decodeCursor, pageSize, toConnection, ConnectionShape } from "../../graphql/connection";
import * as v from "../../graphql/validate";
import { queryRows, rawQuery, RawQuery } from "../../db/raw";
import { requireStorable } from "../token/token.service";
import { WEBHOOK_DELIVERY_STATUSES, WEBHOOK_EVENT_TYPES, WEBHOOK_TEST_TYPE } from "./webhook.entity";
import type { CreateWebhookEndpointInput, UpdateWebhookEndpointInput, WebhookDeliveryFilter } from "./webhook.inputs";
import type {
  CreateWebhookEndpointPayload,
  RotateWebhookSecretPayload,
  WebhookDeliveryType,
  WebhookEndpointType,
  WebhookEventType,
} from "./webhook.types";
import { checkWebhookUrl } from "./webhook.http";
import { messageBody } from "./webhook.sql";

export interface WebhookServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  /** Encrypts signing secrets at rest under the master key. */
  encryption: KeyEncryption;
  /** Which addresses an endpoint may be on: loopback only outside production. */
  addresses: JwksAddressPolicy;
  /** Wakes this node's delivery worker (a test message, a replay). */
  wake: () => void;
}

/** A rotation keeps the previous secret signing this long unless told otherwise. */
export const DEFAULT_ROTATION_GRACE_SECONDS = 86_400;
const MAX_ROTATION_GRACE_SECONDS = 7 * 86_400;
const MAX_ENDPOINTS_PER_COMPANY = 50;

export interface EndpointRow {
  id: string;
  company_id: string;
  url: string;
  description: string | null;
  event_types: string[];
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | null;
  disabled_at: Date | null;
  disabled_reason: string | null;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface DeliveryRow {
  id: string;
  endpoint_id: string;
  message_id: string;
  type: string;
  occurred_at: Date;
  data: Record<string, unknown>;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_response_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
}

/** `whsec_` + base64 of 32 random bytes: the Standard Webhooks secret format. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

export function toEndpointType(row: EndpointRow): WebhookEndpointType {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    eventTypes: row.event_types as WebhookEventType[],
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    disabledAt: row.disabled_at,
    disabledReason: row.disabled_reason,
    failingSince: row.failing_since,
    previousSecretExpiresAt: row.previous_secret_encrypted ? row.previous_secret_expires_at : null,
  };
}

export function toDeliveryType(row: DeliveryRow): WebhookDeliveryType {
  return {
    id: row.id,
    endpointId: row.endpoint_id,
    messageId: row.message_id,
    type: row.type,
    occurredAt: row.occurred_at,
    payload: messageBody(row.type, row.occurred_at, row.data),
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === "PENDING" ? row.next_attempt_at : null,
    lastAttemptAt: row.last_attempt_at,
    lastResponseCode: row.last_response_code,
    lastError: row.last_error,
    deliveredAt: row.delivered_at,
    createdAt: row.created_at,
  };
}

const ENDPOINT_COLUMNS = `id, company_id, url, description, event_types, secret_encrypted, previous_secret_encrypted,
  previous_secret_expires_at, disabled_at, disabled_reason, failing_since, created_at, updated_at`;
export const DELIVERY_COLUMNS = `d.id, d.endpoint_id, d.message_id, m.type, m.occurred_at, m.data, d.status, d.attempts, d.next_attempt_at,
  d.last_attempt_at, d.last_response_code, d.last_error, d.delivered_at, d.created_at`;

/**
 * Webhook endpoints (where a company's backend is told what happened), their deliveries, replays
 * and test messages. Messages themselves are written by row triggers (the migration's outbox) and
 * sent by WebhookDeliveryWorker.
 */
export class WebhookService {
  private readonly sql: RawQuery;

  constructor(private readonly deps: WebhookServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
  }

  /** createWebhookEndpoint: the secret is shown once, stored encrypted under the master key. */
  async createEndpoint(ctx: RequestContext, input: CreateWebhookEndpointInput): Promise<CreateWebhookEndpointPayload> {
    const companyId = companyIdOf(ctx);
    const url = checkWebhookUrl(requireStorable("url", input.url), this.deps.addresses);
    const eventTypes = this.eventTypes(input.eventTypes);
    const description = v.optionalText("description", requireStorable("description", input.description ?? null), 500);
    const [{ count }] = await this.sql<{ count: number }>(
      "SELECT count(*)::int AS count FROM webhook_endpoints WHERE company_id = $1",
      [companyId],
    );
    if (count >= MAX_ENDPOINTS_PER_COMPANY)
      throw badInput(
        "url",
        `A company may have at most ${MAX_ENDPOINTS_PER_COMPANY} webhook endpoints; delete one first.`,
      );
    const id = randomUUID();
    const secret = newWebhookSecret();
    const now = this.deps.clock.now();
    const [row] = await this.sql<EndpointRow>(
      // created_at is the database's own time, like the messages' it is compared with at fan-out.
      `INSERT INTO webhook_endpoints (id, company_id, url, description, event_types, secret_encrypted, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${ENDPOINT_COLUMNS}`,
      [id, companyId, url, description, eventTypes, this.deps.encryption.encrypt(secret, id), now],
    );
    return { webhookEndpoint: toEndpointType(row), secret };
  }

  /** updateWebhookEndpoint: url, types, description; `enabled` re-enables (pending deliveries resume) or disables. */
  async updateEndpoint(ctx: RequestContext, input: UpdateWebhookEndpointInput): Promise<WebhookEndpointType> {
    const companyId = companyIdOf(ctx);
    const current = await this.endpoint(companyId, input.id);
    const url =
      input.url === undefined || input.url === null
        ? current.url
        : checkWebhookUrl(requireStorable("url", input.url), this.deps.addresses);
    const eventTypes =
      input.eventTypes === undefined || input.eventTypes === null
        ? current.event_types
        : this.eventTypes(input.eventTypes);
    const description =
      input.description === undefined
        ? current.description
        : v.optionalText("description", requireStorable("description", input.description), 500);
    const now = this.deps.clock.now();
    let disabled: [Date | null, string | null, Date | null] = [
      current.disabled_at,
      current.disabled_reason,
      current.failing_since,
    ];
    if (input.enabled === true) disabled = [null, null, null];
    if (input.enabled === false && !current.disabled_at)
      disabled = [now, "Disabled through the API.", current.failing_since];
    const [row] = await this.sql<EndpointRow>(
      `UPDATE webhook_endpoints SET url = $3, event_types = $4, description = $5, disabled_at = $6, disabled_reason = $7,
              failing_since = $8, updated_at = $9
        WHERE id = $1 AND company_id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
      [current.id, companyId, url, eventTypes, description, ...disabled, now],
    );
    if (!row) throw notFound("The webhook endpoint");
    if (input.enabled === true) this.deps.wake();
    return toEndpointType(row);
  }

  /**
   * rotateWebhookSecret: a new secret signs from now on; the previous one keeps signing beside it
   * (two signatures in `webhook-signature`, as the standard allows) for `graceSeconds`, so
   * receivers can switch without dropping a message.
   */
  async rotateSecret(
    ctx: RequestContext,
    id: string,
    graceSeconds?: number | null,
  ): Promise<RotateWebhookSecretPayload> {
    const companyId = companyIdOf(ctx);
    const grace = v.intInRange(
      "graceSeconds",
      graceSeconds ?? DEFAULT_ROTATION_GRACE_SECONDS,
      0,
      MAX_ROTATION_GRACE_SECONDS,
    );
    const current = await this.endpoint(companyId, id);
    const secret = newWebhookSecret();
    const now = this.deps.clock.now();
    // The id is the associated data of both ciphertexts: the current one simply moves over.
    const [row] = await this.sql<EndpointRow>(
      `UPDATE webhook_endpoints SET secret_encrypted = $3, previous_secret_encrypted = $4, previous_secret_expires_at = $5, updated_at = $6
        WHERE id = $1 AND company_id = $2 AND secret_encrypted = $4 RETURNING ${ENDPOINT_COLUMNS}`,
      [
        current.id,
        companyId,
        this.deps.encryption.encrypt(secret, current.id),
        current.secret_encrypted,
        new Date(now.getTime() + grace * 1000),
        now,
      ],
    );
    // Another rotation came first: this one is refused rather than dropping the one in between.
    if (!row) throw badInput("id", "The secret was rotated meanwhile; try again.");
    return { webhookEndpoint: toEndpointType(row), secret };
  }

  /** disableWebhookEndpoint: nothing is sent to it until re-enabled; its deliveries wait. Idempotent. */
  async disableEndpoint(ctx: RequestContext, id: string, reason?: string | null): Promise<WebhookEndpointType> {
    const companyId = companyIdOf(ctx);
    if (!v.isUuid(id)) throw notFound("The webhook endpoint");
    const why = v.optionalText("reason", requireStorable("reason", reason ?? null), 500) ?? "Disabled through the API.";
    const now = this.deps.clock.now();
    const [row] = await this.sql<EndpointRow>(
      `UPDATE webhook_endpoints SET disabled_reason = CASE WHEN disabled_at IS NULL THEN $4 ELSE disabled_reason END,
              disabled_at = COALESCE(disabled_at, $3), updated_at = $3
        WHERE id = $1 AND company_id = $2 RETURNING ${ENDPOINT_COLUMNS}`,
      [id, companyId, now, why],
    );
    if (!row) throw notFound("The webhook endpoint");
    return toEndpointType(row);
  }

  /** deleteWebhookEndpoint: the endpoint and its deliveries go; messages stay for the company's other endpoints. */
  async deleteEndpoint(ctx: RequestContext, id: string): Promise<string> {
    const companyId = companyIdOf(ctx);
    if (!v.isUuid(id)) throw notFound("The webhook endpoint");
    const rows = await this.sql<{ id: string }>(
      "DELETE FROM webhook_endpoints WHERE id = $1 AND company_id = $2 RETURNING id",
      [id, companyId],
    );
    if (rows.length === 0) throw notFound("The webhook endpoint");
    return id;
  }

  /** The company's endpoints, oldest first. Never a secret. */
  async listEndpoints(companyId: string): Promise<WebhookEndpointType[]> {
    const rows = await this.sql<EndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE company_id = $1 ORDER BY created_at, id`,
      [companyId],
    );
    return rows.map(toEndpointType);
  }

  /** webhookDeliveries: newest first, keyset-paginated on (created_at, id). */
  async listDeliveries(
    ctx: RequestContext,
    endpointId: string,
    filter: WebhookDeliveryFilter | null | undefined,
    first: number | null | undefined,
    after: string | null | undefined,
  ): Promise<ConnectionShape<WebhookDeliveryType>> {
    const companyId = companyIdOf(ctx);
    const limit = pageSize(first);
    await this.endpoint(companyId, endpointId);
    const cursor = decodeCursor(after, 2);
    if (
      cursor &&
      (typeof cursor[0] !== "string" ||
        typeof cursor[1] !== "string" ||
        !v.isUuid(cursor[1]) ||
        Number.isNaN(Date.parse(cursor[0])))
    ) {
      throw badInput("after", "after is not a cursor this API gave out.");
    }
    if (filter?.status && !(WEBHOOK_DELIVERY_STATUSES as readonly string[]).includes(filter.status))
      throw badInput("status", "Unknown status.");
    const params: unknown[] = [endpointId, companyId, filter?.status ?? null, filter?.type ?? null, limit + 1];
    let keyset = "";
    if (cursor) {
      params.push(new Date(cursor[0]), cursor[1]);
      keyset = "AND (d.created_at, d.id) < ($6, $7)";
    }
    const rows = await this.sql<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
        WHERE d.endpoint_id = $1 AND d.company_id = $2 AND ($3::text IS NULL OR d.status = $3) AND ($4::text IS NULL OR m.type = $4) ${keyset}
        ORDER BY d.created_at DESC, d.id DESC LIMIT $5`,
      params,
    );
    return toConnection(rows, limit, (row) => [row.created_at.toISOString(), row.id], toDeliveryType);
  }

  /**
   * replayWebhookMessage: sends a message again (same `webhook-id`, a fresh signature) to
   * `endpointId`, or to every endpoint it was delivered to before. New deliveries, PENDING.
   */
  async replay(ctx: RequestContext, messageId: string, endpointId?: string | null): Promise<WebhookDeliveryType[]> {
    const companyId = companyIdOf(ctx);
    if (!v.isUuid(messageId)) throw notFound("The webhook message");
    if (endpointId !== undefined && endpointId !== null) await this.endpoint(companyId, endpointId);
    const now = this.deps.clock.now();
    const rows = await this.sql<DeliveryRow>(
      `WITH m AS (SELECT id, seq, ordering_key, type, occurred_at, data FROM webhook_messages WHERE id = $1 AND company_id = $2),
            targets AS (SELECT DISTINCT e.id FROM webhook_endpoints e
                         WHERE e.company_id = $2 AND (CASE WHEN $3::uuid IS NULL
                                THEN EXISTS (SELECT 1 FROM webhook_deliveries p WHERE p.message_id = $1 AND p.endpoint_id = e.id)
                                ELSE e.id = $3::uuid END)),
            d AS (INSERT INTO webhook_deliveries (company_id, endpoint_id, message_id, seq, ordering_key, status, next_attempt_at, created_at)
                  SELECT $2, t.id, m.id, m.seq, m.ordering_key, 'PENDING', $4, $4 FROM m, targets t
                  RETURNING *)
       SELECT ${DELIVERY_COLUMNS} FROM d JOIN m ON m.id = d.message_id ORDER BY d.endpoint_id`,
      [messageId, companyId, endpointId ?? null, now],
    );
    if (rows.length === 0) {
      const [exists] = await this.sql("SELECT 1 FROM webhook_messages WHERE id = $1 AND company_id = $2", [
        messageId,
        companyId,
      ]);
      if (!exists) throw notFound("The webhook message");
      throw badInput("endpointId", "The message was never sent to an endpoint: name the endpoint to send it to.");
    }
    this.deps.wake();
    return rows.map(toDeliveryType);
  }

  /** sendTestWebhook: a `webhook.test` message to this endpoint only, delivered like any other. */
  async sendTest(ctx: RequestContext, endpointId: string): Promise<WebhookDeliveryType> {
    const companyId = companyIdOf(ctx);
    const endpoint = await this.endpoint(companyId, endpointId);
    const now = this.deps.clock.now();
    const [row] = await this.sql<DeliveryRow>(
      `WITH m AS (INSERT INTO webhook_messages (company_id, type, ordering_key, data, occurred_at, fanned_out)
                  VALUES ($1, $2, $3, $4, $5, true) RETURNING id, seq, ordering_key, type, occurred_at, data),
            d AS (INSERT INTO webhook_deliveries (company_id, endpoint_id, message_id, seq, ordering_key, status, next_attempt_at, created_at)
                  SELECT $1, $6, m.id, m.seq, m.ordering_key, 'PENDING', $5, $5 FROM m RETURNING *)
       SELECT ${DELIVERY_COLUMNS} FROM d JOIN m ON m.id = d.message_id`,
      [
        companyId,
        WEBHOOK_TEST_TYPE,
        `test:${endpoint.id}`,
        { endpointId: endpoint.id, message: "A test message from Admit." },
        now,
        endpoint.id,
      ],
    );
    this.deps.wake();
    return toDeliveryType(row);
  }

  private async endpoint(companyId: string, id: string): Promise<EndpointRow> {
    if (!v.isUuid(id)) throw notFound("The webhook endpoint");
    const [row] = await this.sql<EndpointRow>(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND company_id = $2`,
      [id, companyId],
    );
    if (!row) throw notFound("The webhook endpoint");
    return row;
  }

  private eventTypes(types: readonly string[]): string[] {
    const unique = [...new Set(types)];
    if (unique.length === 0) throw badInput("eventTypes", "eventTypes must name at least one event type.");
    for (const type of unique) {
      if (!(WEBHOOK_EVENT_TYPES as readonly string[]).includes(type))
        throw badInput("eventTypes", "eventTypes names an unknown event type.");
    }
    return unique.sort();
  }
}

/**
 * Removes a person's name, email and external id from every stored webhook message that names
 * them, inside the caller's transaction: messages about the user (user.created, their sessions),
 * about registrations given (linked to the user or made with their email), and knocks made with
 * their email. Call it last in an erasure, after the changes that themselves write messages
 * (sessions ended, registrations cancelled). Ids stay (they identify nothing outside Admit).
 * Returns the messages changed.
 */
export async function eraseUserFromWebhookMessages(
  manager: EntityManager,
  person: { companyId: string; userId: string; registrantIds: readonly string[]; emails: readonly string[] },
): Promise<number> {
  const rows = await queryRows<{ id: string }>(
    manager,
    `UPDATE webhook_messages m
        SET data = (m.data - 'name' - 'email' - 'externalId')
                   || CASE WHEN m.data ? 'user' AND jsonb_typeof(m.data->'user') = 'object'
                           THEN jsonb_build_object('user', (m.data->'user') - 'name' - 'email' - 'externalId')
                           ELSE '{}'::jsonb END
      WHERE m.company_id = $1
        AND (m.user_id = $2
             OR m.data->>'registrantId' = ANY ($3::text[])
             OR lower(m.data->>'email') = ANY ($4::text[])
             OR lower(m.data->'user'->>'email') = ANY ($4::text[]))
     RETURNING m.id`,
    [person.companyId, person.userId, person.registrantIds, person.emails.map((e) => e.trim().toLowerCase())],
  );
  return rows.length;
}
