import { randomBytes, randomUUID } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import type { CryptoKey } from "jose";
import type { Clock } from "../../clock";
import type { KeyEncryption } from "../../auth/key-encryption";
import { ASYMMETRIC_ALGS, isAsymmetricAlg, outboundHost } from "../../auth/external-tokens";
import { companyIdOf, RequestContext } from "../../request-context";
import { badInput, notFound } from "../../errors";
import * as v from "../../graphql/validate";
import { queryRows, rawQuery, RawQuery } from "../../db/raw";
import { NodeCache } from "../../db/node-cache";
import { isStorable, requireStorable } from "../token/token.service";
import { IdentityProviderEntity, IdentityProviderKindValue } from "../identity-provider/identity-provider.entity";
import {
  ADD_IDENTITY_PROVIDER,
  IDENTITY_PROVIDER_BY_ISSUER,
  IDENTITY_PROVIDERS_OF_COMPANY,
  identityProviderOfRow,
  REMOVE_IDENTITY_PROVIDER,
  type IdentityProviderRow,
} from "../identity-provider/identity-provider.sql";
import {
  ACTIVE_PARTNER_SECRET_IDS,
  COMPANY_OF_PARTNER_SECRET,
  COUNT_ACTIVE_PARTNER_SECRETS,
  INSERT_PARTNER_SECRET,
  MARK_PARTNER_SECRET_USED,
  PARTNER_SECRET_BY_ID,
  PARTNER_SECRETS_OF_COMPANY,
  REVOKE_PARTNER_SECRET,
  type PartnerSecretListRow,
  type PartnerSecretRow,
} from "./partner.sql";
import type { AddIdentityProviderInput, CreatePartnerSecretInput } from "./partner.inputs";
import type { CreatePartnerSecretPayload, IdentityProviderType, PartnerSecretType } from "./partner.types";

export interface PartnerServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  /** Encrypts partner secrets at rest under the master key. */
  encryption: KeyEncryption;
  /** NODE_ENV is "production": JWKS URIs must then be https on a public host. */
  production: boolean;
}

/**
 * How long a node trusts its cached copy of a partner secret (decrypted and imported as an HMAC
 * key). A revocation made on another node takes effect here within this time; on the node that
 * revoked, at once.
 */
export const PARTNER_SECRET_CACHE_MS = 5_000;
/** lastUsedAt is written at most this often per secret. */
const LAST_USED_RESOLUTION_MS = 60_000;
const SECRET_CACHE_MAX_ENTRIES = 10_000;
/** Partner secrets a company may hold active at once (rotation needs two; five leaves room). */
export const MAX_ACTIVE_PARTNER_SECRETS = 5;
const DEFAULT_ALGORITHMS = ["RS256", "ES256", "EdDSA"];
const MAX_CLAIM_NAME = 100;
const MAX_URI = 2048;

/** A partner secret ready to verify with; `key` is null once revoked. */
export interface PartnerSecretKey {
  id: string;
  companyId: string;
  key: CryptoKey | null;
  /** What this node last wrote (or read) as last_used_at, in ms. */
  lastUsedAt: number | null;
}

const toPartnerSecretType = (row: PartnerSecretListRow): PartnerSecretType => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
});

export function toIdentityProviderType(provider: IdentityProviderEntity): IdentityProviderType {
  return {
    id: provider.id,
    kind: provider.kind,
    name: provider.name,
    issuer: provider.issuer,
    jwksUri: provider.jwksUri,
    audience: provider.audience,
    algorithms: provider.algorithms,
    claimMapping: { externalId: provider.externalIdClaim, email: provider.emailClaim, name: provider.nameClaim },
    jitEnabled: provider.jitEnabled,
    createdAt: provider.createdAt,
    disabledAt: provider.disabledAt,
  };
}

/**
 * Partner secrets and identity providers: what a company registers so that partners' and
 * providers' tokens are credentials. Verification lives in PartnerJwtService and IdTokenService;
 * this service owns the rows and the per-node key cache.
 */
