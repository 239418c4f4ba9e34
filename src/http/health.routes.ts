import type { FastifyInstance } from "fastify";
import type { DataSource } from "typeorm";

/** /healthz: the process is up. /readyz: the database answers (a load balancer's signal). */
export function registerHealthRoutes(fastify: FastifyInstance, dataSource: DataSource): void {
  fastify.get("/healthz", async () => ({ status: "ok" }));

  fastify.get("/readyz", async (_request, reply) => {
    try {
      await Promise.race([
        dataSource.query("SELECT 1"),
        new Promise((_, reject) => setTimeout(() => reject(new Error("database check timed out")), 2000).unref()),
      ]);
      return { status: "ready" };
    } catch {
      return reply.status(503).send({ status: "unavailable", reason: "The database does not answer." });
    }
  });
}
