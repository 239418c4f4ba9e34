import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Services } from "../container";
import { peekToken } from "../auth/tokens";
import { AppError, isAppError } from "../errors";
import type { VerifiedLoginLink } from "../modules/login-link/login-link.service";
import { clearedSessionCookie, readCookieSession, sessionCookie, sessionCookieValue } from "./cookie-session";
import { escapeHtml, htmlPage } from "./page";

// The page markup (and its style) lives in ./page, shared by every HTML page Admit serves.
export { escapeHtml, htmlPage };

/**
 * Browser routes of one-time login links and logout:
 *
 * - GET /login/<code>  redeems a link: 303 with the `admit_session` cookie, or one 410 page
 * - GET /session       what the cookie says, as JSON (the embed page polls it)
 * - POST /logout       ends the cookie's session, clears it, redirects only to an allowed origin
 * - GET /logout        the same from Admit's own pages; from anywhere else a page that asks
 * - GET /logged-out    the local page logout falls back to
 * (GET /c/:slug/, the company page a link without event opens, is in company-page.routes.ts.)
 *
 * No GET started by another site changes or extends the cookie's session (readCookieSession
 * reads it without a heartbeat then); a login link is the one exception, by design: it is one
 * click from an email.
 */
export function registerLoginRoutes(fastify: FastifyInstance, services: Services): void {
  const { loginLinks, companySignIns, sessions } = services;
  const publicUrl = loginLinks.publicUrl;
  const publicOrigin = new URL(publicUrl).origin;

  // A wildcard, not a parameter: whatever follows /login/ (too long for a route parameter, with a
  // trailing slash…) gets the same 410 page, and the access log shows only "/login/*". No HEAD
  // twin: a HEAD (a link checker, a mail scanner) must never redeem a link.
  fastify.get<{ Params: { "*": string } }>("/login/*", { exposeHeadRoute: false }, async (request, reply) => {
    noStore(reply);
    let verified: VerifiedLoginLink;
    try {
      verified = await loginLinks.verifyCode(request.params["*"]);
    } catch (error) {
      if (isLinkFailure(error)) return linkGone(reply);
      throw error;
    }

    if (verified.link.eventId === null) {
      let signedIn: { token: string };
      try {
        signedIn = await companySignIns.redeem(verified);
      } catch (error) {
        if (isLinkFailure(error)) return linkGone(reply);
        throw error;
      }
      return reply
        .header("set-cookie", sessionCookie(services, signedIn.token, verified.company.sessionInactivityTimeoutSeconds))
        .redirect(`${publicUrl}/c/${encodeURIComponent(verified.company.slug)}/`, 303);
    }

    let joined: Awaited<ReturnType<typeof sessions.joinAdmitted>>;
    let eventSlug: string;
    try {
      const event = await loginLinks.eventOfLink(verified);
      eventSlug = event.slug;
      joined = await sessions.joinAdmitted(loginLinks.admissionOf(verified, event, "caller"));
    } catch (error) {
      if (isAppError(error) && error.code === "LOGIN_LINK_USED") {
        // Lost the race to another request, or presented again: the consumption rolled back with
        // the join; the reuse is handled now, in its own statements.
        await loginLinks.handleReuse(verified.link.id);
        return linkGone(reply);
      }
      if (isLinkFailure(error)) return linkGone(reply);
      if (isAppError(error)) return joinRefused(reply, error);
      throw error;
    }
    return reply
      .header(
        "set-cookie",
        sessionCookie(services, joined.sessionToken, verified.company.sessionInactivityTimeoutSeconds),
      )
      .redirect(`${publicUrl}/j/${encodeURIComponent(eventSlug)}`, 303);
  });

  fastify.get("/session", async (request, reply) => {
    noStore(reply);
    const state = await readCookieSession(services, request);
    switch (state.kind) {
      case "none":
        if (state.clearCookie) reply.header("set-cookie", state.clearCookie);
        return { state: "none", redirectTo: null };
      case "ended":
        return {
          state: "ended",
          endReason: state.endReason,
          redirectTo: state.redirectTo,
          sessionId: state.sessionId,
          eventId: state.eventId,
        };
      case "unconfirmed":
        // From another site: what the cookie's token says, nothing refreshed.
        return { state: "unconfirmed", redirectTo: null, sessionId: state.sessionId, eventId: state.eventId };
      case "live":
        reply.header("set-cookie", state.setCookie);
        return {
          state: "live",
          redirectTo: null,
          sessionId: state.sessionId,
          eventId: state.eventId,
          role: state.role,
          ejectAt: state.ejectAt,
          redirectOnExpiryUrl: state.redirectOnExpiryUrl,
        };
      case "signedIn":
        if (state.setCookie) reply.header("set-cookie", state.setCookie);
        return {
          state: "signedIn",
          redirectTo: null,
          companySlug: state.companySlug,
          userId: state.userId,
          expiresAt: state.joinTokenExpiresAt,
          redirectOnExpiryUrl: state.redirectOnExpiryUrl,
        };
    }
  });

  /**
   * Ends the cookie's session and sends the browser to `wanted` when the company allows it; else
   * where the login link it came from sends it on expiry (as one-time login URIs promise); else
   * to Admit's own "signed out" page.
   */
  async function logOutAndRedirect(request: FastifyRequest, reply: FastifyReply, wanted: unknown) {
    const ended = await logOut(services, request);
    const target =
      ended && typeof wanted === "string" ? await loginLinks.allowedRedirect(ended.companyId, wanted) : null;
    return reply
      .header("set-cookie", clearedSessionCookie(services))
      .redirect(target ?? ended?.redirectOnExpiry ?? `${publicUrl}/logged-out`, 303);
  }

  // A link or an image elsewhere must not sign anyone out: a GET ends the session only when it
  // comes from Admit's own pages (Sec-Fetch-Site: same-origin). Anything else, including a
  // browser that does not say, gets a page whose button posts the logout.
  fastify.get<{ Querystring: { redirectTo?: unknown } }>("/logout", async (request, reply) => {
    noStore(reply);
    if (request.headers["sec-fetch-site"] === "same-origin")
      return logOutAndRedirect(request, reply, request.query.redirectTo);
    return confirmLogout(reply, 200, request.query.redirectTo);
  });

  // The POST that the page's button (and the landing page's) sends: accepted only from this
  // origin, by Sec-Fetch-Site or, from a browser without it, by Origin. SameSite=Lax keeps the
  // cookie off cross-site POSTs already, not off POSTs from another origin of the same site.
  void fastify.register(async (scope) => {
    scope.addContentTypeParser(
      "application/x-www-form-urlencoded",
      { parseAs: "string", bodyLimit: 4096 },
      (_request, body, done) => done(null, formFields(body as string)),
    );
    scope.post<{ Body: unknown; Querystring: { redirectTo?: unknown } }>("/logout", async (request, reply) => {
      noStore(reply);
      const body =
        typeof request.body === "object" && request.body !== null ? (request.body as Record<string, unknown>) : {};
      const wanted = body.redirectTo ?? request.query.redirectTo;
      const site = request.headers["sec-fetch-site"];
      const fromHere = site !== undefined ? site === "same-origin" : request.headers.origin === publicOrigin;
      if (!fromHere) return confirmLogout(reply, 403, wanted);
      return logOutAndRedirect(request, reply, wanted);
    });
  });

  fastify.get("/logged-out", async (_request, reply) => {
    return htmlPage(reply, 200, "Signed out", "<h1>You are signed out</h1><p>You can close this window.</p>");
  });
}

