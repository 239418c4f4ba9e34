/** The plain statements on identity_providers, the row they return, and its entity. */

import { IdentityProviderEntity, type IdentityProviderKindValue } from "./identity-provider.entity";

/** An identity_providers row as plain SQL returns it (`SELECT *`, `RETURNING *`). */
export interface IdentityProviderRow {
  id: string;
  company_id: string;
  kind: IdentityProviderKindValue;
  name: string;
  issuer: string;
  jwks_uri: string;
  audience: string | null;
  algorithms: string[];
  external_id_claim: string;
  email_claim: string;
  name_claim: string;
  jit_enabled: boolean;
  disabled_at: Date | null;
  created_at: Date;
}

/** The entity of an identity_providers row read with plain SQL. */
export function identityProviderOfRow(row: IdentityProviderRow): IdentityProviderEntity {
  return Object.assign(new IdentityProviderEntity(), {
    id: row.id,
    companyId: row.company_id,
    kind: row.kind,
    name: row.name,
    issuer: row.issuer,
    jwksUri: row.jwks_uri,
    audience: row.audience,
    algorithms: row.algorithms,
    externalIdClaim: row.external_id_claim,
    emailClaim: row.email_claim,
    nameClaim: row.name_claim,
    jitEnabled: row.jit_enabled,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
  });
}

/**
 * A new provider; a removed provider's row with the same issuer is replaced (new id, so nothing
 * cached for the old one applies); no row when a live provider has the issuer. $1 id,
 * $2 company id, $3 kind, $4 name, $5 issuer, $6 JWKS URI, $7 audience, $8 algorithms,
 * $9…$11 the external id, email and name claims, $12 jit_enabled, $13 now.
 */
export const ADD_IDENTITY_PROVIDER = `INSERT INTO identity_providers (id, company_id, kind, name, issuer, jwks_uri, audience, algorithms,
                                       external_id_claim, email_claim, name_claim, jit_enabled, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (company_id, issuer) DO UPDATE
          SET id = EXCLUDED.id, kind = EXCLUDED.kind, name = EXCLUDED.name, jwks_uri = EXCLUDED.jwks_uri,
              audience = EXCLUDED.audience, algorithms = EXCLUDED.algorithms, external_id_claim = EXCLUDED.external_id_claim,
              email_claim = EXCLUDED.email_claim, name_claim = EXCLUDED.name_claim, jit_enabled = EXCLUDED.jit_enabled,
              created_at = EXCLUDED.created_at, disabled_at = NULL
        WHERE identity_providers.disabled_at IS NOT NULL
       RETURNING *`;

/** Idempotent: the first removal time stays. $1 id, $2 company id, $3 now. */
export const REMOVE_IDENTITY_PROVIDER = `UPDATE identity_providers SET disabled_at = COALESCE(disabled_at, $3) WHERE id = $1 AND company_id = $2 RETURNING *`;

/** $1 company id; removed providers included, oldest first. */
export const IDENTITY_PROVIDERS_OF_COMPANY =
  "SELECT * FROM identity_providers WHERE company_id = $1 ORDER BY created_at, id";

/** The live provider. $1 company id, $2 issuer, $3 kind. */
export const IDENTITY_PROVIDER_BY_ISSUER =
  "SELECT * FROM identity_providers WHERE company_id = $1 AND issuer = $2 AND kind = $3 AND disabled_at IS NULL";
