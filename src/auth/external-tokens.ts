import type { LookupAddress } from "node:dns";
import { lookup as dnsLookup } from "node:dns/promises";
import http, { ClientRequest } from "node:http";
import https from "node:https";
import { isIP, LookupFunction } from "node:net";
import { createRemoteJWKSet, customFetch, decodeJwt, decodeProtectedHeader, errors, jwtVerify } from "jose";
import type {
  CryptoKey,
  FetchImplementation,
  JWTHeaderParameters,
  JWTPayload,
  JWTVerifyGetKey,
  ProtectedHeaderParameters,
} from "jose";
import { AppError } from "../errors";
import { MAX_TOKEN_LENGTH } from "./tokens";

/**
 * Verification of tokens Admit did not sign: partner JWTs (HS256 with a partner secret, or a
 * partner's own asymmetric keys) and OIDC ID tokens. The rules of docs/tokens.md apply:
 * algorithms pinned, `exp` required, 30 s clock skew, no `jku`/`x5u`/`jwk`/`x5c`/`crit` headers.
 * Every failure is an AppError (TOKEN_INVALID, TOKEN_EXPIRED, TOKEN_NOT_YET_VALID), never a jose
 * error or a TypeError.
 */

/** Clock skew allowed on exp, nbf and iat, in seconds. */
export const EXTERNAL_CLOCK_SKEW_SECONDS = 30;
/** ID tokens are not bounded by the partner rule; this only keeps dates storable. */
export const ID_TOKEN_MAX_LIFETIME_SECONDS = 366 * 24 * 3600;

/** Algorithms a JWKS-backed issuer (an OIDC provider, a partner's own keys) may use. */
export const ASYMMETRIC_ALGS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
] as const;
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
  if (!BASE64URL.test(token.slice(token.lastIndexOf(".") + 1)))
    throw tokenInvalid("The token is not a well-formed JWT.");
  for (const name of FORBIDDEN_HEADERS) {
    if (Object.hasOwn(header, name)) throw tokenInvalid(`The token's header may not carry "${name}".`);
  }
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== "string" || kid.length === 0 || kid.length > MAX_KID_LENGTH))
    throw tokenInvalid();
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
  /**
   * The only `aud` accepted when the token carries one (see {@link audienceMatches}); a token
   * without `aud` passes. For tokens whose key already binds them to one company (HS256 partner
   * secrets), so that a token minted for another service is not accepted here.
   */
  audienceWhenPresent?: string;
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
 * and iss/aud when given (aud also when the token carries one and `audienceWhenPresent` is given). Claims other than those are the caller's to type-check.
 * @throws AppError TOKEN_EXPIRED, TOKEN_NOT_YET_VALID or TOKEN_INVALID.
 */
export async function verifyExternalToken(token: string, opts: VerifyExternalOptions): Promise<VerifiedExternalToken> {
  const peek = peekExternalToken(token);
  if (!peek.alg || !opts.algorithms.includes(peek.alg))
    throw tokenInvalid("The token is signed with an algorithm that is not accepted here.");
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
        ? await jwtVerify(token, opts.key, options)
        : await jwtVerify(token, opts.key, options);
  } catch (error) {
    throw fromJoseError(error);
  }
  const { payload, protectedHeader } = result;
  const nowSeconds = opts.now.getTime() / 1000;
  const exp = payload.exp;
  if (!isFiniteNumber(exp)) throw tokenInvalid("The token must carry exp.");
  if (exp > nowSeconds + opts.maxLifetimeSeconds + EXTERNAL_CLOCK_SKEW_SECONDS) {
    throw tokenInvalid(`The token's exp may be at most ${opts.maxLifetimeSeconds} seconds ahead.`);
  }
  let issuedAt: Date | null = null;
  if (payload.iat !== undefined) {
    // An iat in the future would also slip past revokeUserTokens (which compares issue times).
    if (!isFiniteNumber(payload.iat) || payload.iat < 0 || payload.iat > nowSeconds + EXTERNAL_CLOCK_SKEW_SECONDS) {
      throw tokenInvalid("The token's iat is not a time in the past.");
    }
    issuedAt = new Date(Math.floor(payload.iat) * 1000);
  }
  if (opts.audience !== undefined && !audienceMatches(payload, opts.audience))
    throw tokenInvalid("The token is meant for another audience.");
  if (
    opts.audienceWhenPresent !== undefined &&
    payload.aud !== undefined &&
    !audienceMatches(payload, opts.audienceWhenPresent)
  ) {
    throw tokenInvalid("The token is meant for another audience.");
  }
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
  /** Which addresses the JWKS host may resolve to (see {@link JwksAddressPolicy}). */
  addresses: JwksAddressPolicy;
  /**
   * Told why a fetch failed (timeout, refused address, connection error, bad JSON…), for a debug
   * log: the caller sees one generic message only. The detail names no token and no secret.
   */
  onFetchFailure?: (detail: string) => void;
  /** Resolves host names (tests pass a fake); dns.lookup with all: true by default. */
  resolver?: HostResolver;
}

