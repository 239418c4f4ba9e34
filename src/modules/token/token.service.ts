import { randomUUID } from "node:crypto";
import { DataSource, EntityManager } from "typeorm";
import type { JWTPayload } from "jose";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import { MAX_TOKEN_LENGTH, peekToken, signToken, TokenKind, verifyToken } from "../../auth/tokens";
import { companyIdOf, RequestContext } from "../../request-context";
import { AppError, badInput, isAppError, notFound } from "../../errors";
import * as v from "../../graphql/validate";
import { CompanyEntity } from "../company/company.entity";
import { sessionTokenAudienceOf, type CompanyService } from "../company/company.service";
import type { ChangeFeed } from "../../db/change-feed";
import { preparedQuery, queryRows, RawQuery } from "../../db/raw";
import { isStorable } from "../../db/storable";
import {
  joinTokenOf,
  MAX_TOKEN_METADATA_CHARS,
  parseJoinClaims,
  requireStorable,
  type JoinClaims,
} from "./join-claims";
import { validateProfile } from "../user/user.service";
import { RevokedTokenEntity } from "./revoked-token.entity";
import { RevocationView } from "./revocations";
import type { SigningKeyService } from "./signing-key.service";
import type { EventService } from "../event/event.service";
import type { MintJoinTokenInput } from "./token.inputs";
import type { JoinTokenType, TokenValidationType } from "./token.types";

export interface TokenServiceDeps {
  dataSource: DataSource;
  companies: CompanyService;
  clock: Clock;
  publicUrl: string;
  signingKeys: SigningKeyService;
  events: EventService;
  changes: ChangeFeed;
  log: Logger;
}

export interface VerifiedAdmitToken {
  company: CompanyEntity;
  kind: TokenKind;
  payload: JWTPayload;
  /** Only with `acceptExpired`: the token is past its expiry. */
  expired: boolean;
}

/**
 * Session tokens this node signed that it accepts again without verifying their signature: one
 * per live session on the node (the newest), so a heartbeat that comes back here skips the
 * verification. Past this many, the oldest go.
 */
const SIGNED_SESSION_TOKENS_MAX = 50_000;
const MAX_EJECT_AFTER_SECONDS = 7 * 24 * 3600;

// isStorable lives in db/ so that src/auth can use it too; the claims in join-claims.ts. The
// modules import them from here as before.
export { isStorable };
export { joinTokenOf, MAX_TOKEN_METADATA_CHARS, parseJoinClaims, requireStorable, type JoinClaims };

export class TokenService {
  private readonly sql: RawQuery;

  /** Token text → what verify() would say of it, for session tokens signed here (see rememberSessionToken). */
  private readonly signedHere = new Map<string, { companyId: string; payload: JWTPayload }>();

  /** What this node knows of revocations: checks of tokens that are not revoked need no statement. */
  readonly revocations: RevocationView;

  constructor(private readonly deps: TokenServiceDeps) {
    this.sql = preparedQuery(deps.dataSource);
    this.revocations = new RevocationView(deps);
  }

  /**
   * Remembers a session token this node has just signed, so that verify() accepts it again
   * without checking its signature: a byte-for-byte copy of a token signed here is what the
   * signature would prove. `replaces`: the token it refreshes, which its client stops using.
   */
  rememberSessionToken(token: string, companyId: string, payload: JWTPayload, replaces?: string): void {
    if (replaces) this.signedHere.delete(replaces);
    if (this.signedHere.size >= SIGNED_SESSION_TOKENS_MAX) this.signedHere.delete(this.signedHere.keys().next().value!);
    this.signedHere.set(token, { companyId, payload: Object.freeze({ ...payload }) });
  }

  /**
   * A session token signed here that has not expired, as verify() would answer it; null when it
   * must be verified in full (unknown here, expired, or its company's issuer changed).
   */
  private async signedHereAndLive(token: string, kinds: TokenKind[]): Promise<VerifiedAdmitToken | null> {
    if (!kinds.includes("session")) return null;
    const known = this.signedHere.get(token);
    if (!known) return null;
    // Stricter than verification's 30 s of skew: past exp, the full path decides.
    if (typeof known.payload.exp !== "number" || known.payload.exp * 1000 <= this.deps.clock.now().getTime()) {
      this.signedHere.delete(token);
      return null;
    }
    const company = await this.deps.companies.cachedCompany("id", known.companyId);
    if (!company || known.payload.iss !== this.issuerOf(company.slug)) return null;
    return { company, kind: "session", payload: known.payload, expired: false };
  }

