import type { Logger } from "pino";
import type { Clock } from "./clock";
import type { ApiScope } from "./modules/company/api-key.entity";
import type { Loaders } from "./graphql/loaders";
import { AppError } from "./errors";
import { Role } from "./graphql/enums";

/**
 * The request as services see it: who is calling and the per-request tools. It knows no service,
 * so services can take it without importing the container that builds them; the GraphQL context
 * (src/graphql/context.ts) extends it with the services and what only resolvers use.
 */

/** Who is calling, decided once per request from the Authorization header. */
export type Principal =
  | { kind: "anonymous" }
  /** A bearer was presented but is unknown or revoked. */
  | { kind: "invalid" }
  | { kind: "platformAdmin" }
  | { kind: "apiKey"; companyId: string; apiKeyId: string; scopes: ApiScope[] }
  /** A session token as bearer: an organizer acting from the embed page. */
  | { kind: "session"; companyId: string; sessionId: string; eventId: string }
  /** A report link's token as bearer: reads one event's report (its analytics and attendees), nothing else. */
  | { kind: "report"; companyId: string; eventId: string };

export interface RequestContext {
  requestId: string;
  principal: Principal;
  /** The caller's address, for rate limits. */
  ip: string;
  clock: Clock;
  loaders: Loaders;
  log: Logger;
}

/** The company of an API-key caller. Tenant-owned queries take the company from here, never from input. */
export function companyIdOf(ctx: RequestContext): string {
  if (ctx.principal.kind === "apiKey") return ctx.principal.companyId;
  if (ctx.principal.kind === "platformAdmin") {
    throw new AppError("FORBIDDEN", "The platform admin key may only create companies; use a company API key.");
  }
  if (ctx.principal.kind === "session") {
    throw new AppError("FORBIDDEN", "A session token cannot do this; use a company API key.");
  }
  if (ctx.principal.kind === "report") throw reportTokenRefusal();
  throw new AppError("UNAUTHENTICATED", "A company API key is required (Authorization: Bearer adm_…).");
}

/** What a report link's token is told wherever it is not enough. */
export const reportTokenRefusal = (): AppError =>
  new AppError("FORBIDDEN", "A report link's token only reads its event's report; use a company API key.");

/**
 * Who may open an event's analytics (eventAnalytics): an API key with READ_ANALYTICS, or the token
 * of a report link made for that event. Returns the company to read it in; past this, the field
 * rules of EventAnalytics and what it leads to decide as for any object.
 * @throws AppError UNAUTHENTICATED or FORBIDDEN.
 */
export function analyticsReaderCompany(ctx: RequestContext, eventId: string): string {
  const principal = ctx.principal;
  if (principal.kind === "report") {
    if (principal.eventId !== eventId) throw new AppError("FORBIDDEN", "This report link is for another event.");
    return principal.companyId;
  }
  if (principal.kind === "apiKey" && !principal.scopes.includes("READ_ANALYTICS")) {
    throw new AppError("FORBIDDEN", "This API key lacks the scope READ_ANALYTICS.");
  }
  return companyIdOf(ctx);
}

/** A session's role now (null once it has ended), as the organizer rule asks it of the session service. */
export type LiveRoleOf = (companyId: string, sessionId: string) => Promise<Role | null>;

/**
 * The rule of the organizer operations (kick, knocks, liveEvent, report links), which carry no
 * `@Authorized` because an organizer's session token may act as bearer: the company of an API key
 * with MANAGE_EVENTS, or of a live session whose role is ORGANIZER. That role is resolved now,
 * from the lists as they are, not read from its last heartbeat: someone removed from the
 * organizers loses the power at once. Callers still confine a session to its own event.
 * Resolvers reach it through `organizerOf` (src/graphql/auth-checker.ts).
 * @throws AppError FORBIDDEN, or UNAUTHENTICATED without a bearer.
 */
export async function organizerCompany(ctx: RequestContext, liveRoleOf: LiveRoleOf): Promise<string> {
  const principal = ctx.principal;
  if (principal.kind === "session") {
    const role = await liveRoleOf(principal.companyId, principal.sessionId);
    if (role !== Role.ORGANIZER) throw new AppError("FORBIDDEN", "Only an organizer of this event may do this.");
    return principal.companyId;
  }
  if (principal.kind === "apiKey" && !principal.scopes.includes("MANAGE_EVENTS")) {
    throw new AppError("FORBIDDEN", "This API key lacks the scope MANAGE_EVENTS.");
  }
  return companyIdOf(ctx);
}
