import type { AuthChecker } from "type-graphql";
import { organizerCompany } from "../request-context";
import { reportTokenRefusal, type RequestContext } from "./context";
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
 * The organizer rule (organizerCompany in src/request-context.ts) for a resolver: the company of an
 * API key with MANAGE_EVENTS, or of a live ORGANIZER session as bearer, its role resolved now.
 * @throws AppError FORBIDDEN, or UNAUTHENTICATED without a bearer.
 */
export function organizerOf(ctx: RequestContext): Promise<string> {
  return organizerCompany(ctx, (companyId, sessionId) => ctx.services.sessions.liveRoleOf(companyId, sessionId));
}
