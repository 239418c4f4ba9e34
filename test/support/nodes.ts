import type { AddressInfo } from "node:net";
import { App, createApp } from "../../src/app";
import { ManualClock } from "../../src/clock";
import { Database, openDatabase } from "../../src/db/database";
import { createLogger } from "../../src/logger";
import { GqlResponse, TestApp, usingPglite } from "./harness";

export interface Node {
  app: App;
  /** This node's own clock (it starts at the first node's time). */
  clock: ManualClock;
  gql<T = any>(query: string, variables?: Record<string, unknown>, key?: string): Promise<GqlResponse<T>>;
  close(): Promise<void>;
}

/**
 * Another node on the first one's database, with the same master key (so it can sign for the
 * same companies): its own pool and listening connection on PostgreSQL, the same data source on
 * PGlite (one in-memory database per app).
 */
export async function startSecondNode(first: TestApp): Promise<Node> {
  let own: Database | null = null;
  const clock = new ManualClock(first.clock.now());
  if (!usingPglite()) own = await openDatabase({ kind: "postgres", url: process.env.ADMIT_TEST_DATABASE_URL! });
  const app = await createApp({
    config: { publicUrl: "http://admit.test", adminApiKey: first.adminKey, nodeEnv: "test" },
    masterKey: first.masterKey,
    dataSource: own?.dataSource ?? first.db.dataSource,
    clock,
    log: createLogger("silent"),
  });
  await app.fastify.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}/graphql`;
  return {
    app,
    clock,
    async gql(query, variables = {}, key) {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as { data?: any; errors?: any[] };
      return { status: response.status, data: body.data, errors: body.errors, headers: response.headers };
    },
    async close() {
      await app.close();
      await own?.close();
    },
  };
}

/** Asks until `done` holds, for at most `ms`; gives the last answer. */
export async function eventually<T>(ask: () => Promise<T>, done: (value: T) => boolean, ms = 2_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await ask();
    if (done(value) || Date.now() > until) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
