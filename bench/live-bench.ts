/**
 * `npm run bench:live`: how long a change made through one node takes to reach a subscriber of
 * another. Two Admit apps in this process, each with its own pool and change feed, on a fresh
 * PostgreSQL database (BENCH_DATABASE_URL's server, default the local one): node C takes the
 * mutations, node A serves the subscriptions (sessionUpdates over /graphql/ws).
 *
 * BENCH_LIVE_CHANGES (default 200) sessions join, each subscribed on A; then one change each,
 * one after the other: a kick (endSession through C) for even ones, a role change (the user
 * added to the event's presenters through C) for odd ones. The latency is from sending the
 * mutation to receiving the push. Target: p95 under 1 s.
 */
import "reflect-metadata";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { App, createApp } from "../src/app";
import { systemClock } from "../src/clock";
import { migrate, openDatabase } from "../src/db/database";
import { createLogger } from "../src/logger";
import { freshDatabase, parallel, percentile } from "./harness";
import { LiveClient, liveUrlOf } from "./live-client";
import { gql } from "./support";

const CHANGES = Number(process.env.BENCH_LIVE_CHANGES ?? 200);
const PER_CONNECTION = 20;
const TARGET_P95_MS = 1_000;

const SESSION_UPDATES = `subscription($t: String!) { sessionUpdates(sessionToken: $t) { active role endReason } }`;

async function main(): Promise<void> {
  const database = await freshDatabase("postgres", "live");
  const url = database.url!;
  const adminKey = `bench-admin-${randomBytes(16).toString("hex")}`;
  const masterKey = randomBytes(32);
  const opened = [await openDatabase({ kind: "postgres", url }), await openDatabase({ kind: "postgres", url })];
  await migrate(opened[0].dataSource);
  const apps: App[] = [];
  const bases: string[] = [];
  for (const db of opened) {
    const app = await createApp({
      config: { publicUrl: "http://admit.bench", adminApiKey: adminKey, nodeEnv: "test" },
      masterKey,
      dataSource: db.dataSource,
      clock: systemClock,
      log: createLogger("silent"),
    });
    await app.fastify.listen({ port: 0, host: "127.0.0.1" });
    apps.push(app);
    bases.push(`http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}`);
  }
  const [baseA, baseC] = bases;
  const clients: LiveClient[] = [];
  try {
    const created = await gql(
      `${baseC}/graphql`,
      `mutation { createCompany(input: { name: "Live bench" }) { secret } }`,
      {},
      adminKey,
    );
    const key: string = created.createCompany.secret;
    const event = (
      await gql(`${baseC}/graphql`, `mutation { createEvent(input: { name: "Live bench" }) { id } }`, {}, key)
    ).createEvent;

    const joined = await parallel(
      Array.from({ length: CHANGES }, (_, i) => i),
      8,
      async (i) => {
        const minted = await gql(
          `${baseC}/graphql`,
          `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`,
          { input: { eventId: event.id, user: { id: `bench-${i}` } } },
          key,
        );
        const session = await gql(
          `${baseC}/graphql`,
          `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken session { id } } }`,
          { input: { event: event.id, credential: minted.mintJoinToken.token } },
        );
        return {
          externalId: `bench-${i}`,
          sessionId: session.joinEvent.session.id as string,
          token: session.joinEvent.sessionToken as string,
        };
      },
    );

    const subscriptions = [];
    for (let i = 0; i < joined.length; i++) {
      if (i % PER_CONNECTION === 0) {
        const client = await LiveClient.connect(liveUrlOf(baseA));
        await client.acknowledged;
        clients.push(client);
      }
      subscriptions.push(clients[clients.length - 1].subscribe(SESSION_UPDATES, { t: joined[i].token }));
    }
    for (const s of subscriptions) await s.data(30_000);

    const latencies: number[] = [];
    for (let i = 0; i < joined.length; i++) {
      const started = performance.now();
      const pushed = subscriptions[i].data(10_000);
      if (i % 2 === 0) {
        await gql(
          `${baseC}/graphql`,
          `mutation($id: ID!) { endSession(id: $id) { id } }`,
          { id: joined[i].sessionId },
          key,
        );
      } else {
        await gql(
          `${baseC}/graphql`,
          `mutation($input: EventPrincipalsInput!) { addEventPrincipals(input: $input) { id } }`,
          {
            input: { eventId: event.id, role: "PRESENTER", principals: [{ userId: joined[i].externalId }] },
          },
          key,
        );
      }
      const update = (await pushed).sessionUpdates;
      const expected =
        i % 2 === 0 ? update.active === false && update.endReason === "KICKED" : update.role === "PRESENTER";
      if (!expected) throw new Error(`change ${i}: unexpected push ${JSON.stringify(update)}`);
      latencies.push(performance.now() - started);
    }
    latencies.sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p95 = percentile(latencies, 95);
    console.log(
      `\n${CHANGES} changes through node C (kicks and role changes, alternating), pushed to subscribers on node A (PostgreSQL, change feed)`,
    );
    console.log(
      `latency from mutation sent to push received: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms`,
    );
    console.log(`target p95 < ${TARGET_P95_MS} ms: ${p95 < TARGET_P95_MS ? "met" : "NOT met"}`);
    if (p95 >= TARGET_P95_MS) process.exitCode = 1;
  } finally {
    for (const client of clients) client.close();
    for (const app of apps) await app.close();
    for (const db of opened) await db.close();
    await database.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
