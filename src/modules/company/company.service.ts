import { DataSource, EntityManager, IsNull } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import { companyIdOf, Principal, RequestContext } from "../../request-context";
import { AppError, badInput, notFound } from "../../errors";
import * as v from "../../graphql/validate";
import { isUuid } from "../../graphql/validate";
import { generateOpaqueSecret, hashSecret, lookupOf, secretMatches } from "../../auth/opaque-secret";
import { isUniqueViolation } from "../../db/errors";
import { preparedQuery, RawQuery } from "../../db/raw";
import { announce, ChangeFeed } from "../../db/change-feed";
import { NodeCache } from "../../db/node-cache";
import { timingSafeEqual } from "node:crypto";
import { API_SCOPES, ApiKeyEntity, ApiScope } from "./api-key.entity";
import { CompanyEntity } from "./company.entity";
import { PlatformAdminKeyEntity } from "./platform-admin-key.entity";
import type { ApiKeyType, CompanyType } from "./company.types";
import type { CreateApiKeyInput, CreateCompanyInput, UpdateCompanySettingsInput } from "./company.inputs";
import { mergeRolePermissions, rolePermissionsTable } from "../session/role-permissions";

export const API_KEY_PREFIX = "adm_";
export const PLATFORM_KEY_PREFIX = "admp_";
/** lastUsedAt is written at most this often per key, so reads stay reads. */
const LAST_USED_RESOLUTION_MS = 60_000;
const MAX_SEAT_LIMIT = 10_000_000;
/** A partner JWT may be signed for at most 30 days (partnerTokenMaxTtlSeconds). */
export const MAX_PARTNER_TOKEN_TTL_SECONDS = 30 * 86_400;
/** How long a node trusts its copy of a company's row on hot paths. */
export const COMPANY_CACHE_MS = 5_000;
const COMPANY_CACHE_MAX = 10_000;
/**
 * A node keeps API keys it has checked while its change feed is live: a revocation reaches every
 * node when it commits (the cache is the speed, the feed is the rule). The TTL is only a backstop.
 */
const API_KEY_CACHE_MS = 60_000;
const API_KEY_CACHE_MAX = 10_000;

interface ApiKeyRow {
  id: string;
  company_id: string;
  secret_hash: string;
  scopes: ApiScope[];
  revoked_at: Date | null;
  last_used_at: Date | null;
}

export interface CompanyServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  log: Logger;
  adminApiKey: string | null;
  changes: ChangeFeed;
  /** PUBLIC_URL: issuers (and so the default session token audience) are made from it. */
  publicUrl: string;
  /** Work to do inside the transaction that creates a company (its first signing key, …). */
  onCompanyCreated?: Array<(manager: EntityManager, company: CompanyEntity) => Promise<void>>;
}

/** A company's issuer: `<PUBLIC_URL>/c/<slug>` (TokenService.issuerOf). */
export const issuerOf = (publicUrl: string, slug: string): string => `${publicUrl}/c/${slug}`;

/** The `aud` of the company's session tokens: its setting, else its issuer. */
export function sessionTokenAudienceOf(
  company: Pick<CompanyEntity, "slug" | "sessionTokenAudience">,
  publicUrl: string,
): string {
  return company.sessionTokenAudience ?? issuerOf(publicUrl, company.slug);
}

export function toCompanyType(company: CompanyEntity, publicUrl: string): CompanyType {
  return {
    id: company.id,
    name: company.name,
    slug: company.slug,
    seatLimit: company.seatLimit,
    createdAt: company.createdAt,
    settings: {
      sessionInactivityTimeoutSeconds: company.sessionInactivityTimeoutSeconds,
      firstHeartbeatWindowSeconds: company.firstHeartbeatWindowSeconds,
      defaultTokenTtlSeconds: company.defaultTokenTtlSeconds,
      maxTokenTtlSeconds: company.maxTokenTtlSeconds,
      loginLinkTtlSeconds: company.loginLinkTtlSeconds,
      partnerTokenMaxTtlSeconds: company.partnerTokenMaxTtlSeconds,
      joinRequestTtlSeconds: company.joinRequestTtlSeconds,
      passwordAuthEnabled: company.passwordAuthEnabled,
      allowNonExpiringTokens: company.allowNonExpiringTokens,
      allowedRedirectOrigins: company.allowedRedirectOrigins,
      allowedEmbedOrigins: company.allowedEmbedOrigins,
      rolePermissions: rolePermissionsTable(company.rolePermissions),
      sessionTokenAudience: sessionTokenAudienceOf(company, publicUrl),
    },
  };
}

