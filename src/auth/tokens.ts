import { KeyObject } from "node:crypto";
import { createDecoder, createSigner, createVerifier, TokenError } from "fast-jwt";
import type { TokenValidationErrorCode } from "fast-jwt";
import type { CryptoKey, JWTHeaderParameters, JWTPayload, ProtectedHeaderParameters } from "jose";
import { AppError } from "../errors";
import { isSigningAlg, SigningAlg } from "./signing-keys";

/** The kinds of token Admit mints itself (docs/tokens.md). */
export type TokenKind = "join" | "registration" | "session" | "report";

/** Each kind has its own `typ` header, so one kind is never accepted where another is expected. */
export const TOKEN_TYP: Readonly<Record<TokenKind, string>> = Object.freeze({
  join: "join+jwt",
  registration: "registration+jwt",
  session: "session+jwt",
  report: "report+jwt",
});

/** Each kind also has its own audience; verification requires typ and aud to name the same kind. */
export const TOKEN_AUDIENCE: Readonly<Record<TokenKind, string>> = Object.freeze({
  join: "admit:join",
  registration: "admit:registration",
  session: "admit:session",
  report: "admit:report",
});

/** Clock skew allowed on exp and nbf, in seconds. */
const CLOCK_TOLERANCE_SECONDS = 30;
/** Claims every one of our tokens carries (exp too, unless the caller allows tokens without it). */
const REQUIRED_CLAIMS = ["iss", "aud", "sub", "jti", "iat"];
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

/** typ is compared case-insensitively with an implied "application/", as jose and fast-jwt do (RFC 7515 §4.1.9). */
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

/**
 * A key as the caller caches it: a node:crypto KeyObject or a WebCrypto CryptoKey. Either way the
 * fast-jwt signers and verifiers made from it are kept with it (see {@link keptFor}).
 */
export type TokenKey = KeyObject | CryptoKey;

/** A signing key ready to use: imported once and cached by the caller, never per token. */
export interface TokenSigningKey<K extends TokenKey = TokenKey> {
  kid: string;
  alg: SigningAlg;
  privateKey: K;
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
  /**
   * The `aud`, for kinds whose audience a company sets (session tokens: a media server pins it);
   * default the kind's own.
   */
  audience?: string;
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
  payload.aud = input.audience ?? TOKEN_AUDIENCE[kind];
  payload.sub = input.subject;
  payload.jti = input.jti;
  payload.iat = toSeconds(input.issuedAt);
  if (input.expiresAt) payload.exp = toSeconds(input.expiresAt);
  if (input.notBefore) payload.nbf = toSeconds(input.notBefore);
  return signerFor(key, kind)(payload);
}

type Signer = (payload: JWTPayload) => string;

/**
 * fast-jwt takes keys only as PEM and parses one in about 0.5 ms (OpenSSL's PEM decoder), ten
 * times a signature: so a signer is made once per key and kind, with the kind's typ in its header.
 */
function signerFor(key: TokenSigningKey, kind: TokenKind): Signer {
  const kept = keptFor(key.privateKey);
  const found = kept.signers.get(kind);
  if (found && found.kid === key.kid && found.alg === key.alg) return found.sign;
  const sign: Signer = createSigner({
    key: pem(key.privateKey, "private"),
    algorithm: key.alg,
    kid: key.kid,
    header: { alg: key.alg, typ: TOKEN_TYP[kind] },
  });
  kept.signers.set(kind, { kid: key.kid, alg: key.alg, sign });
  return sign;
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
  const { header, payload } = decode(token);
  return {
    kind: kindOfTyp(header.typ),
    kid: typeof header.kid === "string" && header.kid !== "" ? header.kid : null,
    issuer: typeof payload.iss === "string" ? payload.iss : null,
  };
}

/** A verification key, imported once and cached by the caller. */
export interface TokenVerificationKey {
  alg: SigningAlg;
  publicKey: TokenKey;
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
  /**
   * The audiences accepted for a kind, when not only the kind's own (session tokens, whose
   * audience the company sets). Never another kind's: typ and aud still name one kind.
   */
  audiences?: (kind: TokenKind) => readonly string[] | null;
}

export interface VerifiedToken {
  kind: TokenKind;
  header: JWTHeaderParameters;
  payload: JWTPayload;
  /** Only with `acceptExpired`: the token is past its exp (and the clock skew). */
  expired: boolean;
}

