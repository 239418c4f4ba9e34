import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Services } from "../container";
import { peekToken } from "../auth/tokens";
import { AppError, isAppError } from "../graphql/errors";
import type { VerifiedLoginLink } from "../modules/federation/login-link.service";
import { clearedSessionCookie, readCookieSession, sessionCookie, sessionCookieValue } from "./cookie-session";

/**
 * Browser routes of one-time login links (F4) and logout (F10):
 *
 * - GET /login/<code>  redeems a link: 303 with the `admit_session` cookie, or one 410 page
 * - GET /session       what the cookie says, as JSON (the embed page polls it)
 * - GET /logout        ends the cookie's session, clears it, redirects only to an allowed origin
 * - GET /logged-out    the local page logout falls back to
 * - GET /c/:slug/      the company landing page a link without event opens
 */
export function registerLoginRoutes(fastify: FastifyInstance, services: Services): void {
  const { loginLinks, sessions } = services;
  const publicUrl = loginLinks.publicUrl;

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
        signedIn = await loginLinks.redeemWithoutEvent(verified);
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
      .header("set-cookie", sessionCookie(services, joined.sessionToken, verified.company.sessionInactivityTimeoutSeconds))
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
        return { state: "ended", endReason: state.endReason, redirectTo: state.redirectTo, sessionId: state.sessionId, eventId: state.eventId };
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
        reply.header("set-cookie", state.setCookie);
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

  fastify.get<{ Querystring: { redirectTo?: unknown } }>("/logout", async (request, reply) => {
    noStore(reply);
    const companyId = await logOut(services, request);
    const wanted = request.query.redirectTo;
    const target = companyId && typeof wanted === "string" ? await loginLinks.allowedRedirect(companyId, wanted) : null;
    return reply
      .header("set-cookie", clearedSessionCookie(services))
      .redirect(target ?? `${publicUrl}/logged-out`, 303);
  });

  fastify.get("/logged-out", async (_request, reply) => {
    return htmlPage(reply, 200, "Signed out", "<h1>You are signed out</h1><p>You can close this window.</p>");
  });

  fastify.get<{ Params: { slug: string } }>("/c/:slug/", async (request, reply) => {
    noStore(reply);
    const company = /^[a-z0-9-]{1,64}$/.test(request.params.slug) ? await services.companies.cachedCompany("slug", request.params.slug) : null;
    if (!company) return htmlPage(reply, 404, "Not found", "<h1>Not found</h1><p>There is nothing at this address.</p>");
    const state = await readCookieSession(services, request);
    const ours = state.kind !== "none" && state.companyId === company.id;
    if (ours && state.kind === "ended" && state.redirectTo) return reply.redirect(state.redirectTo, 303);
    if (ours && (state.kind === "signedIn" || state.kind === "live")) {
      reply.header("set-cookie", state.setCookie);
      const who = await services.loginLinks.describeUser(state.userId);
      return htmlPage(
        reply,
        200,
        company.name,
        `<h1>${escapeHtml(company.name)}</h1><p>You are signed in as <strong>${escapeHtml(who)}</strong>.</p>` +
          `<p><a href="/logout">Sign out</a></p>`,
      );
    }
    if (state.kind === "none" && state.clearCookie) reply.header("set-cookie", state.clearCookie);
    return htmlPage(reply, 200, company.name, `<h1>${escapeHtml(company.name)}</h1><p>You are not signed in.</p>`);
  });
}

/**
 * Ends what the request's cookie holds: a session as LOGGED_OUT (one conditional UPDATE; a
 * session a time limit already ended is left to be recorded as that), or the company-wide
 * sign-in of a link without event (its jti revoked). Returns the cookie's company, or null.
 */
async function logOut(services: Services, request: FastifyRequest): Promise<string | null> {
  const value = sessionCookieValue(request);
  if (!value) return null;
  try {
    const kind = peekToken(value).kind;
    if (kind === "session") {
      const { company, sessionId } = await services.sessions.sessionOfToken(value);
      await services.loginLinks.endSession(sessionId, company.id, "LOGGED_OUT");
      return company.id;
    }
    if (kind === "join") {
      const state = await services.loginLinks.readCompanyCookie(value);
      if (!state) return null;
      if (state.kind === "live") await services.loginLinks.revokeCompanyCookie(state.company.id, state.linkId);
      return state.company.id;
    }
    return null;
  } catch (error) {
    if (isAppError(error)) return null;
    throw error;
  }
}

/** Failures of the code itself: one page for all, so that nothing tells them apart. */
const LINK_FAILURES = new Set(["LOGIN_LINK_USED", "LOGIN_LINK_EXPIRED", "TOKEN_REVOKED", "INVALID_CREDENTIALS", "TOKEN_INVALID"]);

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
    sentence: "You are already in this event in another window or on another device. Leave it there, then open the link again.",
  },
  SEAT_LIMIT_REACHED: { status: 403, sentence: "This organization has no seats left." },
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
 * An HTML page: no external resources (a CSP that allows none), no referrer, no sniffing, not
 * stored. Everything dynamic in `body` must already be escaped with escapeHtml.
 */
export function htmlPage(reply: FastifyReply, status: number, title: string, body: string) {
  return reply
    .status(status)
    .header("content-type", "text/html; charset=utf-8")
    .header("cache-control", "no-store")
    .header("referrer-policy", "no-referrer")
    .header("x-content-type-options", "nosniff")
    .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    .send(
      `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
        `<title>${escapeHtml(title)}</title>` +
        `<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5;color:#222}</style>` +
        `</head><body>${body}</body></html>\n`,
    );
}

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * A request path as the access log may show it when no route matched (matched routes are logged
 * by their pattern, `/login/*`): anything long enough to be a secret (a login code, a token)
 * is blanked, wherever it sits (`/login/<code>/`, `//LOGIN/<code>`).
 */
export function redactPath(path: string): string {
  return path.replace(/[A-Za-z0-9_%.~-]{32,}/g, "[redacted]");
}
