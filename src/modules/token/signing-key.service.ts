import { randomBytes } from "node:crypto";
import { DataSource, EntityManager, IsNull, MoreThan } from "typeorm";
import type { JWK } from "jose";
import type { Clock } from "../../clock";
import type { KeyEncryption } from "../../auth/key-encryption";
import { generateSigningKeyPair, importPrivateKey, importPublicKey, SigningAlg, toPublicJwks } from "../../auth/signing-keys";
import type { TokenSigningKey, TokenVerificationKey } from "../../auth/tokens";
import { companyIdOf, RequestContext } from "../../graphql/context";
import { notFound } from "../../graphql/errors";
import { CompanyEntity } from "../company/company.entity";
import { SigningKeyEntity } from "./signing-key.entity";

export interface SigningKeyServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  encryption: KeyEncryption;
}

/**
 * How long a node trusts its cached copy of a company's current key. A rotation on another node
 * is picked up within this time; between, tokens are still signed with the previous key, which
 * stays valid, so nothing breaks.
 */
const CURRENT_KEY_CACHE_MS = 5_000;
const VERIFY_KEY_CACHE_MS = 60_000;
/** Kept after the longest token lifetime, for clock skew. */
const RETIREMENT_GRACE_SECONDS = 300;

interface Cached<T> {
  value: T;
  fetchedAt: number;
}

interface VerificationEntry extends TokenVerificationKey {
  companyId: string;
  retiresAt: Date | null;
}

export class SigningKeyService {
  private readonly currentCache = new Map<string, Cached<Promise<TokenSigningKey>>>();
  private readonly verifyCache = new Map<string, Cached<Promise<VerificationEntry | null>>>();

  constructor(private readonly deps: SigningKeyServiceDeps) {}

  /** Makes a company's first (or next) current key inside the caller's transaction. */
  async createCurrentKey(manager: EntityManager, companyId: string, alg: SigningAlg = "EdDSA"): Promise<SigningKeyEntity> {
    const { publicJwk, privateJwk } = await generateSigningKeyPair(alg);
    const kid = randomBytes(16).toString("base64url");
    const privateJwkEncrypted = this.deps.encryption.encrypt(JSON.stringify(privateJwk), kid);
    return manager.save(
      manager.create(SigningKeyEntity, { id: kid, companyId, alg, publicJwk, privateJwkEncrypted, isCurrent: true }),
    );
  }

  /**
   * Makes a new current key. The old one stops signing at once and keeps verifying until every
   * token it can have signed has expired (the company's longest token lifetime), or for ever when
   * the company allows tokens without expiry.
   */
  async rotate(ctx: RequestContext, alg: SigningAlg = "EdDSA"): Promise<SigningKeyEntity> {
    const companyId = companyIdOf(ctx);
    const now = this.deps.clock.now();
    const key = await this.deps.dataSource.transaction(async (manager) => {
      const company = await manager.findOne(CompanyEntity, { where: { id: companyId }, lock: { mode: "pessimistic_write" } });
      if (!company) throw notFound("The company");
      const lifetime = Math.max(company.maxTokenTtlSeconds, REGISTRATION_TOKEN_TTL_SECONDS) + RETIREMENT_GRACE_SECONDS;
      const retiresAt = company.allowNonExpiringTokens ? null : new Date(now.getTime() + lifetime * 1000);
      await manager.update(SigningKeyEntity, { companyId, isCurrent: true }, { isCurrent: false, rotatedAt: now, retiresAt });
      return this.createCurrentKey(manager, companyId, alg);
    });
    this.currentCache.delete(companyId);
    return key;
  }

  /** The imported current key of a company, cached per node. */
  currentKey(companyId: string): Promise<TokenSigningKey> {
    const cached = this.currentCache.get(companyId);
    if (cached && Date.now() - cached.fetchedAt < CURRENT_KEY_CACHE_MS) return cached.value;
    const value = this.loadCurrentKey(companyId);
    this.currentCache.set(companyId, { value, fetchedAt: Date.now() });
    value.catch(() => this.currentCache.delete(companyId));
    return value;
  }

  private async loadCurrentKey(companyId: string): Promise<TokenSigningKey> {
    const row = await this.deps.dataSource.getRepository(SigningKeyEntity).findOneBy({ companyId, isCurrent: true });
    if (!row) throw new Error(`company ${companyId} has no current signing key`);
    const privateJwk = JSON.parse(this.deps.encryption.decrypt(row.privateJwkEncrypted, row.id)) as JWK;
    return { kid: row.id, alg: row.alg, privateKey: await importPrivateKey(privateJwk, row.alg) };
  }

  /** The key that verifies `kid` for this company, or null (unknown, another company's, or retired). */
  async verificationKey(companyId: string, kid: string): Promise<TokenVerificationKey | null> {
    let cached = this.verifyCache.get(kid);
    if (!cached || Date.now() - cached.fetchedAt >= VERIFY_KEY_CACHE_MS) {
      const value = this.loadVerificationKey(kid);
      cached = { value, fetchedAt: Date.now() };
      this.verifyCache.set(kid, cached);
      value.catch(() => this.verifyCache.delete(kid));
    }
    const entry = await cached.value;
    if (!entry || entry.companyId !== companyId) return null;
    if (entry.retiresAt && entry.retiresAt.getTime() <= this.deps.clock.now().getTime()) return null;
    return entry;
  }

  private async loadVerificationKey(kid: string): Promise<VerificationEntry | null> {
    if (kid.length > 64) return null;
    const row = await this.deps.dataSource.getRepository(SigningKeyEntity).findOneBy({ id: kid });
    if (!row) return null;
    return { alg: row.alg, publicKey: await importPublicKey(row.publicJwk, row.alg), companyId: row.companyId, retiresAt: row.retiresAt };
  }

  /** Keys that still verify something, newest first. */
  async liveKeys(companyId: string): Promise<SigningKeyEntity[]> {
    const now = this.deps.clock.now();
    return this.deps.dataSource.getRepository(SigningKeyEntity).find({
      where: [
        { companyId, retiresAt: IsNull() },
        { companyId, retiresAt: MoreThan(now) },
      ],
      order: { createdAt: "DESC" },
    });
  }

  /** The JWKS served at <iss>/.well-known/jwks.json: public members only. */
  async jwks(companyId: string) {
    return toPublicJwks((await this.liveKeys(companyId)).map((k) => ({ kid: k.id, alg: k.alg, publicJwk: k.publicJwk })));
  }
}

/** Registration tokens live this long; keys are kept at least as long after rotation. */
export const REGISTRATION_TOKEN_TTL_SECONDS = 180 * 24 * 3600;