/** An audience a media server compares exactly: printable, no spaces, at most 2048 characters. */
function sessionTokenAudience(value: string): string {
  const audience = value.trim();
  if (!/^[\x21-\x7e]{1,2048}$/.test(audience)) {
    throw badInput(
      "sessionTokenAudience",
      "sessionTokenAudience is 1 to 2048 printable ASCII characters without spaces (a URL or URN).",
    );
  }
  return audience;
}

export function toApiKeyType(key: ApiKeyEntity): ApiKeyType {
  return {
    id: key.id,
    name: key.name,
    prefix: `${API_KEY_PREFIX}${key.lookup}…`,
    scopes: key.scopes,
    createdAt: key.createdAt,
    lastUsedAt: key.lastUsedAt,
    revokedAt: key.revokedAt,
  };
}

export class CompanyService {
  private readonly adminKeyHash: Buffer | null;

  /** For the statements every API-key request runs. */
  private readonly prepared: RawQuery;

  /** API keys by lookup; a revocation is announced with the lookup, on every node. */
  private readonly apiKeys: NodeCache<ApiKeyRow | null>;

  /**
   * Companies by "id:<id>" and "slug:<slug>". A settings change, on any node, drops them all at
   * once; while the feed is down, COMPANY_CACHE_MS still bounds how stale a copy can be.
   */
  private readonly companies: NodeCache<CompanyEntity | null>;

  constructor(private readonly deps: CompanyServiceDeps) {
    this.prepared = preparedQuery(deps.dataSource);
    this.adminKeyHash = deps.adminApiKey ? Buffer.from(hashSecret(deps.adminApiKey), "hex") : null;
    this.apiKeys = new NodeCache({
      clock: deps.clock,
      ttlMs: API_KEY_CACHE_MS,
      maxEntries: API_KEY_CACHE_MAX,
      changes: { feed: deps.changes, topic: "api_key", drop: "key", onlyWhileLive: true },
    });
    this.companies = new NodeCache({
      clock: deps.clock,
      ttlMs: COMPANY_CACHE_MS,
      maxEntries: COMPANY_CACHE_MAX,
      changes: { feed: deps.changes, topic: "company", drop: "all" },
    });
  }

  /** Decides who the bearer of an Authorization header is. Unknown and revoked keys are "invalid". */
  async authenticate(bearer: string | null): Promise<Principal> {
    if (!bearer) return { kind: "anonymous" };
    if (this.adminKeyHash && timingSafeEqual(Buffer.from(hashSecret(bearer), "hex"), this.adminKeyHash)) {
      return { kind: "platformAdmin" };
    }
    if (bearer.startsWith(PLATFORM_KEY_PREFIX)) {
      const lookup = lookupOf(bearer, PLATFORM_KEY_PREFIX);
      if (!lookup) return { kind: "invalid" };
      const row = await this.deps.dataSource.getRepository(PlatformAdminKeyEntity).findOneBy({ lookup });
      return row && secretMatches(bearer, row.secretHash) ? { kind: "platformAdmin" } : { kind: "invalid" };
    }
    const lookup = lookupOf(bearer, API_KEY_PREFIX);
    if (!lookup) return { kind: "invalid" };
    // Every request with a key runs this: one plain indexed statement, or none while the key is
    // in this node's cache (dropped on every node when the key is revoked, see revokeApiKey).
    // Unknown lookups are not cached, so made-up keys cannot fill it.
    const key = await this.apiKeys.get(lookup, async () => {
      const [row] = await this.prepared<ApiKeyRow>(
        "SELECT id, company_id, secret_hash, scopes, revoked_at, last_used_at FROM api_keys WHERE lookup = $1",
        [lookup],
      );
      return row ?? null;
    });
    // The secret is checked on every request, cached or not.
    if (!key || key.revoked_at || !secretMatches(bearer, key.secret_hash)) return { kind: "invalid" };
    const now = this.deps.clock.now();
    if (!key.last_used_at || now.getTime() - key.last_used_at.getTime() >= LAST_USED_RESOLUTION_MS) {
      key.last_used_at = now;
      await this.prepared("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", [key.id, now]);
    }
    return { kind: "apiKey", companyId: key.company_id, apiKeyId: key.id, scopes: key.scopes };
  }

