import type { AddressInfo } from "node:net";
import { createApp } from "../../src/app";
import { ManualClock } from "../../src/clock";
import { createLogger } from "../../src/logger";
import { GUEST_ADDRESS_LIMIT } from "../../src/modules/session/session.service";
import { codeOf, GqlResponse, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent } from "../support/factories";
import { beat, joinRaw, tableCounts } from "./join-helpers";

/**
 * Anonymous floods: guest joins are limited per client address (shared by every node, through
 * the database), and a session that never sends its first heartbeat gives its place back after
 * the company's first-heartbeat window, ending as NO_HEARTBEAT.
 */

const t = useTestApp();

const JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken session { id } } }`;
const SESSION = `query($id: ID!) { session(id: $id) { active endReason durationSeconds } }`;

const guestJoin = (event: string, name: string) => joinRaw(t, { event, displayName: name });

describe("guest joins per address", () => {
  it(`admits ${GUEST_ADDRESS_LIMIT.max} guests from one address, then refuses with RATE_LIMITED and changes nothing`, async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, { privacy: "PUBLIC" });
    for (let i = 0; i < GUEST_ADDRESS_LIMIT.max; i++) ok(await guestJoin(event.id, `Bot ${i}`));
    const before = await tableCounts(t);
    const refused = await guestJoin(event.id, "Bot again");
    expect(codeOf(refused)).toBe("RATE_LIMITED");
    expect(refused.errors![0].extensions!.retryAfterSeconds).toBeGreaterThan(0);
    const after = await tableCounts(t);
    expect({ ...after, auth_failures: 0 }).toEqual({ ...before, auth_failures: 0 });

    // Another company's public event counts apart; and the window passing lets guests in again.
    const other = await makeEvent(t, await makeCompany(t), { privacy: "PUBLIC" });
    ok(await guestJoin(other.id, "Visitor"));
    t.clock.advance(GUEST_ADDRESS_LIMIT.windowSeconds + 1);
    ok(await guestJoin(event.id, "Later visitor"));
  });

  it("behind a trusted proxy counts each client apart, and a client cannot pick its own address", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, { privacy: "PUBLIC" });
    const proxied = await startNodeOn({ trustProxy: ["127.0.0.1"] });
    try {
      for (let i = 0; i < GUEST_ADDRESS_LIMIT.max; i++) ok(await proxied.join(event.id, `Bot ${i}`, "203.0.113.5"));
      expect(codeOf(await proxied.join(event.id, "Bot", "203.0.113.5"))).toBe("RATE_LIMITED");
      ok(await proxied.join(event.id, "Neighbour", "203.0.113.6"));
      expect(codeOf(await proxied.join(event.id, "Bot", "198.51.100.1, 203.0.113.5"))).toBe("RATE_LIMITED");
    } finally {
      await proxied.close();
    }
  });
});

describe("a session that never heartbeats", () => {
  it("gives its place back after the first-heartbeat window, ending as NO_HEARTBEAT with no time attended", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, { privacy: "PUBLIC", capacity: 2 });
    const silent = ok(await guestJoin(event.id, "Silent")).joinEvent;
    const alive = ok(await guestJoin(event.id, "Alive")).joinEvent;
    expect(codeOf(await guestJoin(event.id, "Third"))).toBe("EVENT_FULL");

    t.clock.advance(60);
    expect(await beat(t, alive.sessionToken)).toMatchObject({ active: true });
    t.clock.advance(61); // 121 s after the joins: past the default window of 120 s
    const third = ok(await guestJoin(event.id, "Third")).joinEvent;
    expect(third.session.id).toBeDefined();
    expect(codeOf(await guestJoin(event.id, "Fourth"))).toBe("EVENT_FULL");

    const read = (id: string) => t.gql(SESSION, { id }, { key: company.key }).then((r) => ok(r).session);
    expect(await read(silent.session.id)).toEqual({ active: false, endReason: "NO_HEARTBEAT", durationSeconds: 0 });
    expect(await read(alive.session.id)).toMatchObject({ active: true, endReason: null });
    // The silent client learns why when it finally heartbeats.
    expect(await beat(t, silent.sessionToken)).toMatchObject({ active: false, endReason: "NO_HEARTBEAT" });
  });

  it("follows the company's firstHeartbeatWindowSeconds", async () => {
    const company = await makeCompany(t);
    ok(
      await t.gql(
        `mutation { updateCompanySettings(input: { firstHeartbeatWindowSeconds: 600 }) { settings { firstHeartbeatWindowSeconds } } }`,
        {},
        { key: company.key },
      ),
    );
    const event = await makeEvent(t, company, { privacy: "PUBLIC" });
    const joined = ok(await guestJoin(event.id, "Slow starter")).joinEvent;
    t.clock.advance(300);
    expect(await beat(t, joined.sessionToken)).toMatchObject({ active: true });
    // Once it has heartbeated, the inactivity window (4 h by default) applies, not this one.
    t.clock.advance(3_600);
    expect(await beat(t, joined.sessionToken)).toMatchObject({ active: true });
    const tooLow = await t.gql(
      `mutation { updateCompanySettings(input: { firstHeartbeatWindowSeconds: 5 }) { id } }`,
      {},
      { key: company.key },
    );
    expect(codeOf(tooLow)).toBe("BAD_USER_INPUT");
  });
});

/** Another app over the same data source with its own config (only for what needs no signing key of the first). */
async function startNodeOn(config: { trustProxy: readonly string[] }) {
  const app = await createApp({
    config: { publicUrl: "http://admit.test", adminApiKey: t.adminKey, nodeEnv: "test", ...config },
    masterKey: t.masterKey,
    dataSource: t.db.dataSource,
    clock: new ManualClock(t.clock.now()),
    log: createLogger("silent"),
  });
  await app.fastify.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}/graphql`;
  return {
    join: async (event: string, displayName: string, forwardedFor: string): Promise<GqlResponse> => {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
        body: JSON.stringify({ query: JOIN, variables: { input: { event, displayName } } }),
      });
      const body = (await response.json()) as { data?: any; errors?: any[] };
      return { status: response.status, data: body.data, errors: body.errors, headers: response.headers };
    },
    close: () => app.close(),
  };
}
