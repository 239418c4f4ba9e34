import type { FastifyRequest } from "fastify";
import type { Services } from "../container";
import { peekToken } from "../auth/tokens";
import { isAppError } from "../errors";
import type { Role } from "../graphql/enums";
import type { SessionEndReasonValue } from "../modules/session/session.entity";

/** The browser session cookie set by a login link. */
export const SESSION_COOKIE = "admit_session";

/** A cookie longer than this is not one of ours (our tokens are well under 2 KB). */
const MAX_COOKIE_VALUE_LENGTH = 8192;

/** Reasons the user chose: no redirect on expiry for them (logout has its own redirect). */
const NO_REDIRECT_REASONS: ReadonlySet<SessionEndReasonValue> = new Set(["LEFT", "LOGGED_OUT"]);

/**
 * Whether a browser request was started by another site, as its Sec-Fetch-Site header says:
 * `cross-site`, or `same-site` (another origin under the same registrable domain, such as a
 * sibling subdomain: as far as Admit can tell, another party). `same-origin` (Admit's own pages)
 * and `none` (typed, bookmarked, opened from another application) are not; neither is a request
 * without the header (a browser too old to send it, or a client that is not a browser), which
 * the routes that change state refuse by other means (logout wants a POST with our Origin).
 */
export function fromAnotherSite(request: FastifyRequest): boolean {
  const site = request.headers["sec-fetch-site"];
  if (site === undefined) return false;
  return site !== "same-origin" && site !== "none";
}

/**
 * How long after Admit wrote a session cookie a navigation from another site may still resume
 * it without asking: the redirect of a login link opened from a webmail is followed at once,
 * and is cross-site for its whole chain. Another site cannot make a cookie fresh: only Admit's
 * own pages and the redemption write it.
 */
export const FRESH_COOKIE_SECONDS = 30;

/**
 * What the `admit_session` cookie of a request says.
 *
 * - `none`: no cookie, or one that is not ours (does not verify, wrong kind, unknown session).
 *   `clearCookie` is a Set-Cookie value that deletes it when there was one.
 * - `live`: the cookie holds a session token (a login link with an event) and the session is
 *   live. A heartbeat has just been made (it re-checks everything join checked and moves
 *   last_seen_at): `sessionToken` is the refreshed token and `setCookie` the Set-Cookie value
 *   that stores it for another inactivity window; send it.
 * - `signedIn`: the cookie holds the company-wide sign-in of a login link without event (a join
 *   token that opens any event of the company, sliding over the inactivity window). `joinToken`
 *   is a fresh copy, usable as joinEvent's credential (JOIN_TOKEN); `setCookie` stores it.
 *   From another site (see {@link fromAnotherSite}) `setCookie` is null: the sign-in is not
 *   extended.
 * - `unconfirmed`: the cookie holds a session token and the request came from another site. No
 *   heartbeat is made and nothing is written: the token's signature is checked, nothing more
 *   (the session may have ended meanwhile). `fresh`: Admit wrote the cookie within
 *   FRESH_COOKIE_SECONDS (a login link's redirect being followed).
 * - `ended`: the session (or the sign-in) has ended. `redirectTo` is where to send the browser:
 *   the login link's redirectOnExpiryUrl, re-checked against the company's allowedRedirectOrigins
 *   as they are now, when it ended for any reason but LEFT or LOGGED_OUT; else null.
 */
export type CookieSession =
  | { kind: "none"; clearCookie: string | null }
  | {
      kind: "live";
      sessionToken: string;
      sessionTokenExpiresAt: Date | null;
      sessionId: string;
      eventId: string;
      companyId: string;
      userId: string;
      role: Role;
      ejectAt: Date | null;
      /** Where to send the browser if this session later expires (already checked); null: nowhere. */
      redirectOnExpiryUrl: string | null;
      setCookie: string;
    }
  | {
      kind: "signedIn";
      joinToken: string;
      joinTokenExpiresAt: Date;
      companyId: string;
      companySlug: string;
      userId: string;
      loginLinkId: string;
      redirectOnExpiryUrl: string | null;
      setCookie: string | null;
    }
  | {
      kind: "unconfirmed";
      sessionToken: string;
      sessionId: string;
      eventId: string;
      companyId: string;
      fresh: boolean;
    }
  | {
      kind: "ended";
      endReason: SessionEndReasonValue;
      redirectTo: string | null;
      companyId: string;
      /** Null for the company-wide sign-in, which is not a session. */
      sessionId: string | null;
      eventId: string | null;
    };

/** What a token in our cookie may contain (base64url and dots): nothing to encode or escape. */
const COOKIE_VALUE = /^[A-Za-z0-9._-]*$/;

/**
 * How long the browser keeps the cookie after the session's own window: a cookie that vanished
 * exactly when the session idled out could not bring the browser to redirectOnExpiryUrl. The
 * server decides whether the session is live; the extra day only lets it say that it ended.
 */
export const COOKIE_GRACE_SECONDS = 86_400;

/**
 * The Set-Cookie value that stores `value` for `windowSeconds` (plus COOKIE_GRACE_SECONDS):
 * HttpOnly, SameSite=Lax, Path=/, Secure when PUBLIC_URL is https. 0 deletes the cookie.
 */
