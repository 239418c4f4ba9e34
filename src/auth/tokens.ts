import { SignJWT, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";
import type { CryptoKey, JWTHeaderParameters, JWTPayload, ProtectedHeaderParameters } from "jose";
import { AppError } from "../graphql/errors";
import type { SigningAlg } from "./signing-keys";

/** The kinds of token Admit mints itself (PRODUCT.md "Tokens"). */
export type TokenKind = "join" | "registration" | "session";

/** Each kind has its own `typ` header, so one kind is never accepted where another is expected. */
export const TOKEN_TYP: Readonly<Record<TokenKind, string>> = Object.freeze({
  join: "join+jwt",
  registration: "registration+jwt",
  session: "session+jwt",
});

/** Each kind also has its own audience; verification requires typ and aud to name the same kind. */
export const TOKEN_AUDIENCE: Readonly<Record<TokenKind, string>> = Object.freeze({
  join: "admit:join",
  registration: "admit:registration",
  session: "admit:session",
});

/** Clock skew allowed on exp and nbf, in seconds. */
const CLOCK_TOLERANCE_SECONDS = 30;
/** Ours are well under 2 KB; refusing larger input early keeps junk from costing parse time. */
export const MAX_TOKEN_LENGTH = 8192;
const MAX_KID_LENGTH = 128;
const MAX_SUB_LENGTH = 255;
const MAX_JTI_LENGTH = 128;
/** Header members that point at keys or certificates chosen by the token's author. */
const FORBIDDEN_HEADERS = ["jku", "x5u", "jwk", "x5c", "crit"] as const;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Claims signToken sets itself; `claims` may not override them. */
const RESERVED_CLAIMS = new Set(["iss", "aud", "sub", "jti", "iat", "exp", "nbf"]);

/** jose compares typ case-insensitively with an implied "application/"; do the same (RFC 7515 §4.1.9). */
const normalizeTyp = (typ: string): string => {
  const lower = typ.toLowerCase();
  return lower.startsWith("application/") ? lower.slice("application/".length) : lower;
};

const KIND_BY_TYP: ReadonlyMap<string, TokenKind> = new Map(
  (Object.keys(TOKEN_TYP) as TokenKind[]).map((kind) => [normalizeTyp(TOKEN_TYP[kind]), kind]),
);

function kindOfTyp(typ: unknown): TokenKind | null {
  return typeof typ === "string" ? (KIND_BY_TYP.get(normalizeTyp(typ)) ?? null) : null;
}

const toSeconds = (date: Date): number => Math.floor(date.getTime() / 1000);

const invalid = (message = "The token is not valid."): AppError => new AppError("TOKEN_INVALID", message);

/** A signing key ready to use: imported once and cached by the caller, never per token. */
export interface TokenSigningKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
}

export interface SignTokenInput {
  kind: TokenKind;
  key: TokenSigningKey;
  issuer: string;
  subject: string;
  jti: string;
  issuedAt: Date;
  expiresAt?: Date | null;
  notBefore?: Date | null;
  /** Extra claims. iss, aud, sub, jti, iat, exp and nbf in here are ignored. */
  claims?: Record<string, unknown>;
}

/**
 * Signs one of Admit's own tokens with protected header `{ alg, kid, typ }` and the registered
 * claims of its kind. Times are whole seconds.
 */
export async function signToken(input: SignTokenInput): Promise<string> {
  const { kind, key } = input;
  const payload: JWTPayload = {};
  if (input.claims) {
    for (const [name, value] of Object.entries(input.claims)) {
      if (!RESERVED_CLAIMS.has(name)) payload[name] = value;
    }
  }
  payload.iss = input.issuer;
  payload.aud = TOKEN_AUDIENCE[kind];
  payload.sub = input.subject;
  payload.jti = input.jti;
  payload.iat = toSeconds(input.issuedAt);
  if (input.expiresAt) payload.exp = toSeconds(input.expiresAt);
  if (input.notBefore) payload.nbf = toSeconds(input.notBefore);
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: TOKEN_TYP[kind] })
    .sign(key.privateKey);
}

