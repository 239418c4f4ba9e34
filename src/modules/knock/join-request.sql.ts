/** The plain statements of knocking, the join_requests row they return, and its entity. */

import { JoinRequestEntity, type JoinRequestStatusValue } from "./join-request.entity";

/** A join_requests row as plain SQL returns it (`RETURNING *`, `SELECT j.*`). */
export interface JoinRequestRow {
  id: string;
  company_id: string;
  event_id: string;
  name: string;
  email: string | null;
  email_normalized: string | null;
  status: JoinRequestStatusValue;
  secret_hash: string;
  role: string | null;
  deny_reason: string | null;
  decided_by: string | null;
  decided_at: Date | null;
  expires_at: Date;
  consumed_at: Date | null;
  created_at: Date;
}

/** The entity of a join_requests row read with plain SQL. */
export function joinRequestOfRow(row: JoinRequestRow): JoinRequestEntity {
  return Object.assign(new JoinRequestEntity(), {
    id: row.id,
    companyId: row.company_id,
    eventId: row.event_id,
    name: row.name,
    email: row.email,
    emailNormalized: row.email_normalized,
    status: row.status,
    secretHash: row.secret_hash,
    role: row.role,
    denyReason: row.deny_reason,
    decidedBy: row.decided_by,
    decidedAt: row.decided_at,
    expiresAt: row.expires_at,
    consumedAt: row.consumed_at,
    createdAt: row.created_at,
  });
}

export type JoinRequestFilter = "all" | JoinRequestStatusValue;

/** Fixed SQL per filter, never built from input; $3 is now (bound for every filter, used by some). */
const FILTERS: Record<JoinRequestFilter, string> = {
  all: "",
  PENDING: "AND status = 'PENDING' AND expires_at > $3::timestamptz",
  EXPIRED: "AND (status = 'EXPIRED' OR (status = 'PENDING' AND expires_at <= $3::timestamptz))",
  APPROVED: "AND status = 'APPROVED'",
  DENIED: "AND status = 'DENIED'",
};

/**
 * The first rows of Event.joinRequests pages of many events of one company, in one statement
 * (ROW_NUMBER() per event), oldest first. $1 company id, $2 event ids, $3 now, $4 rows per event;
 * with `after`, $5 and $6 the created_at and id the pages resume after.
 */
export function joinRequestPagesSql(filter: JoinRequestFilter, after: boolean): string {
  const afterSql = after ? "AND (created_at, id) > ($5::timestamptz, $6::uuid)" : "";
  return `SELECT * FROM (
               SELECT j.*, ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY created_at, id) AS rn
                 FROM join_requests j
                WHERE company_id = $1 AND event_id = ANY($2::uuid[]) AND $3::timestamptz IS NOT NULL ${FILTERS[filter]} ${afterSql}
             ) w
             WHERE w.rn <= $4
             ORDER BY w.created_at, w.id`;
}

/** requestToJoin's PENDING request. $1 company, $2 event, $3 name, $4 email, $5 normalized email, $6 secret hash, $7 expiry. */
export const INSERT_JOIN_REQUEST = `INSERT INTO join_requests (company_id, event_id, name, email, email_normalized, status, secret_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7)
       RETURNING *`;

/** A PENDING request past its expiry becomes EXPIRED; no row when it was decided meanwhile. $1 id, $2 now. */
export const RECORD_EXPIRY =
  "UPDATE join_requests SET status = 'EXPIRED' WHERE id = $1 AND status = 'PENDING' AND expires_at <= $2 RETURNING *";

/**
 * Decides a PENDING, unexpired request of the company (of one event when $8 is set) whose event
 * has not ended; no row otherwise. $1 id, $2 company id, $3 status, $4 role, $5 deny reason,
 * $6 decided by, $7 now, $8 the only event an organizer session may decide for, or null.
 */
export const DECIDE_JOIN_REQUEST = `UPDATE join_requests j
          SET status = $3, role = $4, deny_reason = $5, decided_by = $6, decided_at = $7
        WHERE j.id = $1 AND j.company_id = $2 AND j.status = 'PENDING' AND j.expires_at > $7
          AND ($8::uuid IS NULL OR j.event_id = $8::uuid)
          AND EXISTS (SELECT 1 FROM events e
                       WHERE e.id = j.event_id AND e.ended_at IS NULL AND (e.ends_at IS NULL OR e.ends_at > $7))
        RETURNING j.*`;

/** Spends an approval (single use); no row when it was spent already. $1 id, $2 company id, $3 now. */
export const CONSUME_APPROVAL = `UPDATE join_requests SET consumed_at = $3
            WHERE id = $1 AND company_id = $2 AND status = 'APPROVED' AND consumed_at IS NULL
            RETURNING id`;