/**
 * Verifies one of Admit's own tokens under the rules of docs/tokens.md: kind by typ and
 * audience, exact issuer, key by kid, algorithm pinned to the key's, 30 s clock skew, no
 * jku/x5u/jwk/x5c/crit headers, exp required unless `requireExp` is false.
 * @throws AppError TOKEN_EXPIRED, TOKEN_NOT_YET_VALID or TOKEN_INVALID; never a fast-jwt error.
 */
export async function verifyToken(token: string, opts: VerifyTokenOptions): Promise<VerifiedToken> {
  const { header } = decode(token);

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
  // fast-jwt would refuse this too; failing here skips the signature work, and a key whose alg is
  // not one of ours never becomes a verifier.
  if (!isSigningAlg(key.alg) || header.alg !== key.alg) throw invalid();

  // Signature, pinned alg, crit, typ, the presence of every claim we need, iss and aud: none of
  // them depends on the time.
  const audiences = acceptedAudiences(kind, opts.audiences?.(kind) ?? null);
  let verified: { header: JWTHeaderParameters; payload: JWTPayload };
  try {
    verified = verifierFor(key, kind, opts.issuer, requireExp, audiences)(token);
  } catch (error) {
    throw fromFastJwtError(error);
  }
  const payload = verified.payload;

  // fast-jwt accepts an aud array that merely contains ours; ours are always a single string.
  if (typeof payload.aud !== "string" || !audiences.includes(payload.aud))
    throw invalid("This token cannot be used here.");
  if (payload.iss !== opts.issuer) throw invalid();
  if (!isBoundedString(payload.sub, MAX_SUB_LENGTH)) throw invalid();
  if (!isBoundedString(payload.jti, MAX_JTI_LENGTH)) throw invalid();
  if (!isFiniteNumber(payload.iat)) throw invalid();
  if (payload.exp !== undefined && !isFiniteNumber(payload.exp)) throw invalid();
  if (payload.nbf !== undefined && !isFiniteNumber(payload.nbf)) throw invalid();
  if (requireExp && payload.exp === undefined) throw invalid();

  // As jose did: whole seconds, nbf before exp, the skew on both sides.
  const now = toSeconds(opts.now);
  const { exp, nbf } = payload;
  if (nbf !== undefined && nbf > now + CLOCK_TOLERANCE_SECONDS) throw notYetValid();
  let expired = false;
  if (exp !== undefined && exp <= now - CLOCK_TOLERANCE_SECONDS) {
    if (!opts.acceptExpired) throw new AppError("TOKEN_EXPIRED", "The token has expired.");
    // Everything else was checked whatever the time; nbf is checked again as of a second before
    // exp, when the token was valid.
    if (nbf !== undefined && nbf > exp - 1 + CLOCK_TOLERANCE_SECONDS) throw notYetValid();
    expired = true;
  }
  return { kind, header: verified.header, payload, expired };
}

/** The kind's own audience and those given, less any other kind's (so kinds never cross). */
function acceptedAudiences(kind: TokenKind, given: readonly string[] | null): readonly string[] {
  if (!given) return [TOKEN_AUDIENCE[kind]];
  const others = (Object.keys(TOKEN_AUDIENCE) as TokenKind[]).filter((k) => k !== kind).map((k) => TOKEN_AUDIENCE[k]);
  return [...new Set([TOKEN_AUDIENCE[kind], ...given.filter((a) => !others.includes(a))])];
}

type Verifier = (token: string) => { header: JWTHeaderParameters; payload: JWTPayload };

/** A key's verifiers are few (kinds × issuer); past this they start over rather than grow. */
const MAX_VERIFIERS_PER_KEY = 16;

/**
 * A verifier is made once per key, kind, issuer and exp rule: making one parses the PEM key, which
 * costs about as much as a verification. fast-jwt fixes its clock when a verifier is made, so the
 * times are compared in {@link verifyToken} against the caller's clock instead.
 */
