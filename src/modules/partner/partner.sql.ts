/** The plain statements on partner_secrets and the row they return. */

/** A partner_secrets row as plain SQL returns it (`SELECT *`, `RETURNING *`). */
export interface PartnerSecretRow {
  id: string;
  company_id: string;
  name: string;
  secret_encrypted: string;
  last_used_at: Date | null;
  revoked_at: Date | null;
  created_at: Date;
}

/** What the listing reads of a row: everything but the secret. */
export type PartnerSecretListRow = Omit<PartnerSecretRow, "secret_encrypted">;

/** $1 company id. */
export const COUNT_ACTIVE_PARTNER_SECRETS =
  "SELECT count(*)::int AS active FROM partner_secrets WHERE company_id = $1 AND revoked_at IS NULL";

/** $1 id, $2 company id, $3 name, $4 the encrypted secret, $5 now. */
export const INSERT_PARTNER_SECRET = `INSERT INTO partner_secrets (id, company_id, name, secret_encrypted, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *`;

/** Idempotent: the first revocation time stays. $1 id, $2 company id, $3 now. */
export const REVOKE_PARTNER_SECRET = `UPDATE partner_secrets SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND company_id = $2 RETURNING *`;

/** $1 company id; revoked secrets included, oldest first, never the secret. */
export const PARTNER_SECRETS_OF_COMPANY = `SELECT id, company_id, name, last_used_at, revoked_at, created_at FROM partner_secrets WHERE company_id = $1 ORDER BY created_at, id`;

/** The ids of the company's active secrets, oldest first. $1 company id, $2 how many at most. */
export const ACTIVE_PARTNER_SECRET_IDS =
  "SELECT id FROM partner_secrets WHERE company_id = $1 AND revoked_at IS NULL ORDER BY created_at, id LIMIT $2";

/** $1 id. */
export const COMPANY_OF_PARTNER_SECRET = "SELECT company_id FROM partner_secrets WHERE id = $1";

/** $1 id. */
export const PARTNER_SECRET_BY_ID = "SELECT * FROM partner_secrets WHERE id = $1";

/** Writes last_used_at unless another write is recent enough. $1 id, $2 now, $3 the oldest write that is. */
export const MARK_PARTNER_SECRET_USED =
  "UPDATE partner_secrets SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)";
