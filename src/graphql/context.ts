import type { Logger } from "pino";
import type { Clock } from "../clock";
import type { ApiScope } from "../modules/company/api-key.entity";
import type { AccessState } from "./access";
import type { Loaders } from "./loaders";
import type { Services } from "../container";
import type { RequestBudget } from "./budget";
import type { Pacer } from "./pacer";
import { AppError } from "../errors";

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

/** Per-request facts the access log reads after the response. */
export interface RequestFacts {
  operationName: string | null;
  companyId: string | null;
  errorCodes: string[];
}

export interface RequestContext {
  requestId: string;
  principal: Principal;
  /** The caller's address, for rate limits. */
  ip: string;
  clock: Clock;
  services: Services;
  loaders: Loaders;
  /** What the keyless operations of this request resolved their credentials to, for field rules. */
  access: AccessState;
  /** Hands long lists to graphql-js a chunk per event-loop turn (src/graphql/pacer.ts). */
  pacer: Pacer;
  log: Logger;
  /** Absent outside HTTP requests. */
  facts?: RequestFacts;
  /** The list items this request asked for (src/graphql/budget.ts); set once its operation is known. */
  budget?: RequestBudget;
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
