import { AppError } from "../errors";

/** Longest redirect URL accepted (the login_links column holds 2048). */
export const MAX_REDIRECT_URL_LENGTH = 2048;

/**
 * Anything a browser or a URL parser may strip, fold or reinterpret: C0/C1 controls, DEL, every
 * kind of whitespace (tab and newline are removed by WHATWG parsing, which is how
 * `https://allowed\n.evil` tricks work) and backslashes (`/\evil` is `//evil` to a browser).
 */
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\s\\]/;

/**
 * `scheme://authority` at the very start, the authority up to the first `/`, `?` or `#`. Only
 * http and https, written out with both slashes: `//evil`, `https:/evil`, `https:evil`,
 * `javascript:` and `data:` fail here.
 */
const ABSOLUTE_HTTP = /^(https?):\/\/([^/?#]*)/i;

/**
 * What the authority may contain: a host name or IPv4 address, an [IPv6] literal, a port. No
 * userinfo (`@`), no percent-encoding (`evil%2F@allowed`, `allowed%2ecom`), nothing outside
 * printable ASCII (an internationalised allowed origin is stored in its xn-- form).
 */
const PLAIN_AUTHORITY = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/**
 * The URL to redirect to when `url` may be used as a redirect for a company whose allow-list
 * is `allowedOrigins`; null otherwise.
 *
 * Accepted only: an absolute http(s) URL with no userinfo, whose origin (WHATWG URL: scheme,
 * host, port) is exactly one of the allowed origins (as stored by updateCompanySettings:
 * `https://app.example.com`, default port left out). Anything a parser could read two ways is
 * refused before parsing. The answer is the parsed URL serialized again, so the Location header
 * carries exactly what was checked.
 */
export function checkRedirect(url: unknown, allowedOrigins: readonly string[]): string | null {
  if (typeof url !== "string" || url.length === 0 || url.length > MAX_REDIRECT_URL_LENGTH) return null;
  if (UNSAFE_CHARACTERS.test(url)) return null;
  const head = ABSOLUTE_HTTP.exec(url);
  if (!head || !PLAIN_AUTHORITY.test(head[2])) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return null;
  if (parsed.username !== "" || parsed.password !== "") return null;
  if (!allowedOrigins.includes(parsed.origin)) return null;
  return parsed.href;
}

/**
 * checkRedirect for API input: the URL to store, or REDIRECT_NOT_ALLOWED naming the field. The
 * message does not echo the URL.
 */
export function requireRedirect(field: string, url: string, allowedOrigins: readonly string[]): string {
  const checked = checkRedirect(url, allowedOrigins);
  if (checked === null) {
    throw new AppError(
      "REDIRECT_NOT_ALLOWED",
      `${field} must be an absolute http(s) URL, without credentials, on an origin in the company's allowedRedirectOrigins.`,
      { field },
    );
  }
  return checked;
}
