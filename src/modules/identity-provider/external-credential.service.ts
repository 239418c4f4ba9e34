import { createHash } from "node:crypto";
import type { DataSource } from "typeorm";
import type { JWTVerifyGetKey } from "jose";
import type { Logger } from "pino";
import type { Clock } from "../../clock";
import {
  ID_TOKEN_MAX_LIFETIME_SECONDS,
  isAsymmetricAlg,
  peekExternalToken,
  remoteKeySet,
  tokenInvalid,
  verifyExternalToken,
  VerifiedExternalToken,
} from "../../auth/external-tokens";
import { AppError, badInput, isAppError, notFound } from "../../errors";
import { Role } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import { rawQuery, RawQuery } from "../../db/raw";
import type { CompanyEntity } from "../company/company.entity";
import type { CompanyService } from "../company/company.service";
import type { EventEntity } from "../event/event.entity";
import type { EventService } from "../event/event.service";
import type { Admission, Entrant } from "../session/admission.service";
import type { JoinEventInput } from "../session/session.inputs";
import { normalizeGrant } from "../session/role";
import { isStorable, MAX_TOKEN_METADATA_CHARS, TokenService } from "../token/token.service";
import type { JoinTokenType } from "../token/token.types";
import { validateProfile } from "../user/user.service";
import type { IdentityProviderEntity } from "./identity-provider.entity";
import type { PartnerSecretKey, PartnerService } from "../partner/partner.service";

export interface ExternalCredentialServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  companies: CompanyService;
  events: EventService;
  tokens: TokenService;
  partners: PartnerService;
  /** JWKS fetch failures are logged here at debug level (callers see one generic message). */
  log?: Logger;
  /** NODE_ENV is "production": JWKS hosts may then not resolve to loopback addresses either. */
  production: boolean;
}

/** Remote JWKS settings (jose createRemoteJWKSet), per identity provider and node. */
export const JWKS_TIMEOUT_MS = 3_000;
export const JWKS_COOLDOWN_MS = 30_000;
export const JWKS_CACHE_MAX_AGE_MS = 10 * 60_000;
const JWKS_CACHE_MAX_PROVIDERS = 1_000;
const MAX_JTI = 128;
const MAX_EXTERNAL_ID = 255;

type ValidatedProfile = ReturnType<typeof validateProfile>;

/** Who a verified external credential names. */
export type ExternalSubject =
  /** An existing non-guest user with this external id (`{ sub }`; OIDC with jitEnabled false). */
  | { kind: "externalId"; externalId: string }
  /** An existing non-guest user with this Admit id, else this external id (`{ id }`). */
  | { kind: "id"; id: string }
  /** The oldest existing non-guest user with this email (`{ email }`). */
  | { kind: "email"; normalized: string }
  /** Created or refreshed just in time (`{ user }`, a voice-SDK ticket, OIDC with jitEnabled). */
  | { kind: "profile"; profile: ValidatedProfile };

/** What a verified partner JWT or ID token says about a join. */
export interface ExternalCredential {
  credentialType: "PARTNER_JWT" | "OIDC_ID_TOKEN";
  subject: ExternalSubject;
  /** The token's jti (a ticket's `vxi:<iss>:<vxi>`), else its {@link syntheticJti}. */
  jti: string;
  issuedAt: Date | null;
  expiresAt: Date;
  roleGrant: Role | null;
  metadata: Record<string, unknown>;
  /** A voice-SDK ticket names its channel: the slug of the one event it opens. */
  channel: string | null;
  /** The partner secret that verified it (its lastUsedAt is recorded on success). */
  secret: PartnerSecretKey | null;
  /** The verified payload, as validateToken shows it to the token's holder. */
  claims: Record<string, unknown>;
}

/**
 * The jti a token without one is known by: `sha256:` and the hex SHA-256 of the whole compact
 * token (71 characters). A ban (endSession ban: true) revokes it, which refuses that very token
 * and no other; revokeToken takes it too.
 */
export function syntheticJti(token: string): string {
  return `sha256:${createHash("sha256").update(token, "utf8").digest("hex")}`;
}

