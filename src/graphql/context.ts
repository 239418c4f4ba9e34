import type { Services } from "../container";
import type * as request from "../request-context";
import type { AccessState } from "./access";
import type { RequestBudget } from "./budget";
import type { Pacer } from "./pacer";

// Resolvers read these where they read the context; they are defined with the request's facts.
export { companyIdOf, reportTokenRefusal, type Principal } from "../request-context";

/** Per-request facts the access log reads after the response. */
export interface RequestFacts {
  operationName: string | null;
  companyId: string | null;
  errorCodes: string[];
}

/** A GraphQL request: what services see of it, plus the services and what only resolvers use. */
export interface RequestContext extends request.RequestContext {
  services: Services;
  /** What the keyless operations of this request resolved their credentials to, for field rules. */
  access: AccessState;
  /** Hands long lists to graphql-js a chunk per event-loop turn (src/graphql/pacer.ts). */
  pacer: Pacer;
  /** Absent outside HTTP requests. */
  facts?: RequestFacts;
  /** The list items this request asked for (src/graphql/budget.ts); set once its operation is known. */
  budget?: RequestBudget;
}
