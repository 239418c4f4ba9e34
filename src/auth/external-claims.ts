import { createHash } from "node:crypto";
import { isStorable } from "../db/storable";
import type { AppError } from "../errors";
import { tokenInvalid } from "./external-tokens";

/**
 * Reading the claims of tokens Admit did not sign (partner JWTs, OIDC ID tokens), once
 * external-tokens has verified them. Every refusal is TOKEN_INVALID naming the claim: a bad claim
 * is the token's fault, not the caller's input.
 */

/** A jti is kept on the session and in revocations: at most this long. */
export const MAX_JTI = 128;
/** An external id (the partner's or the provider's user id) is at most this long. */
export const MAX_EXTERNAL_ID = 255;

export const malformedClaim = (what: string): AppError => tokenInvalid(`The token's ${what} claim is malformed.`);

export const isClaimObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** A string claim: absent → undefined; otherwise a non-empty storable string of at most `max`, or TOKEN_INVALID. */
export function stringClaim(
  payload: Record<string, unknown>,
  name: string,
  max: number,
  label = name,
): string | undefined {
  const value = payload[name];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.length === 0 || value.length > max || !isStorable(value))
    throw malformedClaim(label);
  return value;
}

/** An id claim: a string, or a whole number (many systems number their users), as text. */
export function idClaim(payload: Record<string, unknown>, name: string, label = name): string | undefined {
  const value = payload[name];
  if (typeof value === "number" && Number.isSafeInteger(value)) return String(value);
  return stringClaim(payload, name, MAX_EXTERNAL_ID, label);
}

/** The token's own jti (a string of at most MAX_JTI characters), or null without one. */
export function jtiClaim(payload: Record<string, unknown>): string | null {
  return stringClaim(payload, "jti", MAX_JTI) ?? null;
}

/**
 * The jti a token without one is known by: `sha256:` and the hex SHA-256 of the whole compact
 * token (71 characters). A ban (endSession ban: true) revokes it, which refuses that very token
 * and no other; revokeToken takes it too.
 */
export function syntheticJti(token: string): string {
  return `sha256:${createHash("sha256").update(token, "utf8").digest("hex")}`;
}
