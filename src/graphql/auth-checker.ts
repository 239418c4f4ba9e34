import type { AuthChecker } from "type-graphql";
import { companyIdOf, reportTokenRefusal, type RequestContext } from "./context";
import { Role } from "./enums";
import { AppError } from "../errors";
import type { ApiScope } from "../modules/company/api-key.entity";

/** `@Authorized("PLATFORM_ADMIN")` or `@Authorized(scope)`: an API key with that scope. */
export type AuthRole = ApiScope | "PLATFORM_ADMIN";

export const authChecker: AuthChecker<RequestContext, AuthRole> = ({ context }, roles) => {
  const { principal } = context;
  if (principal.kind === "anonymous") {
    throw new AppError("UNAUTHENTICATED", "This operation needs an API key (Authorization: Bearer adm_…).");
  }
  if (principal.kind === "invalid") {
    throw new AppError("UNAUTHENTICATED", "The API key is unknown or has been revoked.");
  }
  if (principal.kind === "session") {
    throw new AppError("FORBIDDEN", "A session token cannot do this; use a company API key.");
  }
  if (principal.kind === "report") throw reportTokenRefusal();
  const wantsAdmin = roles.includes("PLATFORM_ADMIN");
  if (principal.kind === "platformAdmin") {
    if (wantsAdmin) return true;
    throw new AppError("FORBIDDEN", "The platform admin key may only create companies; use a company API key.");
  }
  if (wantsAdmin) {
    throw new AppError("FORBIDDEN", "Only the platform admin key may do this.");
  }
  const missing = roles.filter((role) => !principal.scopes.includes(role as ApiScope));
  if (missing.length > 0) {
    throw new AppError("FORBIDDEN", `This API key lacks the scope ${missing.join(", ")}.`);
  }
  return true;
};

/**
 * The rule of the organizer operations (kick, knocks, liveEvent, report links), which carry no
 * `@Authorized` because an organizer's session token may act as bearer: the company of an API key
 * with MANAGE_EVENTS, or of a live session whose role is ORGANIZER. That role is resolved now,
 * from the lists as they are, not read from its last heartbeat: someone removed from the
 * organizers loses the power at once. Callers still confine a session to its own event.
 * @throws AppError FORBIDDEN, or UNAUTHENTICATED without a bearer.
 */
export async function organizerCompany(ctx: RequestContext): Promise<string> {
  const principal = ctx.principal;
  if (principal.kind === "session") {
    const role = await ctx.services.sessions.liveRoleOf(principal.companyId, principal.sessionId);
    if (role !== Role.ORGANIZER) throw new AppError("FORBIDDEN", "Only an organizer of this event may do this.");
    return principal.companyId;
  }
  if (principal.kind === "apiKey" && !principal.scopes.includes("MANAGE_EVENTS")) {
    throw new AppError("FORBIDDEN", "This API key lacks the scope MANAGE_EVENTS.");
  }
  return companyIdOf(ctx);
}