export const SUBJECT_TOKEN_TYPES = {
  jwt: "urn:ietf:params:oauth:token-type:jwt",
  idToken: "urn:ietf:params:oauth:token-type:id_token",
} as const;

const malformed = (what: string): AppError => tokenInvalid(`The token's ${what} claim is malformed.`);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** A string claim: absent → undefined; otherwise a non-empty storable string of at most `max`, or TOKEN_INVALID. */
function stringClaim(payload: Record<string, unknown>, name: string, max: number, label = name): string | undefined {
  const value = payload[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > max || !isStorable(value)) throw malformed(label);
  return value;
}

/** An id claim: a string, or a whole number (many systems number their users), as text. */
function idClaim(payload: Record<string, unknown>, name: string, label = name): string | undefined {
  const value = payload[name];
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return stringClaim(payload, name, MAX_EXTERNAL_ID, label);
}

/**
 * Verifies partner JWTs (F5, F6b) and OIDC ID tokens (F6) and says who they let in. Plugged into
 * joinEvent as the PARTNER_JWT and OIDC_ID_TOKEN credentials, and used by POST /oauth/token.
 *
 * ## PARTNER_JWT, signed with a partner secret (HS256)
 *
 * Header: `alg` must be HS256 (HS384, HS512, none and the rest are TOKEN_INVALID); `kid`, when
 * given, is the partner secret's id, looked up only in the company of the event joined; without
 * it (as `jwt.sign(payload, secret, { expiresIn: '7 days' })` signs) every active secret of that
 * company is checked (at most five, all of them every time) and the one that matches verifies;
 * `jku`, `x5u`, `jwk`, `x5c` and `crit` are refused. The HMAC key is the UTF-8 bytes of the
 * secret as createPartnerSecret showed it. `typ` is not read. `aud` is optional; when present it
 * must be the company's Admit issuer `<PUBLIC_URL>/c/<companySlug>` (a string, or an array holding
 * only it, or holding others too with `azp` naming it, as for the partner's own keys), else
 * TOKEN_INVALID: a token the partner minted for another service is not a credential here.
 *
 * ## PARTNER_JWT, signed with the partner's own keys (ES256, EdDSA, RS256, …)
 *
 * The company registers a PARTNER_KEYS identity provider. `iss` names it (exact match, that
 * company only); the key comes from its JWKS (by `kid` when given); `alg` must be in the
 * provider's list. `aud` is required: the provider's audience when it has one, else the
 * company's Admit issuer `<PUBLIC_URL>/c/<companySlug>` (as in Admit's own tokens). Issuers are
 * unique per company only, so a partner serving several companies with the same keys would
 * otherwise have its token for company A accepted at company B's events; the audience binds the
 * token to one company. (An HS256 token is bound already: its kid is a secret of one company.)
 *
 * ## Claims read from a partner JWT (either signature)
 *
 * - `exp` (required): at most the company's partnerTokenMaxTtlSeconds ahead (default 7 days, at
 *   most 30 days; plus 30 s of skew). `nbf` honoured (30 s skew).
 * - `iat` (optional): the issue time; not in the future. revokeUserTokens refuses tokens issued
 *   before its cut-off; without `iat` that cut-off cannot apply.
 * - `jti` (optional, a string of at most 128 characters): kept on the session, so revokeToken and
 *   a ban (endSession ban: true) refuse the token afterwards. Without it, the token is known by
 *   the synthetic jti `sha256:<hex SHA-256 of the whole token>` ({@link syntheticJti}), so a ban
 *   refuses that very token (and revokeToken takes that value too).
 * - `role` (optional): ATTENDEE, PRESENTER or ORGANIZER (any case); admin and owner mean ORGANIZER.
 * - `metadata` (optional): a JSON object of at most 1000 characters serialized, carried into the
 *   session.
 * - Who joins, by the first shape that applies:
 *   1. `vxa` present: a voice-SDK ticket, below.
 *   2. `user` (an object): the user is created or refreshed just in time by external id.
 *      `user.id` (a string or a whole number; or `sub` when `user.id` is absent; both present and
 *      different is TOKEN_INVALID), `user.email`, `user.name`, `user.avatarUrl` (absent: left as
 *      they are; null: cleared), `user.metadata` (an object) and every other key of `user` become
 *      the user's metadata (only when there is at least one). A new user takes a seat
 *      (SEAT_LIMIT_REACHED at the limit). Bad values are TOKEN_INVALID.
 *   3. `sub`, `id` and/or `email`: an existing non-guest user of the company, by the first given:
 *      `sub` is the external id (exact); `id` (a string or a whole number) is Admit's user id or,
 *      failing that, the external id; `email` matches case-insensitively, the oldest user first.
 *      Nobody matches: INVALID_CREDENTIALS. Nothing about the user is changed.
 * - Nothing else is read (`iss` and `aud` only as above).
 *
 * Token exchange (POST /oauth/token) mints a join token with its own jti and the subject token's
 * jti (or synthetic jti) in its `sjt` claim: revoking the subject token's jti refuses the join
 * tokens derived from it too, at join and in validateToken (a session already open with one
 * carries on until it ends or is kicked).
 *
 * ## Voice-SDK tickets (modelled on Vivox access tokens)
 *
 * A backend that already signs Vivox-style join tickets signs the same payload with a partner
 * secret, and adds the header Admit needs (`alg: HS256`, `kid`: Vivox's header is `{}`):
 *
 * ```
 * { "iss": "<issuer>", "exp": …, "vxa": "join", "vxi": 933000,
 *   "f": "sip:.<issuer>.<userId>.@<domain>", "t": "sip:confctl-g-<issuer>.<channel>@<domain>" }
 * ```
 *
 * - `vxa` must be "join" (login, kick and mute tickets are TOKEN_INVALID).
 * - `f` is the user's SIP URI: the text between `.<issuer>.` and `.@` is the user's external id;
 *   the user is created just in time (with that id only) or found, like a `user` claim.
 * - `t` is the channel's SIP URI (non-positional `confctl-g-` channels): the channel name must be
 *   the joined event's slug, else TOKEN_WRONG_EVENT.
 * - `iss` is required, and must be the issuer inside both `f` and `t`; `f` and `t` must name the
 *   same domain (the domain is not otherwise checked).
 * - `vxi` (optional, a whole number) is the ticket's unique id: it becomes the jti
 *   (`vxi:<iss>:<vxi>`) unless a `jti` claim is given (with neither, the synthetic jti). `exp`, `nbf`, `iat`, `role` and `metadata`
 *   are read as for any partner JWT; `sub` is not read.
 *
 * ## OIDC_ID_TOKEN
 *
 * The event names the company; `iss` names its OIDC identity provider (exact). Verified against
 * the provider's JWKS (fetched with a 3 s timeout, cached 10 minutes, refetched when a token
 * names an unknown kid, at most every 30 s), `alg` in the provider's list, `iss` and `aud` exact
 * (`aud` a string, or an array holding it with `azp` naming it when it holds others), `exp`
 * required (30 s skew), `nbf` honoured. Claims read: the mapped external-id claim (default `sub`,
 * required), the `email` claim only when `email_verified` is the boolean true (absent, false,
 * "true" as a string: the email is not taken, so an address the provider did not verify cannot
 * match an organizer list; an existing user's email is left as it is), the mapped name claim
 * (default `name`), `iat` and `jti` as above. An email mapped to a claim other than `email` is
 * never taken: `email_verified` speaks of `email` only, and there is no per-provider option to
 * trust another claim. jitEnabled: the user is created or refreshed just in time; otherwise only
 * an existing user with that external id gets in (else INVALID_CREDENTIALS).
 *
 * ## JWKS fetches
 *
 * node:http(s), 3 s timeout, no redirects, at most 256 KB. The JWKS host must resolve only to
 * public addresses (checked on the addresses actually connected to): loopback, private,
 * link-local, unique-local, CGNAT, multicast, reserved, NAT64 and IPv4-mapped forms of these
 * are refused; outside production loopback is allowed (local development, tests). A JWKS that
 * cannot be obtained, for whatever reason, is TOKEN_INVALID with one generic message; the
 * reason is logged at debug level.
 */
