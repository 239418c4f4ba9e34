import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Services } from "../container";
import { peekToken } from "../auth/tokens";
import { isAppError } from "../errors";
import type { CompanyEntity } from "../modules/company/company.entity";
import type { EventEntity } from "../modules/event/event.entity";
import { HEARTBEAT_INTERVAL_SECONDS } from "../modules/session/session.service";
import { clearedSessionCookie, CookieSession, fromAnotherSite, readCookieSession } from "./cookie-session";
import { ASSET_PREFIX, escapeHtml, pageFiles, sendAsset } from "./page";

/*
 * GET /j/<event slug or id> (also /j/<companySlug>/<eventSlug>): the join page. The HTML is a
 * small template with the event's public facts in a JSON config; the one script and one style
 * sheet are served under /j/_/ with their content hash in the name, so they are cached for good.
 * Everything the page does after loading is a GraphQL call to this origin.
 *
 * GET /embed.js: the helper a company's page loads to frame the join page (see docs/embed.md).
 */

/** JSON that is inert inside <script type="application/json">: no "</script>", no "<!--". */
export const scriptJson = (value: unknown): string =>
  JSON.stringify(value)
    .replace(/</g, "\\u003c")
    .replace(/>/g, "\\u003e")
    .replace(/&/g, "\\u0026")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");

/** An origin as CSP's frame-ancestors takes it; anything else (already validated by settings) is dropped. */
const CSP_ORIGIN = /^https?:\/\/[a-z0-9.-]+(:\d{1,5})?$|^https?:\/\/\[[0-9a-f:.]+\](:\d{1,5})?$/;

/** A Host header as it may stand in a ws:// source of CSP; anything else is left out. */
const CSP_HOST = /^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i;

/**
 * The WebSocket origin of the page's own origin (ws://host or wss://host), for connect-src: the
 * join page's live push (/graphql/ws). CSP 3 counts it in 'self', older browsers do not.
 */
export function liveOriginOf(request: FastifyRequest): string | null {
  return CSP_HOST.test(request.host) ? `${request.protocol === "https" ? "wss" : "ws"}://${request.host}` : null;
}

/**
 * The page's whole Content-Security-Policy: nothing but this origin (and its WebSocket origin,
 * `liveOrigin`), framed only by the company's origins.
 */
