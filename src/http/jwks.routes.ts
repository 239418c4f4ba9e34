import type { FastifyInstance } from "fastify";
import type { Services } from "../container";

/** GET /c/<companySlug>/.well-known/jwks.json: the company's live public keys, never a private member. */
export function registerJwksRoutes(fastify: FastifyInstance, services: Services): void {
  fastify.get<{ Params: { slug: string } }>("/c/:slug/.well-known/jwks.json", async (request, reply) => {
    const company = /^[a-z0-9-]{1,64}$/.test(request.params.slug)
      ? await services.companies.cachedCompany("slug", request.params.slug)
      : null;
    if (!company) return reply.status(404).send({ error: "No company has this slug." });
    // Short cache: a rotation shows up within a minute for verifiers that honour it.
    reply.header("cache-control", "public, max-age=60");
    return services.signingKeys.jwks(company.id);
  });
}