export class ExternalCredentialService {
  private readonly sql: RawQuery;
  private readonly keySets = new Map<string, JWTVerifyGetKey>();

  constructor(private readonly deps: ExternalCredentialServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
  }

  // ---------------------------------------------------------------------------------------------
  // joinEvent credentials

  /** The PARTNER_JWT credential of joinEvent. */
  admitPartnerJwt(input: JoinEventInput, credential: string | null): Promise<Admission> {
    return this.admit(input, credential, (company, token) => this.verifyPartnerJwt(company, token));
  }

  /** The OIDC_ID_TOKEN credential of joinEvent. */
  admitIdToken(input: JoinEventInput, credential: string | null): Promise<Admission> {
    return this.admit(input, credential, (company, token) => this.verifyIdToken(company, token));
  }

  private async admit(
    input: JoinEventInput,
    credential: string | null,
    verify: (company: CompanyEntity, token: string) => Promise<ExternalCredential>,
  ): Promise<Admission> {
    if (!credential) throw badInput("credential", "credential is required for this credentialType.");
    // The event names the company; the token's key is looked up in that company only.
    const event = await this.deps.events.publicEventOf(input.event);
    const company = await this.companyOf(event.companyId);
    const verified = await verify(company, credential);
    if (verified.channel !== null && verified.channel !== event.slug) {
      throw new AppError("TOKEN_WRONG_EVENT", "This ticket opens another channel (event).");
    }
    await this.refuseRevoked(company, verified);
    const entrant = await this.entrantOf(company, verified.subject);
    const secret = verified.secret;
    return {
      company,
      event,
      credentialType: verified.credentialType,
      jti: verified.jti,
      issuedAt: verified.issuedAt,
      expiresAt: verified.expiresAt,
      roleGrant: verified.roleGrant,
      ejectAfterElapsedSeconds: null,
      ejectAtTokenExpiry: false,
      metadata: verified.metadata,
      entrant,
      onSession: secret ? (manager) => this.deps.partners.markSecretUsed(secret, manager) : undefined,
    };
  }

