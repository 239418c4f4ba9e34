import type { FastifyRequest } from "fastify";

/** The bearer of `Authorization: Bearer <x>`: null without the header, "" when it is malformed. */
export function bearerOf(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : "";
}
