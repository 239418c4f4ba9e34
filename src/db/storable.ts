/** A NUL, or half of a surrogate pair: PostgreSQL refuses both in text and jsonb. */
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether PostgreSQL can store this text or JSON value (every string and key in it). Input that
 * fails this must be refused as the caller's mistake, never reach SQL as an INTERNAL error.
 */
export function isStorable(value: unknown): boolean {
  if (typeof value === "string") return !UNSTORABLE.test(value);
  if (Array.isArray(value)) return value.every(isStorable);
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).every(([key, inner]) => !UNSTORABLE.test(key) && isStorable(inner));
  }
  return true;
}
