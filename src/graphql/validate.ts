import { badInput } from "../errors";

/** Input rules shared by the services. Each failure is BAD_USER_INPUT naming the field. */

export const MAX_NAME_LENGTH = 200;
export const MAX_METADATA_CHARS = 8192;

export function requiredText(field: string, value: string, max = MAX_NAME_LENGTH): string {
  const trimmed = value.trim();
  if (trimmed.length === 0) throw badInput(field, `${field} must not be empty.`);
  if (trimmed.length > max) throw badInput(field, `${field} must be at most ${max} characters.`);
  return trimmed;
}

export function optionalText(field: string, value: string | null | undefined, max = MAX_NAME_LENGTH): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed.length === 0) return null;
  if (trimmed.length > max) throw badInput(field, `${field} must be at most ${max} characters.`);
  return trimmed;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Emails are kept as given and matched by their trimmed, lower-cased form. */
export function normalizeEmail(field: string, value: string): { email: string; normalized: string } {
  const email = value.trim();
  if (email.length > 320 || !EMAIL.test(email)) throw badInput(field, `${field} is not a valid email address.`);
  return { email, normalized: email.toLowerCase() };
}

export function optionalEmail(field: string, value: string | null | undefined) {
  if (value === null || value === undefined || value.trim() === "") return null;
  return normalizeEmail(field, value);
}

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

export function slug(field: string, value: string): string {
  if (!SLUG.test(value)) {
    throw badInput(
      field,
      `${field} must be 1 to 64 lower-case letters, digits or dashes, not starting or ending with a dash.`,
    );
  }
  return value;
}

/** A slug made from a name: "Q3 All-Hands!" → "q3-all-hands". */
export function slugify(name: string): string {
  const base = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 48)
    .replace(/-+$/g, "");
  return base || "event";
}

export function intInRange(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(field, `${field} must be a whole number from ${min} to ${max}.`);
  }
  return value;
}

export function metadata(
  field: string,
  value: Record<string, unknown> | null | undefined,
  maxChars = MAX_METADATA_CHARS,
): Record<string, unknown> | null {
  if (value === null || value === undefined) return null;
  if (typeof value !== "object" || Array.isArray(value)) throw badInput(field, `${field} must be a JSON object.`);
  if (JSON.stringify(value).length > maxChars) {
    throw badInput(field, `${field} must be at most ${maxChars} characters once serialized.`);
  }
  return value;
}

export function httpUrl(field: string, value: string, max = 2048): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badInput(field, `${field} must be an absolute http(s) URL.`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || value.length > max) {
    throw badInput(field, `${field} must be an absolute http(s) URL of at most ${max} characters.`);
  }
  return value;
}

/** An origin exactly as browsers send it: scheme://host[:port], nothing else. */
export function origin(field: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badInput(field, `${field} must be origins like https://app.example.com.`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.origin !== value.replace(/\/$/, "")) {
    throw badInput(field, `${field} must be origins like https://app.example.com (no path, no credentials).`);
  }
  return url.origin;
}

export function dateOrder(field: string, start: Date | null, end: Date | null): void {
  if (start && end && end.getTime() <= start.getTime()) throw badInput(field, `${field} must be after the start.`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are uuids; anything else names no row, and must not reach SQL as a cast error. */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}
