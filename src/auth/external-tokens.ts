import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";
import type { CryptoKey, JWTHeaderParameters, JWTPayload, JWTVerifyGetKey, ProtectedHeaderParameters } from "jose";
import { AppError } from "../graphql/errors";
import { MAX_TOKEN_LENGTH } from "./tokens";

/**
 * Verification of tokens Admit did not sign: partner JWTs (HS256 with a partner secret, or a
 * partner's own asymmetric keys) and OIDC ID tokens. The rules of PRODUCT.md "Tokens" apply:
 * algorithms pinned, `exp` required, 30 s clock skew, no `jku`/`x5u`/`jwk`/`x5c`/`crit` headers.
 * Every failure is an AppError (TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID), never a jose
 * error or a TypeError.
 */

/** Clock skew allowed on exp, nbf and iat, in seconds. */
export const EXTERNAL_CLOCK_SKEW_SECONDS = 30;
/** A partner JWT may be valid for at most this long from now (its exp), plus the skew. */
export const PARTNER_JWT_MAX_LIFETIME_SECONDS = 24 * 3600;
/** ID tokens are not bounded by the partner rule; this only keeps dates storable. */
export const ID_TOKEN_MAX_LIFETIME_SECONDS = 366 * 24 * 3600;

/** Algorithms a JWKS-backed issuer (an OIDC provider, a partner's own keys) may use. */
export const ASYMMETRIC_ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
export type AsymmetricAlg = (typeof ASYMMETRIC_ALGS)[number];
export const isAsymmetricAlg = (value: unknown): value is AsymmetricAlg =>
  typeof value === "string" && (ASYMMETRIC_ALGS as readonly string[]).includes(value);

/** Header members that let the token's author pick the key, or add rules we would not enforce. */
const FORBIDDEN_HEADERS = ["jku", "x5u", "jwk", "x5c", "crit"] as const;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const MAX_KID_LENGTH = 128;
/** A JWKS document larger than this is refused (keys sets are a few KB). */
const MAX_JWKS_BYTES = 256 * 1024;

export const tokenInvalid = (message = "The token is not valid."): AppError => new AppError("TOKEN_INVALID", message);

/** What {@link peekExternalToken} reads before anything is verified: only to find the key. */
export interface ExternalTokenPeek {
  header: ProtectedHeaderParameters;
  alg: string | null;
  kid: string | null;
  issuer: string | null;
}

/**
 * Reads alg, kid and iss WITHOUT verifying, only to decide which key verifies the token. The
 * forbidden headers are refused here, before any key is looked up.
 * @throws AppError TOKEN_INVALID when the token is not a well-formed compact JWS.
 */
export function peekExternalToken(token: string): ExternalTokenPeek {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw tokenInvalid();
  let header: ProtectedHeaderParameters;
  let payload: JWTPayload;
  try {
    header = decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch {
    throw tokenInvalid("The token is not a well-formed JWT.");
  }
  if (!BASE64URL.test(token.slice(token.lastIndexOf(".") + 1))) throw tokenInvalid("The token is not a well-formed JWT.");
  for (const name of FORBIDDEN_HEADERS) {
    if (Object.hasOwn(header, name)) throw tokenInvalid(`The token's header may not carry "${name}".`);
  }
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_LENGTH)) throw tokenInvalid();
  return {
    header,
    alg: typeof header.alg === "string" ? header.alg : null,
    kid: typeof kid === "string" ? kid : null,
    issuer: typeof payload.iss === "string" ? payload.iss : null,
  };
}

export interface VerifyExternalOptions {
  /** The key itself (an imported HMAC secret) or a key resolver (a remote JWKS). */
  key: CryptoKey | JWTVerifyGetKey;
  /** The algorithms accepted (pinned): the header's alg must be one of them. */
  algorithms: readonly string[];
  now: Date;
  /** Exact `iss`, when the issuer is known. */
  issuer?: string;
  /** The `aud` required, when the issuer has one (see {@link audienceMatches}). */
  audience?: string;
  /** exp may lie at most this far after now (plus the skew). */
  maxLifetimeSeconds: number;
}

export interface VerifiedExternalToken {
  header: JWTHeaderParameters;
  payload: JWTPayload;
  /** exp, checked: a finite number within the lifetime allowed. */
  expiresAt: Date;
  /** iat when present, checked: not in the future beyond the skew. */
  issuedAt: Date | null;
}

/**
 * Verifies an external token's signature (algorithm pinned), exp (required, bounded), nbf, iat,
 * and iss/aud when given. Claims other than those are the caller's to type-check.
 * @throws AppError TOKEN_EXPIRED, TOKEN_NOT_YET_VALID or TOKEN_INVALID.
 */
