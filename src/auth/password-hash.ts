import { randomBytes } from "node:crypto";
import * as argon2 from "argon2";
import { badInput } from "../errors";

/**
 * Managed passwords (F7): argon2id, stored as a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash)
 * that carries its own parameters and salt. Verification reads the parameters from the stored
 * string, so raising PASSWORD_HASH_PARAMS later leaves older hashes verifiable (and they are
 * upgraded at the next successful login, see needsRehash).
 *
 * Parameters: OWASP's argon2id baseline, 19 MiB of memory, 2 passes, 1 lane (about 20-40 ms on
 * one core here). One lane keeps a burst of logins from taking every core of a 2-core node.
 */
export const PASSWORD_HASH_PARAMS = Object.freeze({
  type: argon2.argon2id,
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

export const MIN_PASSWORD_CODE_POINTS = 12;
export const MAX_PASSWORD_CODE_POINTS = 256;

/** A NUL, or half of a surrogate pair: they would not survive UTF-8, so two passwords could hash alike. */
const UNENCODABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * The password as it is hashed: Unicode NFC, so the same text typed on two keyboards (a
 * precomposed "é" or "e" + accent) is the same password. Length is counted in code points.
 * @throws BAD_USER_INPUT on `field` when it breaks the rules.
 */
export function validateNewPassword(field: string, password: string): string {
  const normalized = password.normalize("NFC");
  const length = [...normalized].length;
  if (length < MIN_PASSWORD_CODE_POINTS || length > MAX_PASSWORD_CODE_POINTS) {
    throw badInput(
      field,
      `${field} must be ${MIN_PASSWORD_CODE_POINTS} to ${MAX_PASSWORD_CODE_POINTS} characters long.`,
    );
  }
  if (normalized.trim() === "") throw badInput(field, `${field} must not be only spaces.`);
  if (UNENCODABLE.test(normalized))
    throw badInput(field, `${field} contains characters that cannot be used (NUL or a broken surrogate pair).`);
  return normalized;
}

export function hashPassword(validated: string): Promise<string> {
  return argon2.hash(validated, PASSWORD_HASH_PARAMS);
}

/**
 * Whether `presented` is the password of `storedHash`. A presented password that no password
 * could be (too long, unencodable) is still run through the hash, so it costs the same time.
 * A stored string argon2 cannot read counts as a mismatch, never as an error the caller sees.
 */
export async function verifyPassword(storedHash: string, presented: string): Promise<boolean> {
  const normalized = presented.normalize("NFC");
  const possible = [...normalized].length <= MAX_PASSWORD_CODE_POINTS && !UNENCODABLE.test(normalized);
  const candidate = possible ? normalized : [...normalized].slice(0, MAX_PASSWORD_CODE_POINTS).join("");
  try {
    const matches = await argon2.verify(storedHash, candidate);
    return matches && possible;
  } catch {
    return false;
  }
}

/** Whether a stored hash was made with other parameters than today's (it is rehashed at login). */
export function needsRehash(storedHash: string): boolean {
  try {
    return argon2.needsRehash(storedHash, PASSWORD_HASH_PARAMS);
  } catch {
    return false;
  }
}

let dummy: Promise<string> | null = null;

/**
 * A hash of a random password with today's parameters, made once per process: a login for an
 * unknown user, or a user without a password, is verified against it, so it takes as long as a
 * wrong password does.
 */
export function dummyPasswordHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(24).toString("base64url"));
  dummy.catch(() => (dummy = null));
  return dummy;
}