  /**
   * Without ADMIN_API_KEY, makes the platform admin key on first start and returns its secret
   * (to be printed once); returns null when a key exists already or comes from the config.
   */
  async ensurePlatformAdminKey(): Promise<string | null> {
    if (this.deps.adminApiKey) return null;
    return this.deps.dataSource.transaction(async (manager) => {
      // Two nodes starting on an empty database must not both make a key.
      await manager.query("SELECT pg_advisory_xact_lock(726473912)");
      if ((await manager.count(PlatformAdminKeyEntity)) > 0) return null;
      const made = generateOpaqueSecret(PLATFORM_KEY_PREFIX);
      await manager.insert(PlatformAdminKeyEntity, { lookup: made.lookup, secretHash: made.hash });
      return made.secret;
    });
  }

  async createCompany(ctx: RequestContext, input: CreateCompanyInput) {
    const name = v.requiredText("name", input.name);
    const givenSlug = input.slug === undefined || input.slug === null ? null : v.slug("slug", input.slug);
    const seatLimit =
      input.seatLimit === undefined || input.seatLimit === null
        ? null
        : v.intInRange("seatLimit", input.seatLimit, 0, MAX_SEAT_LIMIT);
    const baseSlug = givenSlug ?? v.slugify(name);
    // A generated slug that is taken gets a short suffix; a chosen one is refused.
    for (let attempt = 0; attempt < 5; attempt++) {
      const slug = attempt === 0 ? baseSlug : `${baseSlug}-${generateOpaqueSecret().lookup.slice(0, 6).toLowerCase()}`;
      try {
        return await this.deps.dataSource.transaction(async (manager) => {
          const company = await manager.save(manager.create(CompanyEntity, { name, slug, seatLimit }));
          for (const hook of this.deps.onCompanyCreated ?? []) await hook(manager, company);
          const { key, secret } = await this.insertApiKey(manager, company.id, "default", [...API_SCOPES]);
          ctx.log.info({ companyId: company.id }, "company created");
          return { company: toCompanyType(company, this.deps.publicUrl), apiKey: toApiKeyType(key), secret };
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (givenSlug) throw new AppError("SLUG_TAKEN", `The slug "${givenSlug}" is taken; choose another.`);
      }
    }
    throw new AppError("SLUG_TAKEN", "Could not find a free slug for this name; pass one explicitly.");
  }

  async getCompany(ctx: RequestContext): Promise<CompanyEntity> {
    const company = await this.deps.dataSource.getRepository(CompanyEntity).findOneBy({ id: companyIdOf(ctx) });
    if (!company) throw notFound("The company");
    return company;
  }

  /**
   * A company by id or slug for the hot paths (minting, verifying tokens, heartbeats), kept per
   * node for a few seconds: a settings change reaches every node within COMPANY_CACHE_MS.
   * Not inside a transaction (it may read through the pool).
   */
  cachedCompany(by: "id" | "slug", value: string): Promise<CompanyEntity | null> {
    return this.companies.get(`${by}:${value}`, () =>
      this.deps.dataSource.getRepository(CompanyEntity).findOneBy(by === "id" ? { id: value } : { slug: value }),
    );
  }

  /** Drops this node's cached copy after a change made here; other nodes catch up within COMPANY_CACHE_MS. */
  private forget(company: CompanyEntity): void {
    this.companies.delete(`id:${company.id}`);
    this.companies.delete(`slug:${company.slug}`);
  }

  /** The company as the API shows it (its issuer is made from PUBLIC_URL). */
  toType(company: CompanyEntity): CompanyType {
    return toCompanyType(company, this.deps.publicUrl);
  }

  async updateSettings(ctx: RequestContext, input: UpdateCompanySettingsInput): Promise<CompanyEntity> {
    const companyId = companyIdOf(ctx);
    const patch: Partial<CompanyEntity> = {};
    const int = (field: keyof UpdateCompanySettingsInput & keyof CompanyEntity, min: number, max: number) => {
      const value = input[field];
      if (value !== undefined && value !== null)
        (patch as Record<string, unknown>)[field] = v.intInRange(field, value as number, min, max);
    };
    int("sessionInactivityTimeoutSeconds", 60, 604_800);
    int("firstHeartbeatWindowSeconds", 30, 3_600);
    int("maxTokenTtlSeconds", 60, 31_536_000);
    int("defaultTokenTtlSeconds", 60, 31_536_000);
    int("loginLinkTtlSeconds", 1, 300);
    int("partnerTokenMaxTtlSeconds", 60, MAX_PARTNER_TOKEN_TTL_SECONDS);
    int("joinRequestTtlSeconds", 60, 604_800);
    if (input.passwordAuthEnabled !== undefined && input.passwordAuthEnabled !== null)
      patch.passwordAuthEnabled = input.passwordAuthEnabled;
    if (input.allowNonExpiringTokens !== undefined && input.allowNonExpiringTokens !== null)
      patch.allowNonExpiringTokens = input.allowNonExpiringTokens;
    for (const field of ["allowedRedirectOrigins", "allowedEmbedOrigins"] as const) {
      const list = input[field];
      if (list === undefined || list === null) continue;
      if (list.length > 50) throw badInput(field, `${field} may hold at most 50 origins.`);
      patch[field] = [...new Set(list.map((o) => v.origin(field, o)))];
    }
    if (input.seatLimit !== undefined) {
      patch.seatLimit = input.seatLimit === null ? null : v.intInRange("seatLimit", input.seatLimit, 0, MAX_SEAT_LIMIT);
    }
    if (input.sessionTokenAudience !== undefined) {
      patch.sessionTokenAudience =
        input.sessionTokenAudience === null ? null : sessionTokenAudience(input.sessionTokenAudience);
    }

    return this.deps.dataSource.transaction(async (manager) => {
      const company = await manager.findOne(CompanyEntity, {
        where: { id: companyId },
        lock: { mode: "pessimistic_write" },
      });
      if (!company) throw notFound("The company");
      if (input.rolePermissions !== undefined && input.rolePermissions !== null) {
        patch.rolePermissions = mergeRolePermissions(company.rolePermissions, input.rolePermissions);
      }
      const next = { ...company, ...patch };
      if (next.defaultTokenTtlSeconds > next.maxTokenTtlSeconds) {
        throw badInput("defaultTokenTtlSeconds", "defaultTokenTtlSeconds must not exceed maxTokenTtlSeconds.");
      }
      if (patch.seatLimit !== undefined && next.seatLimit !== null) {
        // Exact: the lock above waited for every user creation in flight (a new user's foreign key
        // holds the company's row), and new ones wait for this transaction.
        const [{ used }] = await manager.query<{ used: number }[]>("SELECT admit_seats_used($1) AS used", [companyId]);
        if (next.seatLimit < used) throw badInput("seatLimit", `seatLimit cannot be below the ${used} seats in use.`);
      }
      if (Object.keys(patch).length > 0) {
        await manager.update(CompanyEntity, { id: companyId }, patch);
        await announce(manager, "company", companyId);
      }
      this.forget(company);
      return manager.findOneByOrFail(CompanyEntity, { id: companyId });
    });
  }

  async createApiKey(ctx: RequestContext, input: CreateApiKeyInput) {
    const companyId = companyIdOf(ctx);
    const name = v.requiredText("name", input.name);
    const scopes = input.scopes ? [...new Set(input.scopes)] : [...API_SCOPES];
    if (scopes.length === 0) throw badInput("scopes", "scopes must name at least one scope.");
    const { key, secret } = await this.insertApiKey(this.deps.dataSource.manager, companyId, name, scopes);
    return { apiKey: toApiKeyType(key), secret };
  }

  async revokeApiKey(ctx: RequestContext, id: string): Promise<ApiKeyEntity> {
    const companyId = companyIdOf(ctx);
    if (!isUuid(id)) throw notFound("The API key");
    const key = await this.deps.dataSource.transaction(async (manager) => {
      await manager.update(ApiKeyEntity, { id, companyId, revokedAt: IsNull() }, { revokedAt: this.deps.clock.now() });
      const key = await manager.findOneBy(ApiKeyEntity, { id, companyId });
      if (!key) throw notFound("The API key");
      // Every node drops its cached copy when this commits.
      await announce(manager, "api_key", key.lookup);
      return key;
    });
    // This node does not wait for its own notification: the next request here is refused.
    this.apiKeys.delete(key.lookup);
    return key;
  }

  async listApiKeys(ctx: RequestContext): Promise<ApiKeyEntity[]> {
    return this.deps.dataSource
      .getRepository(ApiKeyEntity)
      .find({ where: { companyId: companyIdOf(ctx) }, order: { createdAt: "ASC", id: "ASC" } });
  }

  private async insertApiKey(manager: EntityManager, companyId: string, name: string, scopes: ApiScope[]) {
    const made = generateOpaqueSecret(API_KEY_PREFIX);
    const key = await manager.save(
      manager.create(ApiKeyEntity, { companyId, name, scopes, lookup: made.lookup, secretHash: made.hash }),
    );
    return { key, secret: made.secret };
  }
}
