/**
 * The statements of the session rules, and the sessions row as plain SQL returns it. Each text is
 * a constant: SessionService runs them as named prepared statements on the hot paths (join,
 * heartbeat), so every column is listed.
 */
import { AppError, notFound } from "../../errors";
import type { Admission } from "./admission.types";
import { ORIGIN_OF_CREDENTIAL, SessionEndReasonValue, SessionEntity } from "./session.entity";
import type { RawQuery } from "../../db/raw";

/** The columns of a sessions row, as plain SQL returns them (SESSION_COLUMNS). */
export interface SessionRow {
  id: string;
  company_id: string;
  event_id: string;
  user_id: string;
  registrant_id: string | null;
  credential_type: SessionEntity["credentialType"];
  credential_jti: string | null;
  credential_issued_at: Date | null;
  credential_expires_at: Date | null;
  role_grant: string | null;
  role: string;
  joined_at: Date;
  last_seen_at: Date;
  ended_at: Date | null;
  end_reason: SessionEndReasonValue | null;
  eject_at: Date | null;
  eject_reason: SessionEndReasonValue | null;
  metadata: Record<string, unknown> | null;
}

export interface JoinRow extends SessionRow {
  user_created: boolean;
}

const SESSION_COLUMNS = `id, company_id, event_id, user_id, registrant_id, credential_type, credential_jti, credential_issued_at,
       credential_expires_at, role_grant, role, joined_at, last_seen_at, ended_at, end_reason, eject_at, eject_reason, metadata`;

export function sessionOfRow(row: SessionRow): SessionEntity {
  return Object.assign(new SessionEntity(), {
    id: row.id,
    companyId: row.company_id,
    eventId: row.event_id,
    userId: row.user_id,
    registrantId: row.registrant_id,
    credentialType: row.credential_type,
    credentialJti: row.credential_jti,
    credentialIssuedAt: row.credential_issued_at,
    credentialExpiresAt: row.credential_expires_at,
    roleGrant: row.role_grant,
    role: row.role,
    joinedAt: row.joined_at,
    lastSeenAt: row.last_seen_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    ejectAt: row.eject_at,
    ejectReason: row.eject_reason,
    metadata: row.metadata ?? {},
  });
}

/*
 * The end-of-session rule of decideEnding (ending.ts), in SQL: of the limits that have
 * passed (event end, ejectAt, last heartbeat + the company's inactivity window), the first reached
 * decides the reason and the end time; ties go to the event end, then ejectAt. LEAST ignores
 * NULLs. The fragments read `s` (sessions), `e` (events) and `c` (companies).
 *
 * A guest's session that never heartbeated (last_seen_at is still its join) has the first-heartbeat
 * window instead: anonymous joins that never come alive (bots) give their place back.
 */
const NEVER_BEATEN = "(s.credential_type = 'GUEST' AND s.last_seen_at = s.joined_at)";
const IDLE_AT = `(s.last_seen_at + make_interval(secs => CASE WHEN ${NEVER_BEATEN}
    THEN LEAST(c.first_heartbeat_window_seconds, c.session_inactivity_timeout_seconds) ELSE c.session_inactivity_timeout_seconds END))`;
const IDLE_REASON = `CASE WHEN ${NEVER_BEATEN} THEN 'NO_HEARTBEAT' ELSE 'INACTIVE' END`;
const EVENT_END = "LEAST(e.ended_at, e.ends_at)";
const FIRST_LIMIT = `LEAST(${IDLE_AT}, s.eject_at, ${EVENT_END})`;

/**
 * Ends every live session whose end time has already decided, as one UPDATE, so that under READ
 * COMMITTED a concurrent heartbeat's newer last_seen_at is re-checked before the row is ended.
 * Callers narrow it with `AND s.<column> = $2`. $1 is now.
 */
export const SWEEP_SQL = `UPDATE sessions s
    SET ended_at = CASE WHEN ${EVENT_END} = ${FIRST_LIMIT} THEN GREATEST(s.joined_at, ${EVENT_END})
                        WHEN s.eject_at = ${FIRST_LIMIT} THEN s.eject_at
                        ELSE s.last_seen_at END,
        end_reason = CASE WHEN ${EVENT_END} = ${FIRST_LIMIT} THEN 'EVENT_ENDED'
                          WHEN s.eject_at = ${FIRST_LIMIT} THEN COALESCE(s.eject_reason, 'ELAPSED')
                          ELSE ${IDLE_REASON} END
   FROM events e, companies c
  WHERE e.id = s.event_id AND c.id = s.company_id
    AND s.ended_at IS NULL AND ${FIRST_LIMIT} <= $1::timestamptz`;

