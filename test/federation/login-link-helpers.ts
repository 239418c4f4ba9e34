import { ok, GqlResponse, TestApp } from "../support/harness";
import { TestCompany } from "../support/factories";

export const LINK_FIELDS = "id url status userId eventId redirectOnExpiryUrl expiresAt createdAt usedAt revokedAt";

export const CREATE_LINK = `mutation($input: CreateLoginLinkInput!) { createLoginLink(input: $input) { ${LINK_FIELDS} } }`;
export const REVOKE_LINK = `mutation($id: ID!) { revokeLoginLink(id: $id) { ${LINK_FIELDS} } }`;
export const GET_LINK = `query($id: ID!) { loginLink(id: $id) { ${LINK_FIELDS} } }`;

export interface Link {
  id: string;
  url: string | null;
  status: "ACTIVE" | "USED" | "EXPIRED" | "REVOKED";
  userId: string;
  eventId: string | null;
  redirectOnExpiryUrl: string | null;
  expiresAt: string;
  createdAt: string;
  usedAt: string | null;
  revokedAt: string | null;
}

export function createLinkRaw(t: TestApp, company: TestCompany, input: Record<string, unknown>): Promise<GqlResponse> {
  return t.gql(CREATE_LINK, { input }, { key: company.key });
}

export async function createLink(
  t: TestApp,
  company: TestCompany,
  input: Record<string, unknown>,
): Promise<Link & { url: string; code: string }> {
  const link: Link = ok(await createLinkRaw(t, company, input)).createLoginLink;
  if (!link.url) throw new Error("createLoginLink returned no url");
  return { ...link, url: link.url, code: link.url.slice(link.url.lastIndexOf("/") + 1) };
}

export async function readLink(t: TestApp, company: TestCompany, id: string): Promise<Link | null> {
  return ok(await t.gql(GET_LINK, { id }, { key: company.key })).loginLink;
}

export interface BrowserResponse {
  status: number;
  headers: Headers;
  body: string;
  location: string | null;
  setCookies: string[];
}

/** What a test reads of an answer to a browser-like request. */
async function browserResponseOf(response: Response): Promise<BrowserResponse> {
  return {
    status: response.status,
    headers: response.headers,
    body: await response.text(),
    location: response.headers.get("location"),
    setCookies: response.headers.getSetCookie(),
  };
}

/** A browser-like GET that does not follow redirects, with an optional admit_session cookie. */
export async function browserGet(
  t: TestApp,
  path: string,
  cookie?: string | null,
  extraHeaders: Record<string, string> = {},
): Promise<BrowserResponse> {
  const headers: Record<string, string> = { accept: "text/html", ...extraHeaders };
  if (cookie) headers.cookie = `admit_session=${cookie}`;
  const response = await fetch(`${t.url}${path}`, { redirect: "manual", headers });
  return browserResponseOf(response);
}

/**
 * POST /logout as Admit's own sign-out buttons send it: form-encoded, Sec-Fetch-Site: same-origin
 * (`extraHeaders` may say otherwise; null leaves a header out). `path` may carry ?redirectTo=; `body` is the form's fields.
 */
export async function postLogout(
  t: TestApp,
  path: string,
  cookie?: string | null,
  extraHeaders: Record<string, string | null> = {},
  body = "",
): Promise<BrowserResponse> {
  const merged: Record<string, string | null> = {
    accept: "text/html",
    "content-type": "application/x-www-form-urlencoded",
    "sec-fetch-site": "same-origin",
    ...extraHeaders,
  };
  // null: a header the browser does not send at all.
  const headers = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== null));
  if (cookie) headers.cookie = `admit_session=${cookie}`;
  const response = await fetch(`${t.url}${path}`, { method: "POST", redirect: "manual", headers, body });
  return browserResponseOf(response);
}

/** GET /login/<code> as the browser does when the user opens the link. */
export function openLink(t: TestApp, code: string): Promise<BrowserResponse> {
  return browserGet(t, `/login/${code}`);
}

export interface ParsedCookie {
  name: string;
  value: string;
  /** Attribute names lower-cased → value ("" for flags). */
  attributes: Record<string, string>;
}

export function parseSetCookie(header: string): ParsedCookie {
  const [pair, ...attrs] = header.split(";").map((part) => part.trim());
  const eq = pair.indexOf("=");
  const attributes: Record<string, string> = {};
  for (const attr of attrs) {
    const at = attr.indexOf("=");
    attributes[(at < 0 ? attr : attr.slice(0, at)).toLowerCase()] = at < 0 ? "" : attr.slice(at + 1);
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes };
}

/** The admit_session cookie a response sets; fails when there is none. */
export function sessionCookieOf(response: BrowserResponse): ParsedCookie {
  const cookie = response.setCookies.map(parseSetCookie).find((c) => c.name === "admit_session");
  if (!cookie)
    throw new Error(`no admit_session cookie in ${JSON.stringify(response.setCookies)} (status ${response.status})`);
  return cookie;
}

/** The payload of a JWT, unverified (the test reads the session id from a session token). */
export function jwtPayload(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

export interface SessionRow {
  id: string;
  user_id: string;
  event_id: string;
  credential_type: string;
  credential_jti: string | null;
  ended_at: Date | null;
  end_reason: string | null;
}

export async function sessionRow(t: TestApp, id: string): Promise<SessionRow> {
  const [row] = await t.db.dataSource.query("SELECT * FROM sessions WHERE id = $1", [id]);
  return row;
}

export async function sessionsOfLink(t: TestApp, linkId: string): Promise<SessionRow[]> {
  return t.db.dataSource.query("SELECT * FROM sessions WHERE credential_jti = $1 ORDER BY joined_at", [linkId]);
}

export async function linkRow(t: TestApp, id: string): Promise<Record<string, any>> {
  const [row] = await t.db.dataSource.query("SELECT * FROM login_links WHERE id = $1", [id]);
  return row;
}

/** GET /session with a cookie: what the embed page learns. */
export async function sessionState(
  t: TestApp,
  cookie: string,
): Promise<{ status: number; body: Record<string, any>; response: BrowserResponse }> {
  const response = await browserGet(t, "/session", cookie, { accept: "application/json" });
  return { status: response.status, body: JSON.parse(response.body), response };
}