/** What {@link peekToken} reads from a token before anything is verified. */
export interface TokenPeek {
  kind: TokenKind | null;
  kid: string | null;
  issuer: string | null;
}

/**
 * Reads kind, kid and issuer from a token WITHOUT verifying it, only to find which company's keys
 * to verify it with. Nothing returned here may be trusted until {@link verifyToken} succeeds.
 * @throws AppError TOKEN_INVALID when the token is not a well-formed compact JWT.
 */
export function peekToken(token: string): TokenPeek {
  const header = decodeHeader(token);
  let payload: JWTPayload;
  try {
    payload = decodeJwt(token);
    // decodeJwt ignores the signature; a token whose signature cannot even be base64url is junk.
    if (!BASE64URL.test(token.slice(token.lastIndexOf(".") + 1))) throw invalid();
  } catch {
    throw invalid();
  }
  return {
    kind: kindOfTyp(header.typ),
    kid: typeof header.kid === "string" && header.kid !== "" ? header.kid : null,
    issuer: typeof payload.iss === "string" ? payload.iss : null,
  };
}

/** A verification key, imported once and cached by the caller. */
export interface TokenVerificationKey {
  alg: SigningAlg;
  publicKey: CryptoKey;
}

export interface VerifyTokenOptions {
  /** The kinds accepted here; typ and aud must both name the same one of them. */
  kinds: TokenKind[];
  /** Exact expected `iss`. */
  issuer: string;
  /**
   * Finds the key for a kid among the issuer's keys; null when unknown. Errors it throws (a
   * database failure, say) are not token failures and pass through unchanged.
   */
  resolveKey: (kid: string) => Promise<TokenVerificationKey | null>;
  now: Date;
  /** Refuse tokens without `exp` (for every kind, or for the kinds the function names). Default true. */
  requireExp?: boolean | ((kind: TokenKind) => boolean);
  /**
   * Accept a token whose only fault is that it has expired, reporting `expired: true`. Everything
   * else (signature, kind, issuer, not-before) is still checked, as of a moment it was valid.
   * Only for callers whose own state decides what an old token may still do.
   */
  acceptExpired?: boolean;
}

export interface VerifiedToken {
  kind: TokenKind;
  header: JWTHeaderParameters;
  payload: JWTPayload;
  /** Only with `acceptExpired`: the token is past its exp (and the clock skew). */
  expired: boolean;
}

/**
 * Verifies one of Admit's own tokens under the rules of PRODUCT.md "Tokens": kind by typ and
 * audience, exact issuer, key by kid, algorithm pinned to the key's, 30 s clock skew, no
 * jku/x5u/jwk/x5c/crit headers, exp required unless `requireExp` is false.
 * @throws AppError TOKEN_EXPIRED, TOKEN_NOT_YET_VALID or TOKEN_INVALID; never a jose error.
 */