  /** The `aud` of the company's session tokens (sessionTokenAudience, default its issuer). */
  sessionTokenAudience(company: CompanyEntity): string {
    return sessionTokenAudienceOf(company, this.deps.publicUrl);
  }

  issuerOf(companySlug: string): string {
    return `${this.deps.publicUrl}/c/${companySlug}`;
  }

  /** The company whose issuer this is, or null. */
  async companyForIssuer(issuer: string | null): Promise<CompanyEntity | null> {
    const prefix = `${this.deps.publicUrl}/c/`;
    if (!issuer || !issuer.startsWith(prefix)) return null;
    const slug = issuer.slice(prefix.length);
    if (!/^[a-z0-9-]{1,64}$/.test(slug)) return null;
    return this.deps.companies.cachedCompany("slug", slug);
  }

  /**
   * Verifies one of Admit's own tokens: finds the company from the (unverified) issuer, then
   * verifies with that company's keys only, so no company's key can vouch for another's token.
   */
  async verify(
    token: string,
    kinds: TokenKind[],
    options: { acceptExpired?: boolean } = {},
  ): Promise<VerifiedAdmitToken> {
    const signedHere = await this.signedHereAndLive(token, kinds);
    if (signedHere) return signedHere;
    const peek = peekToken(token);
    const company = await this.companyForIssuer(peek.issuer);
    if (!company) throw new AppError("TOKEN_INVALID", "The token was not issued by Admit for a known company.");
    const verified = await verifyToken(token, {
      kinds,
      issuer: this.issuerOf(company.slug),
      resolveKey: (kid) => this.deps.signingKeys.verificationKey(company.id, kid),
      now: this.deps.clock.now(),
      // Join and registration tokens may be minted without expiry where the company allows it;
      // session tokens always expire.
      requireExp: (kind) => kind === "session",
      acceptExpired: options.acceptExpired,
      // A session token's audience is the company's to set (media servers pin it); its issuer,
      // the default, is accepted too, so a change of the setting does not strand live sessions.
      audiences: (kind) =>
        kind === "session" ? [this.sessionTokenAudience(company), this.issuerOf(company.slug)] : null,
    });
    return { company, kind: verified.kind, payload: verified.payload, expired: verified.expired };
  }

  /**
   * Whether a jti is revoked: from this node's revocation view when it can tell (nearly always
   * when it is not), else in the database. Inside a transaction pass its manager: the database
   * answers, in that transaction.
   */
  async isRevoked(companyId: string, jti: string, manager?: EntityManager): Promise<boolean> {
    if (manager) return (await manager.countBy(RevokedTokenEntity, { companyId, jti })) > 0;
    if (this.revocations.live && !this.revocations.mayBeRevoked(companyId, jti)) return false;
    return (
      (await this.sql("SELECT 1 FROM revoked_tokens WHERE company_id = $1 AND jti = $2", [companyId, jti])).length > 0
    );
  }

  /**
   * Records a revoked jti and announces it to every node's revocation view, in one transaction
   * (the caller's, or its own); idempotent. Returns whether it was newly revoked.
   */
  async revokeJti(manager: EntityManager, companyId: string, jti: string, expiresAt: Date | null): Promise<boolean> {
    // Never the row without its announcement: another node would go on accepting the token.
    if (!manager.queryRunner?.isTransactionActive) {
      return this.deps.dataSource.transaction((inTransaction) =>
        this.revokeJti(inTransaction, companyId, jti, expiresAt),
      );
    }
    const inserted = await queryRows(
      manager,
      `INSERT INTO revoked_tokens (company_id, jti, revoked_at, expires_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (company_id, jti) DO NOTHING RETURNING jti`,
      [companyId, jti, this.deps.clock.now(), expiresAt],
    );
    // Already revoked: announced when it was (or in the row every view loads).
    if (inserted.length === 0) return false;
    await this.revocations.announceJti(manager, companyId, jti);
    return true;
  }

