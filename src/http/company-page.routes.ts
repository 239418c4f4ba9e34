import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Services } from "../container";
import { isAppError } from "../errors";
import type { CompanyEntity } from "../modules/company/company.entity";
import type { EventEntity } from "../modules/event/event.entity";
import { eventStatus } from "../modules/event/event.service";
import { EventStatus } from "../graphql/enums";
import { readCookieSession } from "./cookie-session";
import { escapeHtml, htmlPage, SIGN_OUT_FORM } from "./login.routes";

/*
 * GET /c/<companySlug>/: the company page. A link that opens any event of the company (a join
 * token minted without eventId: `?token=`; a partner JWT: `?externalAuthCode=` or `?code=`; the
 * sign-in of a login link without event: the cookie) lands here and lists the company's live and
 * upcoming events; choosing one opens its join page, which joins with the same credential.
 *
 * The credential goes on to the join page in the fragment (never sent to a server, never in a
 * Referer), and a one-line script takes it out of this page's address bar and history at once.
 */

/** Removes the credential from the address bar and the history entry. */
const STRIP_SCRIPT = `history.replaceState(null,"",location.pathname)`;
const MAX_EVENTS = 100;

/** What the page found in the address: a credential that opens the company's events, or why not. */
type Holder =
  | { kind: "token"; token: string }
  | { kind: "code"; code: string }
  | { kind: "none" }
  | { kind: "refused"; code: string };

export function registerCompanyPageRoutes(fastify: FastifyInstance, services: Services): void {
  fastify.get<{ Params: { slug: string } }>("/c/:slug/", async (request, reply) => {
    reply.header("cache-control", "no-store").header("referrer-policy", "no-referrer");
    const company = /^[a-z0-9-]{1,64}$/.test(request.params.slug)
      ? await services.companies.cachedCompany("slug", request.params.slug)
      : null;
    if (!company)
      return htmlPage(reply, 404, "Not found", "<h1>Not found</h1><p>There is nothing at this address.</p>");

    const holder = await credentialOf(services, company, request);
    if (holder.kind === "token" || holder.kind === "code") {
      const fragment = holder.kind === "token" ? `token=${holder.token}` : `externalAuthCode=${holder.code}`;
      return listPage(
        reply,
        company,
        await services.events.openEvents(company.id, MAX_EVENTS),
        services.loginLinks.now(),
        fragment,
        "",
      );
    }
    if (holder.kind === "refused") {
      const sentence = REFUSALS[holder.code] ?? REFUSALS.TOKEN_INVALID;
      return page(reply, 400, company, `<h1>${escapeHtml(company.name)}</h1><p>${escapeHtml(sentence)}</p>`, {
        stripAddress: true,
      });
    }
    return cookiePage(services, request, reply, company);
  });
}

const REFUSALS: Record<string, string> = {
  TOKEN_INVALID: "This link is not valid. Ask whoever sent it for a new one.",
  TOKEN_EXPIRED: "This link has expired. Ask whoever sent it for a new one.",
  TOKEN_NOT_YET_VALID: "This link is not valid yet. Try again later.",
  TOKEN_REVOKED: "This link was revoked. Ask whoever sent it for a new one.",
  TOKEN_WRONG_EVENT: "This link is for one event only: open the event's own link.",
};

/**
 * The credential of the address, verified (it opens any event of this company), or none. The
 * join itself verifies it again: this only decides whether to list the events.
 */
async function credentialOf(services: Services, company: CompanyEntity, request: FastifyRequest): Promise<Holder> {
  const query = (request.query ?? {}) as Record<string, unknown>;
  const param = (name: string) => (typeof query[name] === "string" && query[name] !== "" ? query[name] : null);
  const token = param("token");
  const code = param("externalAuthCode") ?? param("code");
  try {
    if (token) {
      const { company: issuer, kind, payload } = await services.tokens.verify(token, ["join"]);
      if (issuer.id !== company.id) return { kind: "refused", code: "TOKEN_INVALID" };
      if (payload.evt !== undefined) return { kind: "refused", code: "TOKEN_WRONG_EVENT" };
      if (await services.tokens.isTokenRevoked(company, kind, payload))
        return { kind: "refused", code: "TOKEN_REVOKED" };
      return { kind: "token", token };
    }
    if (code) {
      const verified = await services.partnerJwts.verify(company, code);
      if (await services.tokens.isRevoked(company.id, verified.jti)) return { kind: "refused", code: "TOKEN_REVOKED" };
      return { kind: "code", code };
    }
  } catch (error) {
    if (isAppError(error) && error.code !== "INTERNAL") return { kind: "refused", code: error.code };
    throw error;
  }
  return { kind: "none" };
}