export async function verifyToken(token: string, opts: VerifyTokenOptions): Promise<VerifiedToken> {
  const header = decodeHeader(token);

  // Checked before any key is looked up: these headers let the author pick the key or add rules
  // we would not enforce.
  for (const name of FORBIDDEN_HEADERS) {
    if (Object.hasOwn(header, name)) throw invalid();
  }
  const kind = kindOfTyp(header.typ);
  if (kind === null || !opts.kinds.includes(kind)) {
    throw invalid("This token cannot be used here.");
  }
  const requireExp = typeof opts.requireExp === "function" ? opts.requireExp(kind) : (opts.requireExp ?? true);
  const kid = header.kid;
  if (typeof kid !== "string" || !BASE64URL.test(kid) || kid.length > MAX_KID_LENGTH) throw invalid();

  const key = await opts.resolveKey(kid);
  if (!key) throw invalid("The token was signed with a key that is not known.");
  // jose would refuse this too; failing here skips the signature work.
  if (header.alg !== key.alg) throw invalid();

  const verifyAt = (currentDate: Date) =>
    jwtVerify(token, key.publicKey, {
      algorithms: [key.alg],
      issuer: opts.issuer,
      audience: TOKEN_AUDIENCE[kind],
      typ: TOKEN_TYP[kind],
      clockTolerance: CLOCK_TOLERANCE_SECONDS,
      currentDate,
      crit: {},
      requiredClaims: requireExp ? ["exp"] : [],
    });
  let result: Awaited<ReturnType<typeof verifyAt>>;
  let expired = false;
  try {
    result = await verifyAt(opts.now);
  } catch (error) {
    // jose reports expiry only once the signature has verified; then check the rest again as of
    // a second before exp, when the token was valid.
    const exp = error instanceof errors.JWTExpired ? error.payload.exp : undefined;
    if (!opts.acceptExpired || !isFiniteNumber(exp)) throw fromJoseError(error);
    try {
      result = await verifyAt(new Date((exp - 1) * 1000));
    } catch (retryError) {
      throw fromJoseError(retryError);
    }
    expired = true;
  }
  const verifiedHeader: JWTHeaderParameters = result.protectedHeader;
  const payload: JWTPayload = result.payload;

  // jose accepts an aud array that merely contains ours; ours are always a single string.
  if (payload.aud !== TOKEN_AUDIENCE[kind]) throw invalid("This token cannot be used here.");
  if (payload.iss !== opts.issuer) throw invalid();
  if (!isBoundedString(payload.sub, MAX_SUB_LENGTH)) throw invalid();
  if (!isBoundedString(payload.jti, MAX_JTI_LENGTH)) throw invalid();
  if (!isFiniteNumber(payload.iat)) throw invalid();
  if (payload.exp !== undefined && !isFiniteNumber(payload.exp)) throw invalid();
  if (payload.nbf !== undefined && !isFiniteNumber(payload.nbf)) throw invalid();
  if (requireExp && payload.exp === undefined) throw invalid();

  return { kind, header: verifiedHeader, payload, expired };
}

function decodeHeader(token: string): ProtectedHeaderParameters {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
  try {
    // Throws a plain TypeError on malformed input, which must not surface as INTERNAL.
    return decodeProtectedHeader(token);
  } catch {
    throw invalid();
  }
}

const isBoundedString = (value: unknown, max: number): value is string =>
  typeof value === "string" && value.length > 0 && value.length <= max;

const isFiniteNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/** Maps every jose error code to a token error; anything that is not jose's is TOKEN_INVALID too. */
function fromJoseError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (!(error instanceof errors.JOSEError)) return invalid();
  const code = error.code as errors.JOSEErrorCode;
  switch (code) {
    case "ERR_JWT_EXPIRED":
      return new AppError("TOKEN_EXPIRED", "The token has expired.");
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      // Only a well-formed nbf that lies in the future; an nbf of the wrong type is just invalid.
      return error instanceof errors.JWTClaimValidationFailed && error.claim === "nbf" && error.reason === "check_failed"
        ? new AppError("TOKEN_NOT_YET_VALID", "The token is not valid yet.")
        : invalid();
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
    case "ERR_JWS_INVALID":
    case "ERR_JWT_INVALID":
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
    case "ERR_JOSE_GENERIC":
    case "ERR_JWE_DECRYPTION_FAILED":
    case "ERR_JWE_INVALID":
    case "ERR_JWK_INVALID":
    case "ERR_JWKS_INVALID":
    case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
    case "ERR_JWKS_NO_MATCHING_KEY":
    case "ERR_JWKS_TIMEOUT":
      return invalid();
    default: {
      // A code added by a future jose fails the type check here; at run time it is still invalid.
      const unhandled: never = code;
      void unhandled;
      return invalid();
    }
  }
}