export class PartnerService {
  private readonly sql: RawQuery;
  /**
   * Secret id → the secret, revoked ones included (as `key: null`); unknown ids are not kept.
   * Nothing is announced: this node drops what it changes, other nodes wait out the TTL.
   */
  private readonly secretCache: NodeCache<PartnerSecretKey | null>;
  /** Company id → the ids of its active secrets, for tokens without kid (same lifetime as secretCache). */
  private readonly activeCache: NodeCache<string[]>;

  constructor(private readonly deps: PartnerServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
    const options = { clock: deps.clock, ttlMs: PARTNER_SECRET_CACHE_MS, maxEntries: SECRET_CACHE_MAX_ENTRIES };
    this.secretCache = new NodeCache(options);
    this.activeCache = new NodeCache(options);
  }

  // ---------------------------------------------------------------------------------------------
  // Partner secrets

  /**
   * createPartnerSecret: 256 random bits, base64url (43 characters), shown once. The partner
   * signs with HS256 using the UTF-8 bytes of that string as the key and the returned id as
   * `kid`. Stored encrypted under the master key, with the id as associated data.
   */
  async createSecret(ctx: RequestContext, input: CreatePartnerSecretInput): Promise<CreatePartnerSecretPayload> {
    const companyId = companyIdOf(ctx);
    const name = v.requiredText("name", requireStorable("name", input.name));
    const id = randomUUID();
    const secret = randomBytes(32).toString("base64url");
    const row = await this.deps.dataSource.transaction(async (manager) => {
      // The company's row lock makes the count exact under concurrent creations: a token without
      // kid is tried against every active secret, so their number must stay bounded.
      await queryRows(manager, "SELECT 1 FROM companies WHERE id = $1 FOR UPDATE", [companyId]);
      const [{ active }] = await queryRows<{ active: number }>(manager, COUNT_ACTIVE_PARTNER_SECRETS, [companyId]);
      if (active >= MAX_ACTIVE_PARTNER_SECRETS) {
        throw badInput(
          "name",
          `A company may hold at most ${MAX_ACTIVE_PARTNER_SECRETS} active partner secrets: revoke one first.`,
        );
      }
      const [inserted] = await queryRows<PartnerSecretRow>(manager, INSERT_PARTNER_SECRET, [
        id,
        companyId,
        name,
        this.deps.encryption.encrypt(secret, id),
        this.deps.clock.now(),
      ]);
      return inserted;
    });
    this.activeCache.delete(companyId);
    return { partnerSecret: toPartnerSecretType(row), secret };
  }

  /** revokePartnerSecret: idempotent (the first revocation time stays). Other nodes follow within PARTNER_SECRET_CACHE_MS. */
  async revokeSecret(ctx: RequestContext, id: string): Promise<PartnerSecretType> {
    const companyId = companyIdOf(ctx);
    if (!v.isUuid(id)) throw notFound("The partner secret");
    const [row] = await this.sql<PartnerSecretRow>(REVOKE_PARTNER_SECRET, [id, companyId, this.deps.clock.now()]);
    if (!row) throw notFound("The partner secret");
    this.secretCache.delete(id);
    this.activeCache.delete(companyId);
    return toPartnerSecretType(row);
  }

  /** The company's partner secrets, revoked ones included, oldest first. Never the secret. */
  async listSecrets(companyId: string): Promise<PartnerSecretType[]> {
    const rows = await this.sql<PartnerSecretListRow>(PARTNER_SECRETS_OF_COMPANY, [companyId]);
    return rows.map(toPartnerSecretType);
  }

  /**
   * The live partner secret `kid` names in this company, imported as an HMAC-SHA-256 key and
   * cached per node for PARTNER_SECRET_CACHE_MS; null when unknown, another company's or revoked.
   */
  async secretKey(companyId: string, kid: string): Promise<PartnerSecretKey | null> {
    if (!v.isUuid(kid)) return null;
    const found = await this.secretCache.get(kid, () => this.loadSecretKey(kid));
    if (!found || found.companyId !== companyId || !found.key) return null;
    return found;
  }