/**
 * A heartbeat in one statement: the facts of decideEnding (time limits first, in SWEEP_SQL's order,
 * then revocation of the credential, the user's cut-off or the registration), and the role of
 * roleFromLists from the list entries naming this user and the credential's grant. An ending
 * session keeps its last_seen_at and role; a live one is touched and takes its live role.
 * $1 session id, $2 company id, $3 now.
 */
export const HEARTBEAT_SQL = `
WITH facts AS (
  SELECT s.id, ${EVENT_END} AS event_end, ${FIRST_LIMIT} AS first_limit,
         ${FIRST_LIMIT} <= $3::timestamptz AS timed_out,
         COALESCE(s.credential_jti IS NOT NULL AND EXISTS (
                    SELECT 1 FROM revoked_tokens r WHERE r.company_id = s.company_id AND r.jti = s.credential_jti), false)
           OR COALESCE(s.credential_issued_at < u.tokens_revoked_before, false)
           OR (s.registrant_id IS NOT NULL AND NOT EXISTS (
                    SELECT 1 FROM registrants g WHERE g.id = s.registrant_id AND g.cancelled_at IS NULL)) AS revoked,
         u.suspended_at IS NOT NULL AS suspended,
         ARRAY(SELECT p.role::text FROM event_principals p
                WHERE p.event_id = s.event_id
                  AND (p.user_external_id = u.external_id OR p.email = u.email_normalized)) AS listed,
         CASE WHEN upper(s.role_grant) IN ('ADMIN', 'OWNER', 'ORGANIZER') THEN 'ORGANIZER' ELSE upper(s.role_grant) END AS granted
    FROM sessions s
    JOIN events e ON e.id = s.event_id
    JOIN users u ON u.id = s.user_id
    JOIN companies c ON c.id = s.company_id
   WHERE s.id = $1 AND s.company_id = $2 AND s.ended_at IS NULL
)
UPDATE sessions s
   SET ended_at = CASE WHEN f.timed_out THEN CASE WHEN f.event_end = f.first_limit THEN GREATEST(s.joined_at, f.event_end)
                                                  WHEN s.eject_at = f.first_limit THEN s.eject_at
                                                  ELSE s.last_seen_at END
                       WHEN f.suspended OR f.revoked THEN $3::timestamptz END,
       end_reason = CASE WHEN f.timed_out THEN CASE WHEN f.event_end = f.first_limit THEN 'EVENT_ENDED'
                                                    WHEN s.eject_at = f.first_limit THEN COALESCE(s.eject_reason, 'ELAPSED')
                                                    ELSE ${IDLE_REASON} END
                         WHEN f.suspended THEN 'SUSPENDED'
                         WHEN f.revoked THEN 'REVOKED' END,
       last_seen_at = CASE WHEN f.timed_out OR f.suspended OR f.revoked THEN s.last_seen_at ELSE $3::timestamptz END,
       role = CASE WHEN f.timed_out OR f.suspended OR f.revoked THEN s.role
                   WHEN 'ORGANIZER' = ANY(f.listed) OR f.granted = 'ORGANIZER' THEN 'ORGANIZER'
                   WHEN 'PRESENTER' = ANY(f.listed) OR f.granted = 'PRESENTER' THEN 'PRESENTER'
                   ELSE 'ATTENDEE' END
  FROM facts f
 WHERE s.id = f.id AND s.ended_at IS NULL
RETURNING ${SESSION_COLUMNS.replace(/(\w+)/g, "s.$1")}`;

/** The join's writes in one statement: admit_join (migration JoinInOneStatement) says what it does. */
const JOIN_SQL = `SELECT ${SESSION_COLUMNS}, user_created
  FROM admit_join($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`;