  private async companyOf(companyId: string): Promise<CompanyEntity> {
    const company = await this.deps.companies.cachedCompany("id", companyId);
    if (!company) throw notFound("The company");
    return company;
  }

  private async refuseRevoked(company: CompanyEntity, verified: ExternalCredential): Promise<void> {
    if (await this.deps.tokens.isRevoked(company.id, verified.jti)) {
      throw new AppError("TOKEN_REVOKED", "This token was revoked.");
    }
  }

  /** The entrant a subject names: existing users are looked up here, profiles are upserted by the join. */
  private async entrantOf(company: CompanyEntity, subject: ExternalSubject): Promise<Entrant> {
    if (subject.kind === "profile") return { kind: "external", profile: subject.profile };
    const user = await this.existingUser(company.id, subject);
    if (!user) throw new AppError("INVALID_CREDENTIALS", "No user of this company matches this token.");
    return { kind: "user", userId: user.id };
  }

  /** The existing non-guest user a subject names (a profile: by its external id), or null. */
  async existingUser(companyId: string, subject: ExternalSubject) {
    type Row = { id: string; external_id: string | null; email: string | null; name: string | null; avatar_url: string | null; tokens_revoked_before: Date | null };
    const columns = "id, external_id, email, name, avatar_url, tokens_revoked_before";
    if (subject.kind === "email") {
      const [row] = await this.sql<Row>(
        `SELECT ${columns} FROM users WHERE company_id = $1 AND email_normalized = $2 AND NOT is_guest ORDER BY created_at, id LIMIT 1`,
        [companyId, subject.normalized],
      );
      return row ?? null;
    }
    if (subject.kind === "id") {
      // Admit's own id first (a UUID), then the company's external id.
      const [row] = await this.sql<Row>(
        `SELECT ${columns} FROM users
          WHERE company_id = $1 AND NOT is_guest AND (external_id = $2 OR ($3::uuid IS NOT NULL AND id = $3::uuid))
          ORDER BY (id::text = $2) DESC LIMIT 1`,
        [companyId, subject.id, v.isUuid(subject.id) ? subject.id : null],
      );
      return row ?? null;
    }
    const externalId = subject.kind === "externalId" ? subject.externalId : subject.profile.externalId;
    const [row] = await this.sql<Row>(`SELECT ${columns} FROM users WHERE company_id = $1 AND external_id = $2 AND NOT is_guest`, [companyId, externalId]);
    return row ?? null;
  }