/**
 * Ends what the request's cookie holds: a session as LOGGED_OUT (one conditional UPDATE; a
 * session a time limit already ended is left to be recorded as that), or the company-wide
 * sign-in of a link without event (its jti revoked). Returns the cookie's company and the login
 * link's redirectOnExpiryUrl (still allowed), or null when the cookie holds nothing of ours.
 */
async function logOut(
  services: Services,
  request: FastifyRequest,
): Promise<{ companyId: string; redirectOnExpiry: string | null } | null> {
  const value = sessionCookieValue(request);
  if (!value) return null;
  try {
    const kind = peekToken(value).kind;
    if (kind === "session") {
      const { company, sessionId } = await services.sessions.sessionOfToken(value);
      await services.loginLinks.endSession(sessionId, company.id, "LOGGED_OUT");
      return {
        companyId: company.id,
        redirectOnExpiry: await services.loginLinks.redirectOnExpiryOfSession(company.id, sessionId),
      };
    }
    if (kind === "join") {
      const state = await services.companySignIns.readCookie(value);
      if (!state) return null;
      if (state.kind === "live") await services.companySignIns.revokeCookie(state.company.id, state.linkId);
      return {
        companyId: state.company.id,
        redirectOnExpiry: state.kind === "live" ? state.redirectOnExpiryUrl : state.redirectTo,
      };
    }
    return null;
  } catch (error) {
    if (isAppError(error)) return null;
    throw error;
  }
}

