import type { FastifyRequest } from "fastify";
import { peekToken } from "../auth/tokens";
import type { Services } from "../container";
import type { Principal } from "../graphql/context";

/** The bearer of `Authorization: Bearer <x>`: null without the header, "" when it is malformed. */
export function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : "";
}

/** Whether a bearer JWT says it is a report link's token (unverified: it only picks the verifier). */
export function isReportToken(bearer: string): boolean {
  try {
    return peekToken(bearer).kind === "report";
  } catch {
    return false;
  }
}

/**
 * Who a bearer is: a JWT is a session token (an organizer acting from the embed page) or a report
 * link's token; anything else an API key or the platform admin key. POST /graphql and the live
 * connection (its connection_init) both ask this.
 */
export function principalOfBearer(services: Services, bearer: string | null): Promise<Principal> {
  if (bearer && bearer.split(".").length === 3) {
    return isReportToken(bearer) ? services.reportLinks.principalOf(bearer) : services.sessions.principalOf(bearer);
  }
  return services.companies.authenticate(bearer);
}