  /**
   * Inside the transaction of revokeUserTokens, once the user's tokens_revoked_before is set:
   * announces the cut-off to every node's revocation view.
   */
  announceUserTokensRevoked(manager: EntityManager, companyId: string, userId: string): Promise<void> {
    return this.revocations.announceCutoff(manager, companyId, userId);
  }

  async revokeToken(ctx: RequestContext, jti: string): Promise<boolean> {
    const companyId = companyIdOf(ctx);
    const id = v.requiredText("jti", requireStorable("jti", jti), 128);
    return this.revokeJti(this.deps.dataSource.manager, companyId, id, null);
  }

  async mintJoinToken(ctx: RequestContext, input: MintJoinTokenInput): Promise<JoinTokenType> {
    return this.mintJoinTokenFor(companyIdOf(ctx), input);
  }

  /**
   * mintJoinToken for a company known without a request context (token exchange).
   * `subjectJti`: the jti of the token exchanged for this one, carried as the `sjt` claim; revoking
   * it refuses this token too (at join and in validateToken).
   */
  async mintJoinTokenFor(
    companyId: string,
    input: MintJoinTokenInput,
    options: { subjectJti?: string } = {},
  ): Promise<JoinTokenType> {
    const company = await this.deps.companies.cachedCompany("id", companyId);
    if (!company) throw notFound("The company");
    const now = this.deps.clock.now();

    const eventSpecific = input.eventSpecific ?? true;
    if (eventSpecific && !input.eventId)
      throw badInput("eventId", "eventId is required unless eventSpecific is false.");
    // Only the id and slug are needed, from the per-node cache that every change to an event clears.
    const event = input.eventId ? await this.deps.events.findById(companyId, input.eventId) : null;
    if (input.eventId && !event) throw notFound("The event");

    // Checked here, not by validateProfile, so that errors name the input's field (user.id).
    const externalId = v.requiredText("user.id", requireStorable("user.id", input.user.id), 255);
    if (externalId !== input.user.id) throw badInput("user.id", "user.id must not start or end with spaces.");
    requireStorable("user.name", input.user.name);
    requireStorable("user.email", input.user.email);
    requireStorable("user.avatarUrl", input.user.avatarUrl);
    requireStorable("user.metadata", input.user.metadata);
    const profile = validateProfile(
      {
        externalId,
        email: input.user.email,
        name: input.user.name,
        avatarUrl: input.user.avatarUrl,
        metadata: input.user.metadata,
      },
      "user.",
    );
    const metadata = requireStorable("metadata", v.metadata("metadata", input.metadata, MAX_TOKEN_METADATA_CHARS));

    if (input.ttlSeconds !== undefined && input.ttlSeconds !== null && input.expiresAt) {
      throw badInput("expiresAt", "Give ttlSeconds or expiresAt, not both.");
    }
    let expiresAt: Date | null;
    if (input.expiresAt) {
      expiresAt = input.expiresAt;
      if (expiresAt.getTime() <= now.getTime()) throw badInput("expiresAt", "expiresAt must be in the future.");
      if (expiresAt.getTime() - now.getTime() > company.maxTokenTtlSeconds * 1000) {
        throw badInput(
          "expiresAt",
          `expiresAt may be at most ${company.maxTokenTtlSeconds} seconds ahead (company setting).`,
        );
      }
    } else if (input.ttlSeconds === 0) {
      if (!company.allowNonExpiringTokens) {
        throw badInput("ttlSeconds", "This company does not allow tokens without expiry (allowNonExpiringTokens).");
      }
      expiresAt = null;
    } else {
      const ttl = v.intInRange(
        "ttlSeconds",
        input.ttlSeconds ?? company.defaultTokenTtlSeconds,
        1,
        company.maxTokenTtlSeconds,
      );
      expiresAt = new Date(now.getTime() + ttl * 1000);
    }
    const notBefore = input.notBefore ?? null;
    if (notBefore && expiresAt && notBefore.getTime() >= expiresAt.getTime()) {
      throw badInput("notBefore", "notBefore must be before the expiry.");
    }
    const ejectAfter =
      input.ejectAfterElapsedSeconds === undefined || input.ejectAfterElapsedSeconds === null
        ? null
        : v.intInRange("ejectAfterElapsedSeconds", input.ejectAfterElapsedSeconds, 1, MAX_EJECT_AFTER_SECONDS);
    if (input.ejectAtTokenExpiry && !expiresAt) {
      throw badInput("ejectAtTokenExpiry", "ejectAtTokenExpiry needs a token that expires.");
    }

    const usr: Record<string, unknown> = {};
    if (profile.name) usr.name = profile.name;
    if (profile.email) usr.email = profile.email.email;
    if (profile.avatarUrl) usr.avatarUrl = profile.avatarUrl;
    if (profile.metadata) usr.metadata = profile.metadata;
    const claims: Record<string, unknown> = { usr };
    if (eventSpecific && event) claims.evt = event.id;
    if (input.role) claims.role = input.role;
    if (ejectAfter) claims.ejs = ejectAfter;
    if (input.ejectAtTokenExpiry) claims.eje = true;
    if (metadata && Object.keys(metadata).length > 0) claims.md = metadata;
    if (options.subjectJti) claims.sjt = options.subjectJti;

    const jti = randomUUID();
    const token = await signToken({
      kind: "join",
      key: await this.deps.signingKeys.currentKey(companyId),
      issuer: this.issuerOf(company.slug),
      subject: profile.externalId,
      jti,
      issuedAt: now,
      expiresAt,
      notBefore,
      claims,
    });
    // Verification refuses longer tokens (and a join URL this long would not survive a browser);
    // only user metadata can make one this long, the other fields are bounded well below it.
    if (token.length > MAX_TOKEN_LENGTH) {
      throw badInput(
        "user.metadata",
        `The token would be longer than ${MAX_TOKEN_LENGTH} characters: put less in user.metadata.`,
      );
    }
    // A token that opens any event leads to the company's page, which lists the events to choose from.
    const path = event ? `/j/${encodeURIComponent(event.slug)}` : `/c/${encodeURIComponent(company.slug)}/`;
    return {
      token,
      joinUrl: `${this.deps.publicUrl}${path}?token=${token}`,
      jti,
      expiresAt: expiresAt ? new Date(Math.floor(expiresAt.getTime() / 1000) * 1000) : null,
      notBefore: notBefore ? new Date(Math.floor(notBefore.getTime() / 1000) * 1000) : null,
    };
  }