/** One message for every failure to get the keys, so that the answer is no port-scan oracle. */
export const JWKS_UNAVAILABLE_MESSAGE = "The issuer's keys (JWKS) could not be obtained; try again shortly.";

/**
 * A JWKS fetched from a URI (jose createRemoteJWKSet: cached, refetched when a token names an
 * unknown kid after the cooldown, abandoned after the timeout). Fetched with node:http(s) through
 * {@link jwksFetch}: redirects are not followed, documents over 256 KB are refused, and the host
 * may only resolve to public addresses (loopback too when the policy allows it). Every failure to
 * obtain the keys is the same TOKEN_INVALID ({@link JWKS_UNAVAILABLE_MESSAGE}); its detail goes to
 * `onFetchFailure`. A key set that does not hold the token's key is TOKEN_INVALID that says so.
 */
export function remoteKeySet(url: string, options: RemoteKeySetOptions): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(new URL(url), {
    timeoutDuration: options.timeoutMs,
    cooldownDuration: options.cooldownMs,
    cacheMaxAge: options.cacheMaxAgeMs,
    [customFetch]: jwksFetch(options.addresses, options.resolver),
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      if (error instanceof errors.JWKSNoMatchingKey)
        throw tokenInvalid("The token was signed with a key the issuer does not publish.");
      if (error instanceof errors.JWKSMultipleMatchingKeys)
        throw tokenInvalid("The token names no kid and the issuer publishes several keys.");
      // Timeout, refused address, connection refused, TLS, non-200, not JSON, not a JWKS, too
      // large: one answer for all (the detail is logged, not shown).
      options.onFetchFailure?.(failureDetail(error));
      throw tokenInvalid(JWKS_UNAVAILABLE_MESSAGE);
    }
  };
}

/** What went wrong, for the debug log: an error's code or name and message, bounded. */
function failureDetail(error: unknown): string {
  // Duck-typed: errors of node's own modules need not be instances of this realm's Error.
  const text = (value: unknown, key: string): string | null => {
    const field = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
    return typeof field === "string" ? field : null;
  };
  const message = text(error, "message");
  if (message === null) return "unknown failure";
  const causeMessage = text((error as { cause?: unknown }).cause, "message");
  const cause = causeMessage ? ` (${causeMessage})` : "";
  return `${text(error, "code") ?? text(error, "name") ?? "Error"}: ${message}${cause}`.slice(0, 300);
}

// -------------------------------------------------------------------------------------------------
// JWKS fetches that cannot reach the inside of the network (SSRF)

/**
 * Which addresses a JWKS host may resolve to. Public addresses always; loopback only when
 * `allowLoopback` (outside production: tests and local development run their JWKS on 127.0.0.1).
 * Private, link-local, unique-local, shared (CGNAT), multicast, unspecified, reserved and NAT64
 * addresses are refused everywhere.
 */
export interface JwksAddressPolicy {
  allowLoopback: boolean;
}

/** What kind of address an IP literal is, for {@link JwksAddressPolicy}. */
export type AddressClass =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "unique-local"
  | "shared"
  | "multicast"
  | "unspecified"
  | "reserved"
  | "nat64"
  | "invalid";

/** Resolves a host name to every address it has (dns.lookup with all: true). */
export type HostResolver = (hostname: string, family: 0 | 4 | 6) => Promise<LookupAddress[]>;

const defaultResolver: HostResolver = (hostname, family) => dnsLookup(hostname, { all: true, family });

/** A fetch refused or failed on our side; its message is only ever logged. */
export class JwksFetchError extends Error {
  override name = "JwksFetchError";
}

function ipv4Class(a: number, b: number, c: number): AddressClass {
  if (a === 0) return "unspecified"; // 0.0.0.0/8 "this network"
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 169 && b === 254) return "link-local";
  if (a === 100 && b >= 64 && b <= 127) return "shared"; // 100.64.0.0/10, carrier-grade NAT
  if (a >= 224 && a <= 239) return "multicast";
  if (a >= 240) return "reserved"; // 240.0.0.0/4 and the broadcast address
  if (a === 192 && b === 0 && (c === 0 || c === 2)) return "reserved"; // IETF assignments, TEST-NET-1
  if (a === 198 && (b === 18 || b === 19)) return "reserved"; // benchmarking
  if ((a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)) return "reserved"; // TEST-NET-2, -3
  return "public";
}

