/** The statements of the delivery workers, and the body every delivery of a message sends. */

/** The JSON body: the same bytes for every attempt and every endpoint of a message. */
export function messageBody(type: string, occurredAt: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ type, timestamp: occurredAt.toISOString(), data });
}

/**
 * Fan-out: messages not yet fanned out become one PENDING delivery per enabled endpoint of their
 * company that listens to their type (and existed when the message was written). One statement;
 * SKIP LOCKED lets every node fan out at once without taking the same messages.
 * $1: now (the first attempt is due at once), $2: how many messages.
 */
export const FAN_OUT = `
WITH m AS (
  SELECT id, company_id, type, seq, ordering_key, created_at FROM webhook_messages
   WHERE NOT fanned_out ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED
), d AS (
  INSERT INTO webhook_deliveries (company_id, endpoint_id, message_id, seq, ordering_key, status, next_attempt_at, created_at)
  SELECT m.company_id, e.id, m.id, m.seq, m.ordering_key, 'PENDING', $1, $1
    FROM m JOIN webhook_endpoints e
      ON e.company_id = m.company_id AND e.disabled_at IS NULL AND m.type = ANY (e.event_types) AND e.created_at <= m.created_at
  RETURNING 1
)
UPDATE webhook_messages w SET fanned_out = true FROM m WHERE w.id = m.id
RETURNING (SELECT count(*) FROM d)::int AS deliveries`;

/**
 * Claim: due deliveries of enabled endpoints, none of which has an earlier message of the same
 * ordering key (the Admit event) still pending for the same endpoint, leased until $2 (a node
 * killed mid-delivery lets them go then). FOR UPDATE SKIP LOCKED: nodes claiming at the same
 * moment take different rows, and a row claimed and committed by another node is re-checked
 * against its new lease and skipped. $1: now, $2: lease end, $3: how many.
 */
export const CLAIM = `
UPDATE webhook_deliveries d SET locked_until = $2, attempts = d.attempts + 1, last_attempt_at = $1
 WHERE d.id IN (
   SELECT c.id FROM webhook_deliveries c JOIN webhook_endpoints e ON e.id = c.endpoint_id
    WHERE c.status = 'PENDING' AND c.next_attempt_at <= $1 AND (c.locked_until IS NULL OR c.locked_until <= $1)
      AND e.disabled_at IS NULL
      AND NOT EXISTS (
        SELECT 1 FROM webhook_deliveries p
         WHERE p.endpoint_id = c.endpoint_id AND p.ordering_key = c.ordering_key AND p.status = 'PENDING'
           AND (p.seq < c.seq OR (p.seq = c.seq AND (p.created_at, p.id) < (c.created_at, c.id))))
    ORDER BY c.next_attempt_at, c.seq
    LIMIT $3
      FOR UPDATE OF c SKIP LOCKED)
RETURNING d.id, d.attempts, d.endpoint_id, d.message_id`;

/** What one claimed delivery needs to be sent: the message and its endpoint's secrets. */
export const LOAD_CLAIMED = `
SELECT d.id, d.attempts, d.created_at, m.id AS message_id, m.type, m.occurred_at, m.data,
       e.id AS endpoint_id, e.url, e.secret_encrypted, e.previous_secret_encrypted, e.previous_secret_expires_at
  FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id JOIN webhook_endpoints e ON e.id = d.endpoint_id
 WHERE d.id = ANY ($1::uuid[])`;

/** $1 id, $2 now, $3 status code. The lease is only cleared by the lease holder's own attempt. */
export const MARK_DELIVERED = `
UPDATE webhook_deliveries SET status = 'DELIVERED', delivered_at = $2, last_response_code = $3, last_error = NULL, locked_until = NULL
 WHERE id = $1 AND status = 'PENDING'`;

export const ENDPOINT_SUCCEEDED = `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`;

/** $1 id, $2 status code or null, $3 error or null, $4 next attempt or null (null: give up). */
export const MARK_FAILED = `
UPDATE webhook_deliveries
   SET status = CASE WHEN $4::timestamptz IS NULL THEN 'FAILED' ELSE 'PENDING' END,
       next_attempt_at = COALESCE($4::timestamptz, next_attempt_at), last_response_code = $2, last_error = $3, locked_until = NULL
 WHERE id = $1 AND status = 'PENDING'`;

/** $1 endpoint, $2 now. Returns since when it has been failing. */
export const ENDPOINT_FAILED = `
UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $2) WHERE id = $1 RETURNING failing_since`;

/** $1 endpoint, $2 now, $3 reason, $4 failing since at most. */
export const DISABLE_FAILING = `
UPDATE webhook_endpoints SET disabled_at = $2, disabled_reason = $3, updated_at = $2
 WHERE id = $1 AND disabled_at IS NULL AND failing_since <= $4`;