export function sessionCookie(services: Services, value: string, windowSeconds: number): string {
  // Our values are JWTs; anything else would be a bug, and must not reach a header.
  if (!COOKIE_VALUE.test(value)) throw new Error("refusing to write a cookie value that is not a token");
  const maxAge = windowSeconds > 0 ? Math.floor(windowSeconds) + COOKIE_GRACE_SECONDS : 0;
  const parts = [`${SESSION_COOKIE}=${value}`, "HttpOnly", "SameSite=Lax", "Path=/", `Max-Age=${maxAge}`];
  if (services.loginLinks.secureCookies) parts.push("Secure");
  return parts.join("; ");
}

/** The Set-Cookie value that deletes the cookie (Max-Age=0, same attributes). */
export function clearedSessionCookie(services: Services): string {
  return sessionCookie(services, "", 0);
}

/**
 * The `admit_session` value of a request's Cookie header, or null. Only this one name is read:
 * pairs are split on ";", the name compared exactly after trimming spaces; the first occurrence
 * wins (as browsers send the most specific path first). A value that is not token-shaped, or
 * too long, is not ours: null.
 */
export function sessionCookieValue(request: FastifyRequest): string | null {
  const header = request.headers.cookie;
  if (typeof header !== "string" || header === "" || header.length > 4 * MAX_COOKIE_VALUE_LENGTH) return null;
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0 || pair.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    let value = pair.slice(eq + 1).trim();
    // RFC 6265 allows a quoted value.
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (value === "" || value.length > MAX_COOKIE_VALUE_LENGTH || !COOKIE_VALUE.test(value)) return null;
    return value;
  }
  return null;
}

/**
 * Reads the request's `admit_session` cookie (see {@link CookieSession}). Never throws for a bad
 * cookie; database trouble passes through. Each call on a live session is a heartbeat, unless
 * the request came from another site: then nothing is extended or changed.
 */
export async function readCookieSession(services: Services, request: FastifyRequest): Promise<CookieSession> {
  const header = request.headers.cookie;
  const value = sessionCookieValue(request);
  const none = (): CookieSession => ({
    kind: "none",
    clearCookie:
      typeof header === "string" && header.includes(`${SESSION_COOKIE}=`) ? clearedSessionCookie(services) : null,
  });
  if (!value) return none();

  let kind: string | null;
  try {
    kind = peekToken(value).kind;
  } catch (error) {
    if (isAppError(error)) return none();
    throw error;
  }

  if (kind === "join") {
    const state = await services.companySignIns.readCookie(value);
    if (!state) return none();
    if (state.kind === "ended") {
      return {
        kind: "ended",
        endReason: state.endReason,
        redirectTo: state.redirectTo,
        companyId: state.company.id,
        sessionId: null,
        eventId: null,
      };
    }
    return {
      kind: "signedIn",
      joinToken: state.token,
      joinTokenExpiresAt: state.expiresAt,
      companyId: state.company.id,
      companySlug: state.company.slug,
      userId: state.userId,
      loginLinkId: state.linkId,
      redirectOnExpiryUrl: state.redirectOnExpiryUrl,
      setCookie: fromAnotherSite(request)
        ? null
        : sessionCookie(services, state.token, state.company.sessionInactivityTimeoutSeconds),
    };
  }
  if (kind !== "session") return none();
  if (fromAnotherSite(request)) return (await unconfirmedSession(services, value)) ?? none();

  let state: Awaited<ReturnType<Services["sessions"]["heartbeat"]>>;
  try {
    state = await services.sessions.heartbeat(value);
  } catch (error) {
    if (isAppError(error)) return none();
    throw error;
  }
  const session = state.session;
  if (!state.active || !state.sessionToken) {
    const endReason = state.endReason ?? session.endReason ?? "INACTIVE";
    return {
      kind: "ended",
      endReason,
      redirectTo: NO_REDIRECT_REASONS.has(endReason)
        ? null
        : await services.loginLinks.redirectOnExpiryOf(session.companyId, session.credentialJti),
      companyId: session.companyId,
      sessionId: session.id,
      eventId: session.eventId,
    };
  }
  const company = await services.companies.cachedCompany("id", session.companyId);
  const maxAge = company?.sessionInactivityTimeoutSeconds ?? 14_400;
  return {
    kind: "live",
    sessionToken: state.sessionToken,
    sessionTokenExpiresAt: state.sessionTokenExpiresAt,
    sessionId: session.id,
    eventId: session.eventId,
    companyId: session.companyId,
    userId: session.userId,
    role: state.role,
    ejectAt: state.ejectAt,
    redirectOnExpiryUrl: await services.loginLinks.redirectOnExpiryOf(session.companyId, session.credentialJti),
    setCookie: sessionCookie(services, state.sessionToken, maxAge),
  };
}

/** A session cookie read for a request from another site: its token verified, nothing written. */
async function unconfirmedSession(services: Services, value: string): Promise<CookieSession | null> {
  let verified: Awaited<ReturnType<Services["tokens"]["verify"]>>;
  try {
    verified = await services.tokens.verify(value, ["session"], { acceptExpired: true });
  } catch (error) {
    if (isAppError(error)) return null;
    throw error;
  }
  const { company, payload } = verified;
  if (typeof payload.sub !== "string" || typeof payload.evt !== "string") return null;
  const age = services.loginLinks.now().getTime() / 1000 - (payload.iat ?? 0);
  return {
    kind: "unconfirmed",
    sessionToken: value,
    sessionId: payload.sub,
    eventId: payload.evt,
    companyId: company.id,
    fresh: !verified.expired && age >= -30 && age <= FRESH_COOKIE_SECONDS,
  };
}
