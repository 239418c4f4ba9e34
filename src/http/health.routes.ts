import type { FastifyInstance } from "fastify";
import type { MasterKeyService } from "../modules/master-key/master-key.service";
import { READINESS_TIMEOUT_MS, type ReadinessConnection } from "../db/readiness-connection";

/** Servers whose node is stopping (see markDraining). */
const draining = new WeakSet<FastifyInstance>();

/**
 * From now on this server's /readyz answers 503, while every other route keeps answering: the
 * first step of a stop, so the load balancer takes the node out before it stops accepting.
 */
export function markDraining(fastify: FastifyInstance): void {
  draining.add(fastify);
}

/**
 * /healthz: the process is up. /readyz (a load balancer's signal): the database answers and this
 * node's master key still opens its encrypted keys, and the node is not stopping; 503 with the
 * reason otherwise. The check runs on a connection of its own, not the requests' pool: a busy
 * node (every pooled connection taken) is still ready.
 */
export function registerHealthRoutes(
  fastify: FastifyInstance,
  masterKeys: MasterKeyService,
  connection: ReadinessConnection,
): void {
  fastify.get("/healthz", async () => ({ status: "ok" }));

  fastify.get("/readyz", async (_request, reply) => {
    if (draining.has(fastify)) {
      return reply.status(503).send({
        status: "unavailable",
        reason: "This node is stopping: it finishes the requests it has and takes no new ones.",
      });
    }
    let reason: string | null;
    try {
      // One indexed read of one row: the database check and the key check at once.
      reason = await Promise.race([
        masterKeys.readiness(connection.query),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("database check timed out")), READINESS_TIMEOUT_MS).unref(),
        ),
      ]);
    } catch {
      return reply.status(503).send({ status: "unavailable", reason: "The database does not answer." });
    }
    if (reason) return reply.status(503).send({ status: "unavailable", reason });
    return { status: "ready" };
  });
}
