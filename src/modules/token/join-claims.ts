import type { JWTPayload } from "jose";
import { AppError, badInput } from "../../errors";
import { Role } from "../../graphql/enums";
import { isStorable } from "../../db/storable";
import { validateProfile } from "../user/user.service";

/*
 * The claims of Admit's join tokens, read and checked for type: pure functions shared by the token
 * service (mint, validate), admission (joinEvent) and the modules that store what a token carries.
 */

/** What a verified join token says (claims checked for type before use). */
export interface JoinClaims {
  jti: string;
  issuedAt: Date;
  expiresAt: Date | null;
  externalId: string;
  eventId: string | null;
  profile: {
    name?: string | null;
    email?: string | null;
    avatarUrl?: string | null;
    metadata?: Record<string, unknown> | null;
  };
  roleGrant: Role | null;
  ejectAfterElapsedSeconds: number | null;
  ejectAtTokenExpiry: boolean;
  metadata: Record<string, unknown>;
}

export const MAX_TOKEN_METADATA_CHARS = 1000;

/** BAD_USER_INPUT on `field` unless the value can be stored. */
export function requireStorable<T>(field: string, value: T): T {
  if (!isStorable(value))
    throw badInput(field, `${field} contains characters that cannot be stored (NUL or a broken surrogate pair).`);
  return value;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const optionalString = (value: unknown, max: number): string | null | undefined => {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== "string" || value.length > max)
    throw new AppError("TOKEN_INVALID", "The token's claims are malformed.");
  return value;
};

/** Reads the claims of a verified join token, refusing any of the wrong type. */
export function parseJoinClaims(payload: JWTPayload): JoinClaims {
  const bad = () => new AppError("TOKEN_INVALID", "The token's claims are malformed.");
  const usr = payload.usr === undefined ? {} : payload.usr;
  if (!isRecord(usr)) throw bad();
  const md = payload.md === undefined ? {} : payload.md;
  if (!isRecord(md)) throw bad();
  if (usr.metadata !== undefined && usr.metadata !== null && !isRecord(usr.metadata)) throw bad();
  const role = payload.role;
  if (role !== undefined && !(typeof role === "string" && role in Role)) throw bad();
  const ejs = payload.ejs;
  if (ejs !== undefined && !(Number.isInteger(ejs) && (ejs as number) > 0)) throw bad();
  const eje = payload.eje;
  if (eje !== undefined && typeof eje !== "boolean") throw bad();
  const evt = optionalString(payload.evt, 64);
  return {
    jti: payload.jti!,
    issuedAt: new Date(payload.iat! * 1000),
    expiresAt: typeof payload.exp === "number" ? new Date(payload.exp * 1000) : null,
    externalId: payload.sub!,
    eventId: evt ?? null,
    profile: {
      name: optionalString(usr.name, 200),
      email: optionalString(usr.email, 320),
      avatarUrl: optionalString(usr.avatarUrl, 2048),
      metadata: usr.metadata,
    },
    roleGrant: (role as Role | undefined) ?? null,
    ejectAfterElapsedSeconds: (ejs as number | undefined) ?? null,
    ejectAtTokenExpiry: eje === true,
    metadata: md,
  };
}

/**
 * The claims of a verified join token and the user they name, every one checked for type: a
 * token whose claims do not hold up is TOKEN_INVALID (at join and in validateToken alike).
 */
export function joinTokenOf(payload: JWTPayload): { claims: JoinClaims; profile: ReturnType<typeof validateProfile> } {
  const claims = parseJoinClaims(payload);
  try {
    if (!isStorable(claims.externalId) || !isStorable(claims.profile) || !isStorable(claims.metadata))
      throw new Error("unstorable");
    return { claims, profile: validateProfile({ externalId: claims.externalId, ...claims.profile }) };
  } catch {
    throw new AppError("TOKEN_INVALID", "The token's user claims are malformed.");
  }
}