/** The refusals admit_join raises (SQLSTATE AD001, the code as message), as a person reads them. */
const JOIN_REFUSALS: Readonly<Record<string, string>> = {
  EVENT_ENDED: "This event has ended.",
  EVENT_FULL: "This event is full; try again when someone leaves.",
  ALREADY_IN_SESSION: "You are already in this event elsewhere; leave that session first.",
  SEAT_LIMIT_REACHED: "The company has used every seat of its seat limit; raise seatLimit to add users.",
  INVALID_CREDENTIALS: "The user this credential names no longer exists.",
  TOKEN_REVOKED: "This credential was revoked.",
  USER_SUSPENDED: "This user is suspended: the company must unsuspend them before they can join.",
};

/**
 * Runs JOIN_SQL with admit_join's parameters (SessionService.joinAdmitted), on the pool or in a
 * transaction, turning its refusals into the API's errors.
 */
export async function runJoin(query: RawQuery, params: unknown[], admission: Admission): Promise<JoinRow> {
  try {
    const [row] = await query<JoinRow>(JOIN_SQL, params);
    return row;
  } catch (error) {
    const failure = error as { code?: string; message?: string; driverError?: { code?: string; message?: string } };
    const code = failure.driverError?.code ?? failure.code;
    const refusal = failure.driverError?.message ?? failure.message ?? "";
    if (code !== "AD001") throw error;
    if (refusal === "NOT_FOUND") throw notFound("The event");
    if (refusal === "TOKEN_REVOKED" && admission.entrant.kind === "registrant") {
      throw new AppError("TOKEN_REVOKED", "This registration was cancelled or revoked.");
    }
    const message = JOIN_REFUSALS[refusal];
    if (!message) throw error;
    throw new AppError(refusal as AppError["code"], message);
  }
}

/** admit_join's parameters for an admission; refuses a session that would already be over. */
export function joinParams(admission: Admission, now: Date, sweepWhenFull: boolean): unknown[] {
  const ejectCandidates: { at: Date; reason: SessionEndReasonValue }[] = [];
  if (admission.ejectAfterElapsedSeconds) {
    ejectCandidates.push({
      at: new Date(now.getTime() + admission.ejectAfterElapsedSeconds * 1000),
      reason: "ELAPSED",
    });
  }
  if (admission.ejectAtTokenExpiry && admission.expiresAt)
    ejectCandidates.push({ at: admission.expiresAt, reason: "TOKEN_EXPIRED" });
  const eject = ejectCandidates.sort((a, b) => a.at.getTime() - b.at.getTime())[0] ?? null;
  // A token accepted within the clock skew after its exp would open a session already over.
  if (eject && eject.at.getTime() <= now.getTime()) throw new AppError("TOKEN_EXPIRED", "The token has expired.");

  const entrant = admission.entrant;
  let profile: Record<string, unknown> = {};
  if (entrant.kind === "external") {
    const p = entrant.profile;
    if (p.email !== undefined) {
      profile.email = p.email?.email ?? null;
      profile.email_normalized = p.email?.normalized ?? null;
    }
    if (p.name !== undefined) profile.name = p.name;
    if (p.avatarUrl !== undefined) profile.avatar_url = p.avatarUrl;
    if (p.metadata !== undefined) profile.metadata = p.metadata ?? {};
  } else if (entrant.kind === "guest") {
    profile = { name: entrant.name };
  }
  const metadata =
    entrant.kind === "registrant" ? { ...admission.metadata, ...entrant.registrant.metadata } : admission.metadata;
  return [
    admission.company.id,
    admission.event.id,
    now,
    admission.company.sessionInactivityTimeoutSeconds,
    admission.company.firstHeartbeatWindowSeconds,
    entrant.kind,
    entrant.kind === "user" ? entrant.userId : null,
    entrant.kind === "external" ? entrant.profile.externalId : null,
    JSON.stringify(profile),
    entrant.kind === "registrant" ? entrant.registrant.id : null,
    admission.credentialType,
    admission.jti,
    admission.issuedAt,
    admission.expiresAt,
    admission.roleGrant,
    eject?.at ?? null,
    eject?.reason ?? null,
    JSON.stringify(metadata),
    sweepWhenFull,
    admission.createdVia ?? ORIGIN_OF_CREDENTIAL[admission.credentialType],
  ];
}