  // ---------------------------------------------------------------------------------------------
  // Verification

  /** Verifies a partner JWT of this company (HS256 with a partner secret, or its PARTNER_KEYS). */
  async verifyPartnerJwt(company: CompanyEntity, token: string): Promise<ExternalCredential> {
    const peek = peekExternalToken(token);
    const now = this.deps.clock.now();
    let verified: VerifiedExternalToken;
    let secret: PartnerSecretKey | null = null;
    if (peek.alg === "HS256") {
      if (peek.kid) {
        secret = await this.deps.partners.secretKey(company.id, peek.kid);
        if (!secret?.key) throw tokenInvalid("The token names a partner secret this company does not have (or has revoked).");
      } else {
        // No kid, as integrators of "external auth code" schemes sign: the secret whose HMAC
        // matches, found by checking every active one (at most five, all of them every time).
        secret = await signedByOneOf(token, await this.deps.partners.activeSecretKeys(company.id));
        if (!secret?.key) throw tokenInvalid("The token's signature does not verify with any active partner secret of this company.");
      }
      verified = await verifyExternalToken(token, {
        key: secret.key,
        algorithms: ["HS256"],
        // The kid binds the token to this company already; an aud, when given, must be ours too,
        // so a token the partner minted for another service does not open our events.
        audienceWhenPresent: this.deps.tokens.issuerOf(company.slug),
        now,
        maxLifetimeSeconds: company.partnerTokenMaxTtlSeconds,
      });
    } else if (isAsymmetricAlg(peek.alg)) {
      const provider = peek.issuer ? await this.deps.partners.providerByIssuer(company.id, "PARTNER_KEYS", peek.issuer) : null;
      if (!provider) throw tokenInvalid("No partner keys of this company are registered for this token's issuer (iss).");
      verified = await verifyExternalToken(token, {
        key: this.keySetOf(provider),
        algorithms: provider.algorithms,
        issuer: provider.issuer,
        // Issuers are unique per company only: the audience binds the token to this company.
        audience: provider.audience ?? this.deps.tokens.issuerOf(company.slug),
        now,
        maxLifetimeSeconds: company.partnerTokenMaxTtlSeconds,
      });
    } else {
      throw tokenInvalid("A partner JWT must be signed with HS256 (a partner secret) or with the partner's registered keys.");
    }
    const payload = verified.payload as Record<string, unknown>;
    const common = {
      credentialType: "PARTNER_JWT" as const,
      issuedAt: verified.issuedAt,
      expiresAt: verified.expiresAt,
      roleGrant: roleClaim(payload),
      metadata: metadataClaim(payload),
      secret,
      claims: payload,
    };
    if (payload.vxa !== undefined) {
      const ticket = ticketClaims(payload);
      return { ...common, subject: { kind: "profile", profile: ticket.profile }, jti: ticket.jti ?? syntheticJti(token), channel: ticket.channel };
    }
    return { ...common, subject: partnerSubject(payload), jti: jtiClaim(payload) ?? syntheticJti(token), channel: null };
  }