function verifierFor(
  key: TokenVerificationKey,
  kind: TokenKind,
  issuer: string,
  requireExp: boolean,
  audiences: readonly string[],
): Verifier {
  const kept = keptFor(key.publicKey);
  const id = `${key.alg} ${kind} ${requireExp} ${issuer} ${audiences.join(" ")}`;
  const found = kept.verifiers.get(id);
  if (found) return found;
  const verify: Verifier = createVerifier({
    key: pem(key.publicKey, "public"),
    algorithms: [key.alg],
    allowedIss: issuer,
    allowedAud: [...audiences],
    checkTyp: TOKEN_TYP[kind],
    requiredClaims: requireExp ? [...REQUIRED_CLAIMS, "exp"] : REQUIRED_CLAIMS,
    allowedCritHeaders: [],
    ignoreExpiration: true,
    ignoreNotBefore: true,
    complete: true,
  });
  if (kept.verifiers.size >= MAX_VERIFIERS_PER_KEY) kept.verifiers.clear();
  kept.verifiers.set(id, verify);
  return verify;
}

/** What fast-jwt objects a key has: they live as long as the caller keeps the key. */
interface Kept {
  signers: Map<TokenKind, { kid: string; alg: SigningAlg; sign: Signer }>;
  verifiers: Map<string, Verifier>;
}

const keptByKey = new WeakMap<TokenKey, Kept>();

function keptFor(key: TokenKey): Kept {
  let found = keptByKey.get(key);
  if (!found) {
    found = { signers: new Map(), verifiers: new Map() };
    keptByKey.set(key, found);
  }
  return found;
}

/** fast-jwt takes keys as PEM only. */
function pem(key: TokenKey, type: "private" | "public"): string {
  const object = key instanceof KeyObject ? key : KeyObject.from(key);
  if (object.type !== type) throw new Error(`A ${type} key is needed here.`);
  return object
    .export(type === "private" ? { format: "pem", type: "pkcs8" } : { format: "pem", type: "spki" })
    .toString();
}

const decodeComplete: (token: string) => { header: ProtectedHeaderParameters; payload: JWTPayload; signature: string } =
  createDecoder({ complete: true });

/** Header and payload of a compact JWT, unverified. */
function decode(token: string): { header: ProtectedHeaderParameters; payload: JWTPayload } {
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw invalid();
  let decoded: ReturnType<typeof decodeComplete>;
  try {
    decoded = decodeComplete(token);
  } catch {
    // fast-jwt throws its TokenError (or a JSON SyntaxError it wraps) on junk; never INTERNAL.
    throw invalid();
  }
  // None of ours is unsigned; an empty signature is junk even before verification.
  if (decoded.signature === "") throw invalid();
  return decoded;
}

const notYetValid = (): AppError => new AppError("TOKEN_NOT_YET_VALID", "The token is not valid yet.");

const isBoundedString = (value: unknown, max: number): value is string =>
  typeof value === "string" && value.length > 0 && value.length <= max;

const isFiniteNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/** Maps every fast-jwt error code to a token error; anything that is not fast-jwt's is TOKEN_INVALID too. */
function fromFastJwtError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (!(error instanceof TokenError)) return invalid();
  const code: TokenValidationErrorCode = error.code;
  switch (code) {
    case "FAST_JWT_EXPIRED":
      return new AppError("TOKEN_EXPIRED", "The token has expired.");
    case "FAST_JWT_INACTIVE":
      return notYetValid();
    case "FAST_JWT_INVALID_TYPE":
    case "FAST_JWT_INVALID_OPTION":
    case "FAST_JWT_INVALID_ALGORITHM":
    case "FAST_JWT_INVALID_CLAIM_TYPE":
    case "FAST_JWT_INVALID_CLAIM_VALUE":
    case "FAST_JWT_INVALID_KEY":
    case "FAST_JWT_INVALID_SIGNATURE":
    case "FAST_JWT_INVALID_PAYLOAD":
    case "FAST_JWT_MALFORMED":
    case "FAST_JWT_MISSING_KEY":
    case "FAST_JWT_KEY_FETCHING_ERROR":
    case "FAST_JWT_SIGN_ERROR":
    case "FAST_JWT_VERIFY_ERROR":
    case "FAST_JWT_MISSING_REQUIRED_CLAIM":
    case "FAST_JWT_MISSING_SIGNATURE":
    case "FAST_JWT_INVALID_CRIT_HEADER":
      return invalid();
    default: {
      // A code added by a future fast-jwt fails the type check here; at run time it is still invalid.
      const unhandled: never = code;
      void unhandled;
      return invalid();
    }
  }
}