/** A form body's fields; a repeated name is an array (which no redirect accepts), as in a query. */
function formFields(body: string): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    const seen = fields[name];
    fields[name] = seen === undefined ? value : [...(Array.isArray(seen) ? seen : [seen]), value];
  }
  return fields;
}

export const SIGN_OUT_FORM = `<form method="post" action="/logout"><button type="submit">Sign out</button></form>`;

/**
 * The page that asks before signing out: a GET from elsewhere, or a POST that did not come from
 * this origin. Nothing is ended. Its form may post here and follow the logout's redirect to the
 * origin asked for (Chrome applies form-action to the redirect too); the POST checks that origin
 * against the company's list as always.
 */
function confirmLogout(reply: FastifyReply, status: number, wanted: unknown) {
  const redirectTo = typeof wanted === "string" && wanted.length <= 2048 ? wanted : null;
  const field = redirectTo === null ? "" : `<input type="hidden" name="redirectTo" value="${escapeHtml(redirectTo)}">`;
  return htmlPage(
    reply,
    status,
    "Sign out?",
    `<h1>Sign out?</h1><p>A link asked to sign you out. Nothing has changed yet.</p>` +
      `<form method="post" action="/logout">${field}<button type="submit">Sign out</button></form>`,
    { formAction: redirectTo === null ? [] : [originOf(redirectTo)].filter((o): o is string => o !== null) },
  );
}

/** The origin of an http(s) URL as a CSP source, or null. */
function originOf(url: string): string | null {
  try {
    const parsed = new URL(url);
    return (parsed.protocol === "https:" || parsed.protocol === "http:") && /^[a-z0-9.:[\]-]+$/i.test(parsed.host)
      ? parsed.origin
      : null;
  } catch {
    return null;
  }
}

/** Failures of the code itself: one page for all, so that nothing tells them apart. */
const LINK_FAILURES = new Set([
  "LOGIN_LINK_USED",
  "LOGIN_LINK_EXPIRED",
  "TOKEN_REVOKED",
  "INVALID_CREDENTIALS",
  "TOKEN_INVALID",
]);

function isLinkFailure(error: unknown): error is AppError {
  return isAppError(error) && LINK_FAILURES.has(error.code);
}

/** The one answer to a code that cannot be used: used, expired, revoked, unknown or malformed. */
const LINK_GONE_BODY =
  "<h1>This sign-in link can no longer be used</h1>" +
  "<p>Sign-in links work once, for a short time. This one has already been used, has expired or was revoked.</p>" +
  "<p>Ask for a new link where you got this one.</p>";

function linkGone(reply: FastifyReply) {
  return htmlPage(reply, 410, "Sign-in link no longer valid", LINK_GONE_BODY);
}

/** A join refused for a reason that is not the code's: the link is not consumed and may be opened again. */
const JOIN_REFUSALS: Partial<Record<string, { status: number; sentence: string }>> = {
  EVENT_ENDED: { status: 403, sentence: "This event has ended." },
  EVENT_FULL: { status: 409, sentence: "This event is full right now. Try the link again in a moment." },
  ALREADY_IN_SESSION: {
    status: 409,
    sentence:
      "You are already in this event in another window or on another device. Leave it there, then open the link again.",
  },
  SEAT_LIMIT_REACHED: { status: 403, sentence: "This organization has no seats left." },
  USER_SUSPENDED: { status: 403, sentence: "Your account is suspended. Ask the organization that invited you." },
};

function joinRefused(reply: FastifyReply, error: AppError) {
  const known = JOIN_REFUSALS[error.code];
  return htmlPage(
    reply,
    known?.status ?? 400,
    "Cannot join",
    `<h1>You cannot join right now</h1><p>${escapeHtml(known?.sentence ?? error.message)}</p>`,
  );
}

function noStore(reply: FastifyReply): void {
  reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer");
}

/**
 * A request path as the access log may show it when no route matched (matched routes are logged
 * by their pattern, `/login/*`): anything long enough to be a secret (a login code, a token)
 * is blanked, wherever it sits (`/login/<code>/`, `//LOGIN/<code>`).
 */
export function redactPath(path: string): string {
  return path.replace(/[A-Za-z0-9_%.~-]{32,}/g, "[redacted]");
}