  /** Verifies an ID token of one of this company's OIDC providers and maps its claims. */
  async verifyIdToken(company: CompanyEntity, token: string): Promise<ExternalCredential> {
    const peek = peekExternalToken(token);
    const provider = peek.issuer ? await this.deps.partners.providerByIssuer(company.id, "OIDC", peek.issuer) : null;
    if (!provider) throw tokenInvalid("No identity provider of this company has this ID token's issuer (iss).");
    const verified = await verifyExternalToken(token, {
      key: this.keySetOf(provider),
      algorithms: provider.algorithms,
      issuer: provider.issuer,
      // Required for OIDC providers at registration.
      audience: provider.audience ?? "",
      now: this.deps.clock.now(),
      maxLifetimeSeconds: ID_TOKEN_MAX_LIFETIME_SECONDS,
    });
    const payload = verified.payload as Record<string, unknown>;
    const externalId = idClaim(payload, provider.externalIdClaim);
    if (externalId === undefined) throw tokenInvalid(`The ID token has no ${provider.externalIdClaim} claim to name the user by.`);
    let subject: ExternalSubject;
    if (provider.jitEnabled) {
      const email = payload[provider.emailClaim];
      const name = payload[provider.nameClaim];
      if (email !== undefined && email !== null && typeof email !== "string") throw malformed(provider.emailClaim);
      if (name !== undefined && name !== null && typeof name !== "string") throw malformed(provider.nameClaim);
      // Organizer lists match by email: only an address the provider says it verified is taken.
      // email_verified speaks of the `email` claim alone, so a mapped claim is never trusted.
      const verifiedEmail = provider.emailClaim === "email" && payload.email_verified === true;
      const trustedEmail = verifiedEmail ? (email ?? undefined) : undefined;
      subject = { kind: "profile", profile: profileOf({ externalId, email: trustedEmail, name: name ?? undefined }, "") };
    } else {
      subject = { kind: "externalId", externalId };
    }
    return {
      credentialType: "OIDC_ID_TOKEN",
      subject,
      jti: jtiClaim(payload) ?? syntheticJti(token),
      issuedAt: verified.issuedAt,
      expiresAt: verified.expiresAt,
      roleGrant: null,
      metadata: {},
      channel: null,
      secret: null,
      claims: payload,
    };
  }

  /** The provider's remote JWKS, one per provider (and URI) per node. */
  private keySetOf(provider: IdentityProviderEntity): JWTVerifyGetKey {
    const cacheKey = `${provider.id}|${provider.jwksUri}`;
    let keySet = this.keySets.get(cacheKey);
    if (!keySet) {
      if (this.keySets.size >= JWKS_CACHE_MAX_PROVIDERS) this.keySets.clear();
      let host = "?";
      try {
        host = new URL(provider.jwksUri).host;
      } catch {
        // logged as "?"; the fetch itself fails generically
      }
      keySet = remoteKeySet(provider.jwksUri, {
        timeoutMs: JWKS_TIMEOUT_MS,
        cooldownMs: JWKS_COOLDOWN_MS,
        cacheMaxAgeMs: JWKS_CACHE_MAX_AGE_MS,
        addresses: { allowLoopback: !this.deps.production },
        // The host only (a path or query could carry a secret of the provider's), never the token.
        onFetchFailure: (detail) => this.deps.log?.debug({ identityProviderId: provider.id, jwksHost: host, detail }, "JWKS fetch failed"),
      });
      this.keySets.set(cacheKey, keySet);
    }
    return keySet;
  }

  // ---------------------------------------------------------------------------------------------
  // Token exchange (RFC 8693)

  /** Verifies a subject token of POST /oauth/token for this company. */
  verifySubjectToken(company: CompanyEntity, subjectTokenType: string, token: string): Promise<ExternalCredential> {
    return subjectTokenType === SUBJECT_TOKEN_TYPES.idToken ? this.verifyIdToken(company, token) : this.verifyPartnerJwt(company, token);
  }