/** The 16 bytes of an IPv6 literal that net.isIP accepted (zone ids dropped). */
function ipv6Bytes(literal: string): number[] {
  let text = literal.split("%")[0].toLowerCase();
  let v4: number[] | null = null;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".", lastColon)) {
    v4 = text
      .slice(lastColon + 1)
      .split(".")
      .map(Number);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, null];
  const groups = (part: string) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const left = groups(head);
  const right = tail === null ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = all.flatMap((g) => [g >> 8, g & 0xff]);
  if (v4) bytes.splice(12, 4, ...v4);
  return bytes;
}

/**
 * The host of a URL Admit will fetch or POST to, as the address rules see it: its class (an IP
 * literal's range, else "invalid" for a name) and whether it is loopback (an IP literal, or
 * localhost / *.localhost, with or without the final dot). The early check of a JWKS URI and of a
 * webhook URL; every connection still checks the addresses it reaches.
 */
export function outboundHost(url: URL): { kind: AddressClass; loopback: boolean } {
  const host = url.hostname
    .replace(/^\[|\]$/g, "")
    .toLowerCase()
    .replace(/\.$/, "");
  const kind = classifyAddress(host);
  return { kind, loopback: host === "localhost" || host.endsWith(".localhost") || kind === "loopback" };
}

/**
 * Classifies an IP literal (IPv4 or IPv6, IPv4-mapped and other IPv4-embedding forms by the IPv4
 * address they carry). Anything that is not an IP literal is "invalid".
 */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 4) {
    const [a, b, c] = address.split(".").map(Number);
    return ipv4Class(a, b, c);
  }
  if (family !== 6) return "invalid";
  const x = ipv6Bytes(address);
  const zeros = (from: number, to: number) => x.slice(from, to).every((byte) => byte === 0);
  if (zeros(0, 16)) return "unspecified";
  if (zeros(0, 15) && x[15] === 1) return "loopback";
  // ::ffff:a.b.c.d (IPv4-mapped): the IPv4 address it names.
  if (zeros(0, 10) && x[10] === 0xff && x[11] === 0xff) return ipv4Class(x[12], x[13], x[14]);
  // ::a.b.c.d (IPv4-compatible, deprecated) and ::ffff:0:a.b.c.d (IPv4-translated): refused.
  if (zeros(0, 12) || (zeros(0, 8) && x[8] === 0xff && x[9] === 0xff && zeros(10, 12))) return "reserved";
  // 64:ff9b::/96 (well-known NAT64) and 64:ff9b:1::/48 (local-use NAT64) reach IPv4 hosts behind a translator.
  if (x[0] === 0x00 && x[1] === 0x64 && x[2] === 0xff && x[3] === 0x9b && (zeros(4, 12) || (x[4] === 0 && x[5] === 1)))
    return "nat64";
  if ((x[0] & 0xfe) === 0xfc) return "unique-local"; // fc00::/7
  if (x[0] === 0xfe && (x[1] & 0xc0) === 0x80) return "link-local"; // fe80::/10
  if (x[0] === 0xfe && (x[1] & 0xc0) === 0xc0) return "private"; // fec0::/10, deprecated site-local
  if (x[0] === 0xff) return "multicast";
  // 2002::/16 (6to4) carries an IPv4 address: refused when that one would be.
  if (x[0] === 0x20 && x[1] === 0x02) {
    const inner = ipv4Class(x[2], x[3], x[4]);
    return inner === "public" ? "public" : inner;
  }
  if (x[0] === 0x20 && x[1] === 0x01 && x[2] === 0x00 && x[3] === 0x00) return "reserved"; // Teredo 2001::/32
  if (x[0] === 0x20 && x[1] === 0x01 && x[2] === 0x0d && x[3] === 0xb8) return "reserved"; // documentation
  if (x[0] === 0x01 && zeros(1, 8)) return "reserved"; // 100::/64 discard
  return "public";
}

/** Why this address may not be fetched from under the policy, or null when it may. */
export function refusedAddress(address: string, policy: JwksAddressPolicy): string | null {
  const kind = classifyAddress(address);
  if (kind === "public" || (kind === "loopback" && policy.allowLoopback)) return null;
  return `${kind} address`;
}

