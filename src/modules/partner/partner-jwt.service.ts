import type { EntityManager } from "typeorm";
import type { Clock } from "../../clock";
import { jtiClaim, syntheticJti } from "../../auth/external-claims";
import {
  isAsymmetricAlg,
  peekExternalToken,
  tokenInvalid,
  verifyExternalToken,
  VerifiedExternalToken,
} from "../../auth/external-tokens";
import type { CompanyEntity } from "../company/company.entity";
import type { ExternalCredential, ExternalCredentialService } from "../identity-provider/external-credential.service";
import type { ProviderKeySets } from "../identity-provider/provider-key-sets";
import type { Admission } from "../session/admission.service";
import type { JoinEventInput } from "../session/session.inputs";
import type { TokenService } from "../token/token.service";
import { metadataClaim, partnerSubject, roleClaim, ticketClaims } from "./partner-jwt.claims";
import type { PartnerSecretKey, PartnerService } from "./partner.service";

export interface PartnerJwtServiceDeps {
  clock: Clock;
  partners: PartnerService;
  tokens: TokenService;
  keySets: ProviderKeySets;
  externalCredentials: ExternalCredentialService;
}

/**
 * Partner JWTs: the PARTNER_JWT credential of joinEvent, the `externalAuthCode` of the company
 * page, and a subject token of POST /oauth/token.
 *
 * ## Signed with a partner secret (HS256)
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
 * ## Signed with the partner's own keys (ES256, EdDSA, RS256, …)
 *
 * The company registers a PARTNER_KEYS identity provider. `iss` names it (exact match, that
 * company only); the key comes from its JWKS (by `kid` when given; see ProviderKeySets); `alg`
 * must be in the provider's list. `aud` is required: the provider's audience when it has one, else
 * the company's Admit issuer `<PUBLIC_URL>/c/<companySlug>` (as in Admit's own tokens). Issuers are
 * unique per company only, so a partner serving several companies with the same keys would
 * otherwise have its token for company A accepted at company B's events; the audience binds the
 * token to one company. (An HS256 token is bound already: its kid is a secret of one company.)
 *
 * ## Claims read (either signature)
 *
 * - `exp` (required): at most the company's partnerTokenMaxTtlSeconds ahead (default 7 days, at
 *   most 30 days; plus 30 s of skew). `nbf` honoured (30 s skew).
 * - `iat` (optional): the issue time; not in the future. revokeUserTokens refuses tokens issued
 *   before its cut-off; without `iat` that cut-off cannot apply.
 * - `jti` (optional, a string of at most 128 characters): kept on the session, so revokeToken and
 *   a ban (endSession ban: true) refuse the token afterwards. Without it, the token is known by
 *   the synthetic jti `sha256:<hex SHA-256 of the whole token>` (syntheticJti), so a ban refuses
 *   that very token (and revokeToken takes that value too).
 * - `role` (optional): ATTENDEE, PRESENTER or ORGANIZER (any case); admin and owner mean ORGANIZER.
 * - `metadata` (optional): a JSON object of at most 1000 characters serialized, carried into the
 *   session.
 * - Who joins, by the first shape that applies:
 *   1. `vxa` present: a voice-SDK ticket (ticketClaims).
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
 */
export class PartnerJwtService {
  constructor(private readonly deps: PartnerJwtServiceDeps) {}

  /** The PARTNER_JWT credential of joinEvent. */
  admit(input: JoinEventInput, credential: string | null): Promise<Admission> {
    return this.deps.externalCredentials.admit(input, credential, (company, token) => this.verify(company, token));
  }

  /** Verifies a partner JWT of this company (HS256 with a partner secret, or its PARTNER_KEYS). */
  async verify(company: CompanyEntity, token: string): Promise<ExternalCredential> {
    const peek = peekExternalToken(token);
    const now = this.deps.clock.now();
    let verified: VerifiedExternalToken;
    let secret: PartnerSecretKey | null = null;
    if (peek.alg === "HS256") {
      if (peek.kid) {
        secret = await this.deps.partners.secretKey(company.id, peek.kid);
        if (!secret?.key)
          throw tokenInvalid("The token names a partner secret this company does not have (or has revoked).");
      } else {
        // No kid, as integrators of "external auth code" schemes sign: the secret whose HMAC
        // matches, found by checking every active one (at most five, all of them every time).
        secret = await signedByOneOf(token, await this.deps.partners.activeSecretKeys(company.id));
        if (!secret?.key)
          throw tokenInvalid("The token's signature does not verify with any active partner secret of this company.");
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
      const provider = peek.issuer
        ? await this.deps.partners.providerByIssuer(company.id, "PARTNER_KEYS", peek.issuer)
        : null;
      if (!provider)
        throw tokenInvalid("No partner keys of this company are registered for this token's issuer (iss).");
      verified = await verifyExternalToken(token, {
        key: this.deps.keySets.of(provider),
        algorithms: provider.algorithms,
        issuer: provider.issuer,
        // Issuers are unique per company only: the audience binds the token to this company.
        audience: provider.audience ?? this.deps.tokens.issuerOf(company.slug),
        now,
        maxLifetimeSeconds: company.partnerTokenMaxTtlSeconds,
      });
    } else {
      throw tokenInvalid(
        "A partner JWT must be signed with HS256 (a partner secret) or with the partner's registered keys.",
      );
    }
    const payload = verified.payload as Record<string, unknown>;
    const used = secret;
    const common = {
      credentialType: "PARTNER_JWT" as const,
      issuedAt: verified.issuedAt,
      expiresAt: verified.expiresAt,
      roleGrant: roleClaim(payload),
      metadata: metadataClaim(payload),
      // The secret's lastUsedAt, written with the join (or after the exchange).
      recordUse: used ? (manager?: EntityManager) => this.deps.partners.markSecretUsed(used, manager) : null,
      claims: payload,
    };
    if (payload.vxa !== undefined) {
      const ticket = ticketClaims(payload);
      return {
        ...common,
        subject: { kind: "profile", profile: ticket.profile },
        jti: ticket.jti ?? syntheticJti(token),
        channel: ticket.channel,
      };
    }
    return {
      ...common,
      subject: partnerSubject(payload),
      jti: jtiClaim(payload) ?? syntheticJti(token),
      channel: null,
    };
  }
}

/**
 * The secret whose HS256 signature the token carries, or null. Every secret is checked, whatever
 * the result, so the time taken says nothing about which one matched.
 */
async function signedByOneOf(token: string, secrets: PartnerSecretKey[]): Promise<PartnerSecretKey | null> {
  const dot = token.lastIndexOf(".");
  const data = Buffer.from(token.slice(0, dot), "ascii");
  const signature = Buffer.from(token.slice(dot + 1), "base64url");
  const results = await Promise.all(
    secrets.map((secret) =>
      secret.key ? crypto.subtle.verify("HMAC", secret.key, signature, data) : Promise.resolve(false),
    ),
  );
  const index = results.indexOf(true);
  return index < 0 ? null : secrets[index];
}
