import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Opaque secrets (API keys, login-link codes, poll secrets): 256 random bits, shown once,
 * stored as a SHA-256 beside a short lookup prefix, checked in constant time.
 */
export interface OpaqueSecret {
  /** The whole secret: shown to the caller once, never stored. */
  secret: string;
  /** Stored in clear and indexed, so the row is found without scanning hashes. */
  lookup: string;
  /** SHA-256 of the whole secret, hex. */
  hash: string;
}

const LOOKUP_LENGTH = 12;

export function generateOpaqueSecret(prefix = ""): OpaqueSecret {
  const body = randomBytes(32).toString("base64url");
  const secret = `${prefix}${body}`;
  return { secret, lookup: body.slice(0, LOOKUP_LENGTH), hash: hashSecret(secret) };
}

/** The lookup part of a presented secret, or null when it cannot be one of ours. */
export function lookupOf(presented: string, prefix = ""): string | null {
  if (!presented.startsWith(prefix)) return null;
  const body = presented.slice(prefix.length);
  if (body.length !== 43 || !/^[A-Za-z0-9_-]+$/.test(body)) return null;
  return body.slice(0, LOOKUP_LENGTH);
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function secretMatches(presented: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(presented), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}
