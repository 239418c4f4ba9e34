/** The plain statements that read or write whole users rows, the row they return, and its entity. */

import { UserEntity, type UserOriginValue } from "./user.entity";

/** A users row as plain SQL returns it (`SELECT *`, `RETURNING *`). */
export interface UserRow {
  id: string;
  company_id: string;
  external_id: string | null;
  email: string | null;
  email_normalized: string | null;
  name: string | null;
  avatar_url: string | null;
  metadata: Record<string, unknown> | null;
  is_guest: boolean;
  tokens_revoked_before: Date | null;
  created_via: UserOriginValue;
  suspended_at: Date | null;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** The entity of a users row read with plain SQL. */
export function userOfRow(row: UserRow): UserEntity {
  return Object.assign(new UserEntity(), {
    id: row.id,
    companyId: row.company_id,
    externalId: row.external_id,
    email: row.email,
    emailNormalized: row.email_normalized,
    name: row.name,
    avatarUrl: row.avatar_url,
    metadata: row.metadata ?? {},
    isGuest: row.is_guest,
    tokensRevokedBefore: row.tokens_revoked_before,
    createdVia: row.created_via,
    suspendedAt: row.suspended_at,
    deletedAt: row.deleted_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
}

/** $1 company id, $2 external id. */
export const USER_BY_EXTERNAL_ID = "SELECT * FROM users WHERE company_id = $1 AND external_id = $2";

/** A user's profile columns. $1 id, then $2…$6 email, email_normalized, name, avatar_url, metadata. */
export const UPDATE_USER_PROFILE = `UPDATE users SET email = $2, email_normalized = $3, name = $4, avatar_url = $5, metadata = $6, updated_at = now()
          WHERE id = $1 RETURNING *`;

/**
 * A new user with a profile, or no row when the company already has one with this external id:
 * ON CONFLICT DO NOTHING waits for a concurrent creator of the same user and then yields to it.
 * $1 company id, $2 external id, then $3…$7 email, email_normalized, name, avatar_url, metadata.
 */
export const INSERT_USER = `INSERT INTO users (company_id, external_id, email, email_normalized, name, avatar_url, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (company_id, external_id) WHERE external_id IS NOT NULL DO NOTHING
       RETURNING *`;

/**
 * The company's live user named by Admit's id or by the company's external id, locked for a
 * change. $1 company id, $2 the id if it is a UUID (else null), $3 the id as an external id.
 */
export const LOCK_USER = `SELECT * FROM users WHERE company_id = $1 AND deleted_at IS NULL
          AND (($2::uuid IS NOT NULL AND id = $2::uuid) OR external_id = $3)
        ORDER BY (id = $2::uuid) DESC NULLS LAST LIMIT 1 FOR UPDATE`;