  /**
   * Whether a verified join or registration token has been revoked: by its jti, by
   * revokeUserTokens (issued before the user's cut-off), or with its registration cancelled.
   */
  async isTokenRevoked(company: CompanyEntity, kind: TokenKind, payload: JWTPayload): Promise<boolean> {
    const jti = typeof payload.jti === "string" ? payload.jti : null;
    const issuedAt = typeof payload.iat === "number" ? new Date(payload.iat * 1000) : null;
    const sub = typeof payload.sub === "string" ? payload.sub : null;
    // In the database, one statement: the jti itself, and the user's "revoke everything issued
    // before" cutoff (for a registration: whether it was cancelled, and its user's cutoff).
    if (kind === "join") {
      // The single-use credential of an approved knock (jrq) is spent once it has been joined with.
      const joinRequest =
        payload.jrq === undefined
          ? null
          : typeof payload.jrq === "string" && v.isUuid(payload.jrq)
            ? payload.jrq
            : undefined;
      if (joinRequest === undefined) return true;
      // sjt: the subject token a token exchange minted this one for (revoking it revokes this too).
      const subjectJti = typeof payload.sjt === "string" ? payload.sjt : null;
      // The view proves most tokens are not revoked; a knock's credential is spent in join_requests,
      // which it does not follow.
      const view = this.revocations;
      if (
        joinRequest === null &&
        view.live &&
        !(jti !== null && view.mayBeRevoked(company.id, jti)) &&
        !(subjectJti !== null && view.mayBeRevoked(company.id, subjectJti)) &&
        !(sub !== null && issuedAt !== null && view.mayBeCutOff(company.id, sub, issuedAt))
      ) {
        return false;
      }
      const [row] = await this.sql<{ revoked: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE company_id = $1 AND (jti = $2 OR jti = $6))
             OR EXISTS (SELECT 1 FROM users WHERE company_id = $1 AND external_id = $3 AND tokens_revoked_before > $4)
             OR EXISTS (SELECT 1 FROM erased_subjects WHERE company_id = $1 AND erased_at > $4
                           AND digest = encode(sha256(convert_to($1::text || ' ' || $3, 'UTF8')), 'hex'))
             OR ($5::uuid IS NOT NULL AND NOT EXISTS (
                  SELECT 1 FROM join_requests WHERE id = $5 AND company_id = $1 AND status = 'APPROVED' AND consumed_at IS NULL)) AS revoked`,
        [company.id, jti, sub, issuedAt, joinRequest, subjectJti],
      );
      return row.revoked;
    }
    if (kind === "registration") {
      // Always in the database: the view does not follow registrants. A cancellation revokes the
      // registration's jti in its own transaction, so the jti would cover it, but the cutoff is
      // that of the registrant's user (found by registrants.user_id, maybe a user without an
      // external id), which the view does not key by.
      if (!sub || !v.isUuid(sub)) return true;
      const [row] = await this.sql<{ revoked: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE company_id = $1 AND jti = $2)
             OR NOT EXISTS (SELECT 1 FROM registrants WHERE id = $3 AND company_id = $1 AND cancelled_at IS NULL)
             OR EXISTS (SELECT 1 FROM registrants g JOIN users u ON u.id = g.user_id
                         WHERE g.id = $3 AND u.tokens_revoked_before > $4) AS revoked`,
        [company.id, jti, sub, issuedAt],
      );
      return row.revoked;
    }
    return jti !== null && this.isRevoked(company.id, jti);
  }

  /**
   * Whether the user a verified token names is suspended (suspendUser): a join token by its
   * `sub` (the external id), a registration by its registrant's user, a session token by its
   * `uid`. The revocation view answers "no" for nearly every token without a statement.
   */
  async isSubjectSuspended(company: CompanyEntity, kind: TokenKind, payload: JWTPayload): Promise<boolean> {
    const sub = typeof payload.sub === "string" ? payload.sub : null;
    const view = this.revocations;
    if (kind === "join") {
      if (sub === null || (view.live && !view.mayBeSuspended(company.id, { externalId: sub }))) return false;
      const rows = await this.sql(
        "SELECT 1 FROM users WHERE company_id = $1 AND external_id = $2 AND suspended_at IS NOT NULL",
        [company.id, sub],
      );
      return rows.length > 0;
    }
    if (kind === "session") {
      const uid = typeof payload.uid === "string" && v.isUuid(payload.uid) ? payload.uid : null;
      if (uid === null || (view.live && !view.mayBeSuspended(company.id, { userId: uid }))) return false;
      const rows = await this.sql(
        "SELECT 1 FROM users WHERE company_id = $1 AND id = $2 AND suspended_at IS NOT NULL",
        [company.id, uid],
      );
      return rows.length > 0;
    }
    if (sub === null || !v.isUuid(sub)) return false;
    const rows = await this.sql(
      "SELECT 1 FROM registrants g JOIN users u ON u.id = g.user_id WHERE g.id = $1 AND g.company_id = $2 AND u.suspended_at IS NOT NULL",
      [sub, company.id],
    );
    return rows.length > 0;
  }

  /** Verifies without joining, for any kind Admit issues. Never throws for a bad token. */
  async validate(token: string): Promise<Omit<TokenValidationType, "admits">> {
    let tokenType: string | null = null;
    try {
      tokenType = peekToken(token).kind;
      const verified = await this.verify(token, ["join", "registration", "session"]);
      const payload = verified.payload;
      if (verified.kind === "join") joinTokenOf(payload);
      else if (!v.isUuid(payload.sub!)) throw new AppError("TOKEN_INVALID", "The token names nothing Admit knows.");
      const expiresAt = typeof payload.exp === "number" ? new Date(payload.exp * 1000) : null;
      const revoked = await this.isTokenRevoked(verified.company, verified.kind, payload);
      const suspended = !revoked && (await this.isSubjectSuspended(verified.company, verified.kind, payload));
      return {
        valid: !revoked && !suspended,
        errorCode: revoked ? "TOKEN_REVOKED" : suspended ? "USER_SUSPENDED" : null,
        tokenType: verified.kind,
        claims: { ...payload },
        expiresAt,
      };
    } catch (error) {
      if (!isAppError(error)) throw error;
      return { valid: false, errorCode: error.code, tokenType, claims: null, expiresAt: null };
    }
  }
}