export async function verifyExternalToken(token: string, opts: VerifyExternalOptions): Promise<VerifiedExternalToken> {
  const peek = peekExternalToken(token);
  if (!peek.alg || !opts.algorithms.includes(peek.alg)) throw tokenInvalid("The token is signed with an algorithm that is not accepted here.");
  let result: { payload: JWTPayload; protectedHeader: JWTHeaderParameters };
  try {
    const options = {
      algorithms: [...opts.algorithms],
      issuer: opts.issuer,
      audience: opts.audience,
      clockTolerance: EXTERNAL_CLOCK_SKEW_SECONDS,
      currentDate: opts.now,
      crit: {},
      requiredClaims: ["exp"],
    };
    // Two overloads of jwtVerify (a key, or a function that finds one).
    result =
      typeof opts.key === "function"
        ? await jwtVerify(token, opts.key as JWTVerifyGetKey, options)
        : await jwtVerify(token, opts.key as CryptoKey, options);
  } catch (error) {
    throw fromJoseError(error);
  }
  const { payload, protectedHeader } = result;
  const nowSeconds = opts.now.getTime() / 1000;
  const exp = payload.exp;
  if (!isFiniteNumber(exp)) throw tokenInvalid("The token must carry exp.");
  if (exp > nowSeconds + opts.maxLifetimeSeconds + EXTERNAL_CLOCK_SKEW_SECONDS) {
    const hours = Math.round(opts.maxLifetimeSeconds / 3600);
    throw tokenInvalid(`The token's exp may be at most ${hours} hours ahead.`);
  }
  let issuedAt: Date | null = null;
  if (payload.iat !== undefined) {
    // An iat in the future would also slip past revokeUserTokens (which compares issue times).
    if (!isFiniteNumber(payload.iat) || payload.iat < 0 || payload.iat > nowSeconds + EXTERNAL_CLOCK_SKEW_SECONDS) {
      throw tokenInvalid("The token's iat is not a time in the past.");
    }
    issuedAt = new Date(Math.floor(payload.iat) * 1000);
  }
  if (opts.audience !== undefined && !audienceMatches(payload, opts.audience)) throw tokenInvalid("The token is meant for another audience.");
  return { header: protectedHeader, payload, expiresAt: new Date(Math.floor(exp) * 1000), issuedAt };
}

/**
 * Exact audience: `aud` is the expected string, or an array holding it; an array with other
 * audiences too needs `azp` to name ours (OpenID Connect Core 3.1.3.7).
 */
export function audienceMatches(payload: JWTPayload, audience: string): boolean {
  const aud = payload.aud;
  if (typeof aud === "string") return aud === audience;
  if (!Array.isArray(aud) || !aud.includes(audience)) return false;
  return aud.length === 1 || payload.azp === audience;
}

export interface RemoteKeySetOptions {
  /** Abandon a fetch after this long. */
  timeoutMs: number;
  /** After a fetch, an unknown kid waits this long before it may trigger another. */
  cooldownMs: number;
  /** Keys are refetched when older than this. */
  cacheMaxAgeMs: number;
}

/**
 * A JWKS fetched from a URI (jose createRemoteJWKSet: cached, refetched when a token names an
 * unknown kid after the cooldown, abandoned after the timeout), whose failures are TOKEN_INVALID
 * with a message that says what went wrong. Redirects are not followed; documents over 256 KB are
 * refused.
 */
export function remoteKeySet(url: string, options: RemoteKeySetOptions): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(url), {
    timeoutDuration: options.timeoutMs,
    cooldownDuration: options.cooldownMs,
    cacheMaxAge: options.cacheMaxAgeMs,
    [customFetch]: boundedFetch,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey) throw tokenInvalid("The token was signed with a key the issuer does not publish.");
      if (error instanceof errors.JWKSMultipleMatchingKeys) throw tokenInvalid("The token names no kid and the issuer publishes several keys.");
      if (error instanceof errors.JWKSTimeout) throw tokenInvalid("The issuer's keys (JWKS) could not be fetched in time; try again shortly.");
      if (error instanceof errors.JWKSInvalid) throw tokenInvalid("The issuer's JWKS is not a valid key set.");
      // Connection refused, TLS, non-200, not JSON, too large: all the issuer's side.
      throw tokenInvalid("The issuer's keys (JWKS) could not be fetched; try again shortly.");
    }
  };
}

/** fetch, reading at most MAX_JWKS_BYTES of the body. */
async function boundedFetch(url: string, init: RequestInit): Promise<Response> {
  const response = await fetch(url, init);
  if (response.status !== 200 || !response.body) return response;
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > MAX_JWKS_BYTES) {
    await response.body.cancel();
    throw new Error("JWKS too large");
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_JWKS_BYTES) {
      await reader.cancel();
      throw new Error("JWKS too large");
    }
    chunks.push(value);
  }
  return new Response(Buffer.concat(chunks), { status: 200, headers: response.headers });
}

const isFiniteNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/** Maps jose's errors to token errors; anything else that is not an AppError is TOKEN_INVALID too. */
function fromJoseError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (!(error instanceof errors.JOSEError)) return tokenInvalid();
  if (error instanceof errors.JWTExpired) return new AppError("TOKEN_EXPIRED", "The token has expired.");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf" && error.reason === "check_failed") return new AppError("TOKEN_NOT_YET_VALID", "The token is not valid yet.");
    if (error.claim === "exp" && error.reason === "missing") return tokenInvalid("The token must carry exp.");
    if (error.claim === "iss") return tokenInvalid("The token comes from another issuer.");
    if (error.claim === "aud") return tokenInvalid("The token is meant for another audience.");
    return tokenInvalid(`The token's ${error.claim} claim is not valid.`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return tokenInvalid("The token is signed with an algorithm that is not accepted here.");
  if (error instanceof errors.JWSSignatureVerificationFailed) return tokenInvalid("The token's signature does not verify.");
  return tokenInvalid();
}