/**
 * A net `lookup` that resolves every address of the host and refuses the connection when any of
 * them is refused by the policy. The connection goes to the addresses checked here (no second
 * resolution an attacker's DNS could answer differently).
 */
export function guardedLookup(policy: JwksAddressPolicy, resolver: HostResolver = defaultResolver): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 4 || options.family === 6 ? options.family : 0;
    const fail = (error: Error) => (options.all ? callback(error, []) : callback(error, "", 0));
    resolver(hostname, family).then(
      (addresses) => {
        if (addresses.length === 0) return fail(new JwksFetchError("the host has no address"));
        for (const { address } of addresses) {
          const refusal = refusedAddress(address, policy);
          if (refusal) return fail(new JwksFetchError(`the host resolves to a ${refusal}, which is refused`));
        }
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0].address, addresses[0].family);
      },
      (error: Error) => fail(error),
    );
  };
}

/**
 * jose's customFetch: GET with node:http(s), the host's addresses checked by
 * {@link guardedLookup} (IP literals checked directly: node does not look them up), no redirects
 * (anything but 200 fails), at most MAX_JWKS_BYTES of body, aborted with jose's signal.
 */
export function jwksFetch(policy: JwksAddressPolicy, resolver: HostResolver = defaultResolver): FetchImplementation {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      let settled = false;
      let request: ClientRequest | null = null;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        init.signal.removeEventListener("abort", onAbort);
        request?.destroy();
        reject(error);
      };
      const onAbort = () =>
        fail(
          new JwksFetchError(
            `the fetch was abandoned (${(init.signal.reason as { name?: string } | undefined)?.name ?? "aborted"})`,
          ),
        );
      if (init.signal.aborted) return onAbort();
      init.signal.addEventListener("abort", onAbort, { once: true });

      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return fail(new JwksFetchError("the JWKS URI is not a URL"));
      }
      const client = target.protocol === "https:" ? https : target.protocol === "http:" ? http : null;
      if (!client) return fail(new JwksFetchError("the JWKS URI is neither https nor http"));
      const host = target.hostname.replace(/^\[|\]$/g, "");
      if (isIP(host)) {
        const refusal = refusedAddress(host, policy);
        if (refusal) return fail(new JwksFetchError(`the host is a ${refusal}, which is refused`));
      }
      const headers: Record<string, string> = {};
      init.headers.forEach((value, name) => (headers[name] = value));
      request = client.request(
        target,
        { method: "GET", headers, agent: false, lookup: guardedLookup(policy, resolver) },
        (response) => {
          const status = response.statusCode ?? 0;
          if (status !== 200) {
            response.resume();
            return fail(new JwksFetchError(`the JWKS answered HTTP ${status} (redirects are not followed)`));
          }
          const declared = Number(response.headers["content-length"]);
          if (Number.isFinite(declared) && declared > MAX_JWKS_BYTES)
            return fail(new JwksFetchError("the JWKS is too large"));
          const chunks: Buffer[] = [];
          let size = 0;
          response.on("data", (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_JWKS_BYTES) fail(new JwksFetchError("the JWKS is too large"));
            else chunks.push(chunk);
          });
          response.on("error", (error) => fail(error));
          response.on("close", () => {
            if (!response.complete) fail(new JwksFetchError("the JWKS answer was cut short"));
          });
          response.on("end", () => {
            if (settled) return;
            settled = true;
            init.signal.removeEventListener("abort", onAbort);
            resolve(
              new Response(Buffer.concat(chunks), { status: 200, headers: { "content-type": "application/json" } }),
            );
          });
        },
      );
      request.on("error", (error) => fail(error));
      request.end();
    });
}

const isFiniteNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/** Maps jose's errors to token errors; anything else that is not an AppError is TOKEN_INVALID too. */
function fromJoseError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (!(error instanceof errors.JOSEError)) return tokenInvalid();
  if (error instanceof errors.JWTExpired) return new AppError("TOKEN_EXPIRED", "The token has expired.");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf" && error.reason === "check_failed")
      return new AppError("TOKEN_NOT_YET_VALID", "The token is not valid yet.");
    if (error.claim === "exp" && error.reason === "missing") return tokenInvalid("The token must carry exp.");
    if (error.claim === "iss") return tokenInvalid("The token comes from another issuer.");
    if (error.claim === "aud") return tokenInvalid("The token is meant for another audience.");
    return tokenInvalid(`The token's ${error.claim} claim is not valid.`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed)
    return tokenInvalid("The token is signed with an algorithm that is not accepted here.");
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return tokenInvalid("The token's signature does not verify.");
  return tokenInvalid();
}