export function joinPageCsp(embedOrigins: string[], liveOrigin: string | null = null): string {
  const ancestors = embedOrigins.length ? embedOrigins.join(" ") : "'none'";
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    liveOrigin ? `connect-src 'self' ${liveOrigin}` : "connect-src 'self'",
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${ancestors}`,
  ].join("; ");
}

interface PageConfig {
  /** id null: the event could not be told from the address alone (see findEvent). */
  event: {
    id: string | null;
    ref: string;
    privacy: string | null;
    knockingEnabled: boolean;
    name?: string;
    startsAt?: string | null;
    endsAt?: string | null;
  } | null;
  embedOrigins: string[];
  heartbeatSeconds: number;
  /** A live login-link session of this event (the admit_session cookie): the page starts joined. */
  sessionToken?: string;
  /** The company-wide sign-in of a login link: a join token the page joins with. */
  joinToken?: string;
  /**
   * The cookie came with a navigation from another site: the page asks before joining with the
   * sign-in (so another site cannot join the person to an event, or supersede their session, by
   * a link) or resuming the session (so another site cannot keep it alive).
   */
  confirmJoin?: boolean;
  ended?: string;
  error?: string;
}

const ERROR_TEXT: Record<string, string> = {
  NOT_FOUND: "This event does not exist, or this link is not for it.",
};

export function registerJoinPageRoutes(fastify: FastifyInstance, services: Services): void {
  const page = pageFiles();

  fastify.get<{ Params: { file: string } }>(`${ASSET_PREFIX}:file`, async (request, reply) => {
    const asset = page.byName.get(request.params.file);
    if (!asset) return reply.status(404).header("cache-control", "no-store").send({ error: "No such file." });
    return sendAsset(request, reply, asset, "public, max-age=31536000, immutable");
  });

  // Its address is stable (companies paste it into their pages), so it is cached for five
  // minutes and revalidated by its ETag after that: a new version reaches every page within
  // minutes. Other origins load it (CORP cross-origin), and a host page may ask for it with
  // crossorigin/SRI (CORS *): it holds no secret.
  fastify.get("/embed.js", async (request, reply) => {
    reply.header("cross-origin-resource-policy", "cross-origin").header("access-control-allow-origin", "*");
    return sendAsset(request, reply, page.embed, "public, max-age=300, must-revalidate");
  });

  /** Names the event by id, companySlug/eventSlug, or a slug; hints settle a slug several companies use. */
  async function findEvent(
    ref: string,
    request: FastifyRequest,
    cookie: CookieSession,
  ): Promise<EventEntity | "ambiguous" | null> {
    try {
      return await services.events.publicEventOf(ref);
    } catch (error) {
      if (!isAppError(error)) throw error;
      if (error.code !== "BAD_USER_INPUT") return null;
    }
    // A live cookie session names its event; a token in the query names its company by its
    // issuer (unverified here: it only picks whose event to show, joinEvent verifies it); a
    // login link's sign-in names its company.
    if (cookie.kind === "live" || cookie.kind === "unconfirmed") {
      const event = await services.events.publicEventOf(cookie.eventId).catch(() => null);
      if (event && event.slug === ref) return event;
    }
    const token = queryParam(request, "token");
    const slug = token ? companySlugOfIssuer(services, token) : null;
    const company = slug ? await services.companies.cachedCompany("slug", slug) : null;
    for (const companyId of [
      company?.id,
      cookie.kind === "signedIn" || cookie.kind === "ended" ? cookie.companyId : null,
    ]) {
      const event = companyId ? await services.events.findByIdOrSlug(companyId, ref) : null;
      if (event) return event;
    }
    return "ambiguous";
  }

  async function serve(ref: string | null, request: FastifyRequest, reply: FastifyReply) {
    // A live cookie session is heartbeaten by this read; its refreshed token goes back in the
    // cookie. Not when another site sent the browser here: that must not keep a session alive.
    const cookie = await readCookieSession(services, request);
    if ((cookie.kind === "live" || cookie.kind === "signedIn") && cookie.setCookie)
      reply.header("set-cookie", cookie.setCookie);
    if (cookie.kind === "none" && cookie.clearCookie) reply.header("set-cookie", cookie.clearCookie);
    const credentialInQuery = ["token", "code", "externalAuthCode"].some((name) => queryParam(request, name) !== null);
    const found = ref ? await findEvent(ref, request, cookie) : null;
    const event = found === "ambiguous" ? null : found;

    // An ended login-link session of this event (or sign-in of its company) is said once, or sends
    // the browser where the company asked; not when the address carries a credential of its own
    // (that is a new join). The cookie is then of no more use: it is deleted.
    const endedHere =
      cookie.kind === "ended" &&
      !credentialInQuery &&
      event !== null &&
      (cookie.eventId ? cookie.eventId === event.id : cookie.companyId === event.companyId);
    if (cookie.kind === "ended" && endedHere) {
      reply.header("set-cookie", clearedSessionCookie(services));
      if (cookie.redirectTo)
        return reply
          .header("cache-control", "no-store")
          .header("referrer-policy", "no-referrer")
          .redirect(cookie.redirectTo, 303);
    }

    const company: CompanyEntity | null = event ? await services.companies.cachedCompany("id", event.companyId) : null;
    const embedOrigins = (company?.allowedEmbedOrigins ?? []).filter((o) => CSP_ORIGIN.test(o));
    const config: PageConfig = { event: null, embedOrigins, heartbeatSeconds: HEARTBEAT_INTERVAL_SECONDS };
    if (event) {
      // A private event's name and times are shown only once joined: its address alone is no invitation.
      const shown = event.privacy === "PUBLIC";
      config.event = {
        id: event.id,
        ref: ref!,
        privacy: event.privacy,
        knockingEnabled: event.knockingEnabled,
        ...(shown
          ? {
              name: event.name,
              startsAt: event.startsAt?.toISOString() ?? null,
              endsAt: event.endsAt?.toISOString() ?? null,
            }
          : {}),
      };
      if (cookie.kind === "live" && cookie.eventId === event.id) config.sessionToken = cookie.sessionToken;
      // From another site, the page resumes a session (the cookie's, or one this tab kept) only
      // when the person asks, so that no other site keeps it alive by opening this page; unless
      // Admit has just written the cookie (a login link opened from a webmail is cross-site all
      // along its redirect).
      if (cookie.kind === "unconfirmed" && cookie.eventId === event.id) config.sessionToken = cookie.sessionToken;
      if (fromAnotherSite(request) && !(cookie.kind === "unconfirmed" && cookie.fresh)) config.confirmJoin = true;
      if (cookie.kind === "signedIn" && cookie.companyId === event.companyId) {
        config.joinToken = cookie.joinToken;
        // Sec-Fetch-Site: same-origin (from Admit's own pages) or none (typed, bookmarked) join at
        // once; cross-site, same-site and browsers that do not say must ask first.
        const site = request.headers["sec-fetch-site"];
        if (site !== "same-origin" && site !== "none") config.confirmJoin = true;
      }
      if (cookie.kind === "ended" && endedHere) config.ended = cookie.endReason;
    } else if (found === "ambiguous") {
      config.event = { id: null, ref: ref!, privacy: null, knockingEnabled: false };
    } else {
      config.error = "NOT_FOUND";
    }

    const title = config.event?.name ?? "Join the event";
    const values: Record<string, string> = {
      title: escapeHtml(title),
      heading: escapeHtml(title),
      style: `${ASSET_PREFIX}${page.style.name}`,
      script: `${ASSET_PREFIX}${page.script.name}`,
      config: scriptJson(config),
      error: escapeHtml(config.error ? ERROR_TEXT[config.error] : ""),
    };
    const html = page.template.replace(/\{\{(\w+)\}\}/g, (_, name: string) => values[name] ?? "");
    reply
      .status(config.error ? 404 : 200)
      .header("content-type", "text/html; charset=utf-8")
      .header("content-security-policy", joinPageCsp(embedOrigins, liveOriginOf(request)))
      .header("referrer-policy", "no-referrer")
      .header("x-content-type-options", "nosniff")
      .header("cache-control", "no-store");
    // Browsers without CSP level 2 still refuse to frame a page no company allows.
    if (embedOrigins.length === 0) reply.header("x-frame-options", "DENY");
    return reply.send(html);
  }

  fastify.get<{ Params: { ref: string } }>("/j/:ref", (request, reply) => serve(request.params.ref, request, reply));
  fastify.get<{ Params: { company: string; event: string } }>("/j/:company/:event", (request, reply) =>
    serve(`${request.params.company}/${request.params.event}`, request, reply),
  );
  // A join URL of a token that opens any event names none: there is nothing to join here.
  fastify.get("/j", (request, reply) => serve(null, request, reply));
  fastify.get("/j/", (request, reply) => serve(null, request, reply));
}

function queryParam(request: FastifyRequest, name: string): string | null {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" && value !== "" ? value : null;
}

/** The company slug an Admit token's issuer names (<PUBLIC_URL>/c/<slug>), without verifying it. */
function companySlugOfIssuer(services: Services, token: string): string | null {
  let issuer: string | null;
  try {
    issuer = peekToken(token).issuer;
  } catch {
    return null;
  }
  const slug = issuer?.slice(issuer.lastIndexOf("/c/") + 3) ?? "";
  return issuer && /^[a-z0-9-]{1,64}$/.test(slug) && services.tokens.issuerOf(slug) === issuer ? slug : null;
}