  /**
   * Every active partner secret of the company (at most MAX_ACTIVE_PARTNER_SECRETS), for a token
   * that names none in its kid. The list is cached per node like the keys themselves.
   */
  async activeSecretKeys(companyId: string): Promise<PartnerSecretKey[]> {
    const ids = await this.activeCache.get(companyId, async () => {
      const rows = await this.sql<{ id: string }>(ACTIVE_PARTNER_SECRET_IDS, [companyId, MAX_ACTIVE_PARTNER_SECRETS]);
      return rows.map((r) => r.id);
    });
    const keys = await Promise.all(ids.map((id) => this.secretKey(companyId, id)));
    return keys.filter((k): k is PartnerSecretKey => k !== null);
  }

  /** The company a partner secret id (a JWT kid) belongs to, revoked or not; null when unknown. */
  async companyOfSecret(kid: string): Promise<string | null> {
    if (!v.isUuid(kid)) return null;
    const [row] = await this.sql<{ company_id: string }>(COMPANY_OF_PARTNER_SECRET, [kid]);
    return row?.company_id ?? null;
  }

  private async loadSecretKey(kid: string): Promise<PartnerSecretKey | null> {
    const [row] = await this.sql<PartnerSecretRow>(PARTNER_SECRET_BY_ID, [kid]);
    if (!row) return null;
    const base = { id: row.id, companyId: row.company_id, lastUsedAt: row.last_used_at?.getTime() ?? null };
    if (row.revoked_at) return { ...base, key: null };
    const secret = this.deps.encryption.decrypt(row.secret_encrypted, row.id);
    const key = await crypto.subtle.importKey(
      "raw",
      Buffer.from(secret, "utf8"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    return { ...base, key: key };
  }

  /**
   * Records that the secret verified a token, at most once a minute per secret: one conditional
   * UPDATE, so several nodes do not all write. Run inside the join's transaction (its manager),
   * so a refused join leaves it as it was.
   */
  async markSecretUsed(secret: PartnerSecretKey, manager?: EntityManager): Promise<void> {
    const now = this.deps.clock.now().getTime();
    if (secret.lastUsedAt !== null && now - secret.lastUsedAt < LAST_USED_RESOLUTION_MS) return;
    secret.lastUsedAt = now;
    const params = [secret.id, new Date(now), new Date(now - LAST_USED_RESOLUTION_MS)];
    if (manager) await queryRows(manager, MARK_PARTNER_SECRET_USED, params);
    else await this.sql(MARK_PARTNER_SECRET_USED, params);
  }

  // ---------------------------------------------------------------------------------------------
  // Identity providers

  /**
   * addIdentityProvider: an OIDC provider or a partner's own keys. The issuer is unique per
   * company; a removed provider's issuer may be registered again (the row is replaced, with a new
   * id, so nothing cached for the old one applies).
   */
  async addProvider(ctx: RequestContext, input: AddIdentityProviderInput): Promise<IdentityProviderEntity> {
    const companyId = companyIdOf(ctx);
    const kind: IdentityProviderKindValue = input.kind ?? "OIDC";
    const name = v.requiredText("name", requireStorable("name", input.name));
    const issuer = exactText("issuer", input.issuer, MAX_URI);
    const jwksUri = this.jwksUri(input.jwksUri);
    const audience =
      input.audience === undefined || input.audience === null ? null : exactText("audience", input.audience, MAX_URI);
    if (kind === "OIDC" && !audience)
      throw badInput("audience", "audience is required for an OIDC provider: Admit's client id at the provider.");
    const algorithms = input.algorithms ?? DEFAULT_ALGORITHMS;
    if (algorithms.length === 0) throw badInput("algorithms", "algorithms must name at least one algorithm.");
    for (const alg of algorithms) {
      if (!isAsymmetricAlg(alg)) {
        throw badInput(
          "algorithms",
          `algorithms may only name asymmetric algorithms (${ASYMMETRIC_ALGS.join(", ")}); "${String(alg).slice(0, 20)}" is not one.`,
        );
      }
    }
    const mapping = input.claimMapping ?? {};
    const claim = (field: "externalId" | "email" | "name", fallback: string) =>
      mapping[field] === undefined || mapping[field] === null
        ? fallback
        : exactText(`claimMapping.${field}`, mapping[field], MAX_CLAIM_NAME);
    const [row] = await this.sql<IdentityProviderRow>(ADD_IDENTITY_PROVIDER, [
      randomUUID(),
      companyId,
      kind,
      name,
      issuer,
      jwksUri,
      audience,
      [...new Set(algorithms)],
      claim("externalId", "sub"),
      claim("email", "email"),
      claim("name", "name"),
      input.jitEnabled ?? true,
      this.deps.clock.now(),
    ]);
    if (!row)
      throw badInput("issuer", "This company already has an identity provider with this issuer; remove it first.");
    return identityProviderOfRow(row);
  }

  /** removeIdentityProvider: its tokens are refused from the next join on (idempotent). */
  async removeProvider(ctx: RequestContext, id: string): Promise<IdentityProviderEntity> {
    const companyId = companyIdOf(ctx);
    if (!v.isUuid(id)) throw notFound("The identity provider");
    const [row] = await this.sql<IdentityProviderRow>(REMOVE_IDENTITY_PROVIDER, [id, companyId, this.deps.clock.now()]);
    if (!row) throw notFound("The identity provider");
    return identityProviderOfRow(row);
  }

  /** The company's identity providers, removed ones included, oldest first. */
  async listProviders(companyId: string): Promise<IdentityProviderEntity[]> {
    const rows = await this.sql<IdentityProviderRow>(IDENTITY_PROVIDERS_OF_COMPANY, [companyId]);
    return rows.map(identityProviderOfRow);
  }

  /** The live provider of this kind whose issuer is exactly `issuer`, in this company. Read per join: a removal applies at once. */
  async providerByIssuer(
    companyId: string,
    kind: IdentityProviderKindValue,
    issuer: string,
  ): Promise<IdentityProviderEntity | null> {
    if (issuer.length === 0 || issuer.length > MAX_URI || !isStorable(issuer)) return null;
    const [row] = await this.sql<IdentityProviderRow>(IDENTITY_PROVIDER_BY_ISSUER, [companyId, issuer, kind]);
    return row ? identityProviderOfRow(row) : null;
  }

  /**
   * A JWKS URI Admit may fetch: https, without credentials; plain http only on a loopback host
   * outside production (tests, local development). IP literals of private, link-local,
   * unique-local, CGNAT, multicast, reserved or NAT64 ranges are refused, and in production
   * loopback hosts too (localhost, *.localhost, with or without the final dot). This is only an
   * early, clear answer: a host name can resolve anywhere, so every fetch checks the addresses it
   * connects to (external-tokens jwksFetch).
   */
  private jwksUri(value: string): string {
    const uri = exactText("jwksUri", value, MAX_URI);
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw badInput("jwksUri", "jwksUri must be an absolute https URL.");
    }
    if (url.username || url.password) throw badInput("jwksUri", "jwksUri must not carry credentials.");
    const { kind, loopback } = outboundHost(url);
    if (url.protocol === "https:") {
      if ((this.deps.production && loopback) || (kind !== "invalid" && kind !== "public" && kind !== "loopback")) {
        throw badInput("jwksUri", "jwksUri must be on a public host.");
      }
      return uri;
    }
    if (url.protocol === "http:" && loopback && !this.deps.production) return uri;
    throw badInput(
      "jwksUri",
      "jwksUri must be an https URL (http is allowed only on a loopback host outside production).",
    );
  }
}

/** Text compared exactly (issuers, audiences, claim names): not empty, no spaces at the ends, storable. */
function exactText(field: string, value: string, max: number): string {
  requireStorable(field, value);
  if (value.length === 0) throw badInput(field, `${field} must not be empty.`);
  if (value.trim() !== value)
    throw badInput(field, `${field} must not start or end with spaces (it is compared exactly).`);
  if (value.length > max) throw badInput(field, `${field} must be at most ${max} characters.`);
  return value;
}
