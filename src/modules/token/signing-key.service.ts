import { randomBytes } from "node:crypto";
import { DataSource, EntityManager, IsNull, MoreThan } from "typeorm";
import type { CryptoKey, JWK } from "jose";
import type { Clock } from "../../clock";
import type { KeyEncryption } from "../../auth/key-encryption";
import {
  generateSigningKeyPair,
  importPrivateKey,
  importPublicKey,
  SigningAlg,
  toPublicJwks,
} from "../../auth/signing-keys";
import type { TokenSigningKey, TokenVerificationKey } from "../../auth/tokens";
import { companyIdOf, RequestContext } from "../../request-context";
import { notFound } from "../../errors";
import { CompanyEntity } from "../company/company.entity";
import { SigningKeyEntity } from "./signing-key.entity";
import { announce, ChangeFeed } from "../../db/change-feed";
import { NodeCache } from "../../db/node-cache";

export interface SigningKeyServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  encryption: KeyEncryption;
  changes: ChangeFeed;
}

/**
 * How long a node trusts its cached copy of a company's current key. A rotation on another node
 * reaches this one through the change feed when it commits; this is the backstop when the feed is
 * down. Between, tokens are still signed with the previous key, which stays valid, so nothing breaks.
 */
const CURRENT_KEY_CACHE_MS = 5_000;
const VERIFY_KEY_CACHE_MS = 60_000;
/** Kids are ours (22 base64url characters); anything else names no key and never reaches SQL. */
const KID = /^[A-Za-z0-9_-]{1,64}$/;
/** Keys a node keeps per cache; past this it starts over (keys are few, junk kids are not cached). */
const KEY_CACHE_MAX_ENTRIES = 10_000;
/** Kept after the longest token lifetime, for clock skew. */
const RETIREMENT_GRACE_SECONDS = 300;

/** WebCrypto keys, as signing-keys imports them; tokens.ts makes its node:crypto signers from them once. */
type SigningKey = TokenSigningKey<CryptoKey>;

interface VerificationEntry extends TokenVerificationKey {
  companyId: string;
  retiresAt: Date | null;
}

export class SigningKeyService {
  /** Company id → its current key. A rotation is announced with the company's id. */
  private readonly currentCache: NodeCache<SigningKey>;
  /** Kid → the key that verifies it. Keyed by kid, so any rotation drops them all (retiresAt is read afresh). */
  private readonly verifyCache: NodeCache<VerificationEntry | null>;

  constructor(private readonly deps: SigningKeyServiceDeps) {
    const { clock, changes: feed } = deps;
    this.currentCache = new NodeCache({
      clock,
      ttlMs: CURRENT_KEY_CACHE_MS,
      maxEntries: KEY_CACHE_MAX_ENTRIES,
      changes: { feed, topic: "signing_key", drop: "key" },
    });
    this.verifyCache = new NodeCache({
      clock,
      ttlMs: VERIFY_KEY_CACHE_MS,
      maxEntries: KEY_CACHE_MAX_ENTRIES,
      changes: { feed, topic: "signing_key", drop: "all" },
    });
  }

  /** After a rotation: the next token is signed with the new key, and retiresAt is read afresh. */
  private forgetCompany(companyId: string): void {
    this.currentCache.delete(companyId);
    this.verifyCache.clear();
  }

  /** Makes a company's first (or next) current key inside the caller's transaction. */
  async createCurrentKey(
    manager: EntityManager,
    companyId: string,
    alg: SigningAlg = "EdDSA",
  ): Promise<SigningKeyEntity> {
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
      const company = await manager.findOne(CompanyEntity, {
        where: { id: companyId },
        lock: { mode: "pessimistic_write" },
      });
      if (!company) throw notFound("The company");
      const lifetime = Math.max(company.maxTokenTtlSeconds, REGISTRATION_TOKEN_TTL_SECONDS) + RETIREMENT_GRACE_SECONDS;
      const retiresAt = company.allowNonExpiringTokens ? null : new Date(now.getTime() + lifetime * 1000);
      await manager.update(
        SigningKeyEntity,
        { companyId, isCurrent: true },
        { isCurrent: false, rotatedAt: now, retiresAt },
      );
      const made = await this.createCurrentKey(manager, companyId, alg);
      await announce(manager, "signing_key", companyId);
      return made;
    });
    // This node sees the rotation at once; other nodes when their feed delivers it (within their
    // cache times if it is down), long before the old key retires.
    this.forgetCompany(companyId);
    return key;
  }

  /** The imported current key of a company, cached per node. */
  currentKey(companyId: string): Promise<SigningKey> {
    return this.currentCache.get(companyId, (expired) => this.loadCurrentKey(companyId, expired));
  }

  private async loadCurrentKey(companyId: string, previous?: SigningKey): Promise<SigningKey> {
    const row = await this.deps.dataSource.getRepository(SigningKeyEntity).findOneBy({ companyId, isCurrent: true });
    if (!row) throw new Error(`company ${companyId} has no current signing key`);
    // Still the same key: keep the imported one, and with it the signers tokens.ts made from it
    // (about 0.5 ms each), instead of making them again every few seconds.
    if (previous && previous.kid === row.id && previous.alg === row.alg) return previous;
    const privateJwk = JSON.parse(this.deps.encryption.decrypt(row.privateJwkEncrypted, row.id)) as JWK;
    return { kid: row.id, alg: row.alg, privateKey: await importPrivateKey(privateJwk, row.alg) };
  }

  /** The key that verifies `kid` for this company, or null (unknown, another company's, or retired). */
  async verificationKey(companyId: string, kid: string): Promise<TokenVerificationKey | null> {
    if (!KID.test(kid)) return null;
    // Unknown kids (null) are not remembered: a stream of made-up kids must not grow the cache.
    const entry = await this.verifyCache.get(kid, () => this.loadVerificationKey(kid));
    if (!entry || entry.companyId !== companyId) return null;
    if (entry.retiresAt && entry.retiresAt.getTime() <= this.deps.clock.now().getTime()) return null;
    return entry;
  }

  private async loadVerificationKey(kid: string): Promise<VerificationEntry | null> {
    const row = await this.deps.dataSource.getRepository(SigningKeyEntity).findOneBy({ id: kid });
    if (!row) return null;
    return {
      alg: row.alg,
      publicKey: await importPublicKey(row.publicJwk, row.alg),
      companyId: row.companyId,
      retiresAt: row.retiresAt,
    };
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
    return toPublicJwks(
      (await this.liveKeys(companyId)).map((k) => ({ kid: k.id, alg: k.alg, publicJwk: k.publicJwk })),
    );
  }
}

/** Registration tokens live this long; keys are kept at least as long after rotation. */
export const REGISTRATION_TOKEN_TTL_SECONDS = 180 * 24 * 3600;