/** Without a credential in the address: what the login link's cookie says. */
async function cookiePage(services: Services, request: FastifyRequest, reply: FastifyReply, company: CompanyEntity) {
  const state = await readCookieSession(services, request);
  const ours = state.kind !== "none" && state.companyId === company.id;
  if (ours && state.kind === "ended" && state.redirectTo) return reply.redirect(state.redirectTo, 303);
  if (ours && (state.kind === "signedIn" || state.kind === "live")) {
    if (state.setCookie) reply.header("set-cookie", state.setCookie);
    const who = await services.loginLinks.describeUser(state.userId);
    const intro = `<p>You are signed in as <strong>${escapeHtml(who)}</strong>.</p>`;
    // The company-wide sign-in opens any event: the join page joins with the cookie's token.
    const events = state.kind === "signedIn" ? await services.events.openEvents(company.id, MAX_EVENTS) : null;
    if (events) return listPage(reply, company, events, services.loginLinks.now(), null, intro + SIGN_OUT_FORM);
    return htmlPage(reply, 200, company.name, `<h1>${escapeHtml(company.name)}</h1>${intro}${SIGN_OUT_FORM}`, {
      formAction: [],
    });
  }
  if (ours && state.kind === "unconfirmed") {
    // Another site sent the browser here: the session is neither read through a heartbeat nor
    // extended until the person opens the page from here.
    return htmlPage(
      reply,
      200,
      company.name,
      `<h1>${escapeHtml(company.name)}</h1><p>You may be signed in here.</p><p><a href="/c/${escapeHtml(company.slug)}/">Show my account</a></p>`,
    );
  }
  if (state.kind === "none" && state.clearCookie) reply.header("set-cookie", state.clearCookie);
  return htmlPage(reply, 200, company.name, `<h1>${escapeHtml(company.name)}</h1><p>You are not signed in.</p>`);
}

/** The list of events; each link opens the join page with the credential in its fragment. */
function listPage(
  reply: FastifyReply,
  company: CompanyEntity,
  events: EventEntity[],
  now: Date,
  fragment: string | null,
  intro: string,
) {
  const items = events.map((event) => {
    const live = eventStatus(event, now) === EventStatus.LIVE;
    const href = `/j/${encodeURIComponent(company.slug)}/${encodeURIComponent(event.slug)}${fragment ? `#${fragment}` : ""}`;
    const when = event.startsAt
      ? `<time datetime="${event.startsAt.toISOString()}">${escapeHtml(event.startsAt.toUTCString())}</time>`
      : "";
    return (
      `<li class="event" data-event-id="${escapeHtml(event.id)}" data-status="${live ? "LIVE" : "SCHEDULED"}">` +
      `<a href="${escapeHtml(href)}">${escapeHtml(event.name)}</a> ` +
      `<span class="status">${live ? "Live now" : "Upcoming"}</span> ${when}</li>`
    );
  });
  const list = items.length
    ? `<ul id="events">${items.join("")}</ul>`
    : `<p id="no-events">There are no live or upcoming events right now.</p>`;
  const body = `<h1>${escapeHtml(company.name)}</h1>${intro}<h2>Choose an event to join</h2>${list}`;
  // A credential in the address (not the cookie's sign-in) is taken out of it at once.
  return page(reply, 200, company, body, { hasForm: intro.includes("<form"), stripAddress: fragment !== null });
}

/**
 * The company page: no resources from elsewhere, framed only by the company's embed origins; the
 * one inline script (allowed by its hash) only when the address carries a credential.
 */
function page(
  reply: FastifyReply,
  status: number,
  company: CompanyEntity,
  body: string,
  options: { hasForm?: boolean; stripAddress?: boolean },
) {
  return htmlPage(reply, status, company.name, body, {
    formAction: options.hasForm ? [] : undefined,
    frameAncestors: company.allowedEmbedOrigins,
    inlineScript: options.stripAddress ? STRIP_SCRIPT : undefined,
  });
}