  /**
   * Mints the Admit join token a verified subject token is exchanged for: for `event` only when
   * given (else for any event of the company; a ticket always opens its channel's event). The
   * user is the one the subject names: an existing user's external id and profile, or the
   * just-in-time profile, which the join then creates. It expires with the subject token, or
   * sooner by the company's default token lifetime. It has its own jti, and the subject token's jti
   * as `sjt` (see the class comment).
   * @throws AppError when the subject token does not hold up (the caller answers invalid_grant).
   */
  async exchange(company: CompanyEntity, verified: ExternalCredential, event: EventEntity | null): Promise<{ token: JoinTokenType; expiresIn: number }> {
    if (verified.channel !== null) {
      if (event && event.slug !== verified.channel) throw new AppError("TOKEN_WRONG_EVENT", "This ticket opens another channel (event).");
      event ??= isStorable(verified.channel) ? await this.deps.events.findByIdOrSlug(company.id, verified.channel) : null;
      if (!event) throw new AppError("TOKEN_WRONG_EVENT", "This ticket's channel names no event of this company.");
    }
    await this.refuseRevoked(company, verified);
    const subject = verified.subject;
    const existing = await this.existingUser(company.id, subject);
    if (subject.kind !== "profile" && (!existing || existing.external_id === null)) {
      throw new AppError("INVALID_CREDENTIALS", "No user of this company matches this token.");
    }
    if (existing?.tokens_revoked_before && verified.issuedAt && verified.issuedAt.getTime() < existing.tokens_revoked_before.getTime()) {
      throw new AppError("TOKEN_REVOKED", "This token was revoked.");
    }
    const user =
      subject.kind === "profile"
        ? {
            id: subject.profile.externalId,
            name: subject.profile.name ?? undefined,
            email: subject.profile.email?.email ?? undefined,
            avatarUrl: subject.profile.avatarUrl ?? undefined,
            metadata: subject.profile.metadata ?? undefined,
          }
        : {
            id: existing!.external_id!,
            name: existing!.name ?? undefined,
            email: existing!.email ?? undefined,
            avatarUrl: existing!.avatar_url ?? undefined,
          };
    const now = this.deps.clock.now();
    const byDefault = new Date(now.getTime() + company.defaultTokenTtlSeconds * 1000);
    const expiresAt = verified.expiresAt.getTime() < byDefault.getTime() ? verified.expiresAt : byDefault;
    if (expiresAt.getTime() <= now.getTime()) throw new AppError("TOKEN_EXPIRED", "The subject token has expired.");
    let token: JoinTokenType;
    try {
      const input = {
        eventId: event?.id,
        eventSpecific: event !== null,
        user,
        role: verified.roleGrant ?? undefined,
        expiresAt,
        metadata: Object.keys(verified.metadata).length > 0 ? verified.metadata : undefined,
      };
      // sjt: revoking the subject token's jti (or a ban of its session) refuses this token too.
      token = await this.deps.tokens.mintJoinTokenFor(company.id, input, { subjectJti: verified.jti });
    } catch (error) {
      // The claims could not make a join token (the subject token's fault, not the request's).
      if (isAppError(error) && error.code === "BAD_USER_INPUT") throw tokenInvalid(`The subject token's claims cannot make a join token: ${error.message}`);
      throw error;
    }
    if (verified.secret) await this.deps.partners.markSecretUsed(verified.secret);
    const expiresIn = Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000));
    return { token, expiresIn };
  }
}

// -------------------------------------------------------------------------------------------------
// Claims

/**
 * The secret whose HS256 signature the token carries, or null. Every secret is checked, whatever
 * the result, so the time taken says nothing about which one matched.
 */
async function signedByOneOf(token: string, secrets: PartnerSecretKey[]): Promise<PartnerSecretKey | null> {
  const dot = token.lastIndexOf(".");
  const data = Buffer.from(token.slice(0, dot), "ascii");
  const signature = Buffer.from(token.slice(dot + 1), "base64url");
  const results = await Promise.all(
    secrets.map((secret) => (secret.key ? crypto.subtle.verify("HMAC", secret.key, signature, data) : Promise.resolve(false))),
  );
  const index = results.indexOf(true);
  return index < 0 ? null : secrets[index];
}

function jtiClaim(payload: Record<string, unknown>): string | null {
  return stringClaim(payload, "jti", MAX_JTI) ?? null;
}

function roleClaim(payload: Record<string, unknown>): Role | null {
  const role = payload.role;
  if (role === undefined || role === null) return null;
  const grant = typeof role === "string" ? normalizeGrant(role) : null;
  if (!grant) throw tokenInvalid("The token's role claim must be ATTENDEE, PRESENTER or ORGANIZER (admin and owner mean ORGANIZER).");
  return grant;
}

function metadataClaim(payload: Record<string, unknown>): Record<string, unknown> {
  const metadata = payload.metadata;
  if (metadata === undefined || metadata === null) return {};
  if (!isRecord(metadata) || !isStorable(metadata)) throw malformed("metadata");
  if (JSON.stringify(metadata).length > MAX_TOKEN_METADATA_CHARS) {
    throw tokenInvalid(`The token's metadata claim must be at most ${MAX_TOKEN_METADATA_CHARS} characters serialized.`);
  }
  return metadata;
}

