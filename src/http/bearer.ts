import type { FastifyRequest } from "fastify";
import { peekToken } from "../auth/tokens";

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