/** validateProfile, with its refusals as TOKEN_INVALID (the token's claims, not the caller's input). */
function profileOf(profile: Parameters<typeof validateProfile>[0], prefix: string): ValidatedProfile {
  if (!isStorable(profile)) throw tokenInvalid("The token's user claims contain characters that cannot be stored.");
  try {
    return validateProfile(profile, prefix);
  } catch (error) {
    if (isAppError(error)) throw tokenInvalid(`The token's user claims are malformed: ${error.message}`);
    throw error;
  }
}

const PROFILE_KEYS = new Set(["id", "email", "name", "avatarUrl", "metadata"]);

/** The user a partner JWT names: `user` (just in time), else `sub`, else `email`. */
function partnerSubject(payload: Record<string, unknown>): ExternalSubject {
  const sub = idClaim(payload, "sub");
  if (payload.user !== undefined) {
    const user = payload.user;
    if (!isRecord(user)) throw malformed("user");
    const id = idClaim(user, "id", "user.id");
    if (id !== undefined && sub !== undefined && id !== sub) throw tokenInvalid("The token's user.id and sub name different users.");
    const externalId = id ?? sub;
    if (externalId === undefined) throw tokenInvalid("The token's user claim needs an id (or the token a sub).");
    const field = (name: string): string | null | undefined => {
      const value = user[name];
      if (value === undefined || value === null) return value;
      if (typeof value !== "string") throw malformed(`user.${name}`);
      return value;
    };
    const given = user.metadata;
    if (given !== undefined && given !== null && !isRecord(given)) throw malformed("user.metadata");
    const extra = Object.fromEntries(Object.entries(user).filter(([key]) => !PROFILE_KEYS.has(key)));
    const metadata = given || Object.keys(extra).length > 0 ? { ...(given ?? {}), ...extra } : undefined;
    return {
      kind: "profile",
      profile: profileOf({ externalId, email: field("email"), name: field("name"), avatarUrl: field("avatarUrl"), metadata }, "user."),
    };
  }
  if (sub !== undefined) {
    if (sub.trim() !== sub) throw malformed("sub");
    return { kind: "externalId", externalId: sub };
  }
  // `{ id }` (a string or a whole number): an existing user; it wins over `email`.
  const id = idClaim(payload, "id");
  if (id !== undefined) {
    if (id.trim() !== id) throw malformed("id");
    return { kind: "id", id };
  }
  const email = payload.email;
  if (email !== undefined) {
    if (typeof email !== "string" || !isStorable(email)) throw malformed("email");
    try {
      return { kind: "email", normalized: v.normalizeEmail("email", email).normalized };
    } catch {
      throw malformed("email");
    }
  }
  throw tokenInvalid("The token names no user: give user, sub, id or email.");
}

const TICKET_FROM = /^sip:\.([^.@\s]+)\.([^.@\s]+)\.@([^@\s]+)$/;
const TICKET_TO = /^sip:confctl-g-([^.@\s]+)\.([^@\s]+)@([^@\s]+)$/;

/** A voice-SDK ticket (see the class comment): the user of `f`, the channel of `t`. */
function ticketClaims(payload: Record<string, unknown>): { profile: ValidatedProfile; channel: string; jti: string | null } {
  if (payload.vxa !== "join") throw tokenInvalid('Only join tickets (vxa: "join") open an event.');
  const issuer = stringClaim(payload, "iss", 255);
  if (issuer === undefined) throw tokenInvalid("A ticket must carry iss.");
  const from = TICKET_FROM.exec(stringClaim(payload, "f", 1024) ?? "");
  if (!from || from[1] !== issuer) throw malformed("f");
  const to = TICKET_TO.exec(stringClaim(payload, "t", 1024) ?? "");
  if (!to || to[1] !== issuer || to[3] !== from[3]) throw malformed("t");
  const vxi = payload.vxi;
  if (vxi !== undefined && !(typeof vxi === "number" && Number.isSafeInteger(vxi) && vxi >= 0)) throw malformed("vxi");
  const jti = jtiClaim(payload) ?? (vxi === undefined ? null : `vxi:${issuer}:${vxi}`.slice(0, MAX_JTI));
  return { profile: profileOf({ externalId: from[2] }, "user."), channel: to[2], jti };
}
