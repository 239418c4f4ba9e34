/**
 * sessionUpdates over /graphql/ws: the session's state first, then each change made through the
 * API (kick, ban, role change, event end) as it commits, without waiting for a heartbeat.
 */
import { codeOf, ok, startTestApp, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { addPrincipals, beat, mintAndJoin, removePrincipals } from "../join/join-helpers";
import { connectLive, LiveClient, liveUrlOf, SESSION_UPDATES } from "./live-helpers";

const t = useTestApp();
let company: TestCompany;
const clients: LiveClient[] = [];

beforeAll(async () => {
  company = await makeCompany(t);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

async function live(payload?: Record<string, unknown>): Promise<LiveClient> {
  const client = await connectLive(t.url, payload);
  clients.push(client);
  return client;
}

const KICK = `mutation($id: ID!, $ban: Boolean) { endSession(id: $id, ban: $ban) { id endReason } }`;
const END_EVENT = `mutation($id: ID!) { endEvent(id: $id) { id endedAt } }`;

describe("sessionUpdates", () => {
  it("sends the state first, then a kick at once; the stream ends after the ended state", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, {}, { id: "kick-me", name: "Kim" });
    const subscription = (await live()).subscribe(SESSION_UPDATES, { t: joined.sessionToken });

    const first = (await subscription.data()).sessionUpdates;
    expect(first).toMatchObject({
      active: true,
      role: "ATTENDEE",
      endReason: null,
      session: { id: joined.session.id, user: { name: "Kim" } },
    });
    expect(typeof first.sessionToken).toBe("string");

    ok(await t.gql(KICK, { id: joined.session.id, ban: true }, { key: company.key }));
    expect((await subscription.data()).sessionUpdates).toMatchObject({
      active: false,
      endReason: "KICKED",
      sessionToken: null,
    });
    expect(await subscription.next()).toEqual({ kind: "complete" });
  });

  it("pushes a role change made by the organizer lists, with a token that carries it", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, {}, { id: "promote-me" });
    const subscription = (await live()).subscribe(SESSION_UPDATES, { t: joined.sessionToken });
    expect((await subscription.data()).sessionUpdates.role).toBe("ATTENDEE");

    await addPrincipals(t, company, event.id, "PRESENTER", [{ userId: "promote-me" }]);
    const promoted = (await subscription.data()).sessionUpdates;
    expect(promoted).toMatchObject({ active: true, role: "PRESENTER" });
    const claims = JSON.parse(Buffer.from(promoted.sessionToken.split(".")[1], "base64url").toString());
    expect(claims.role).toBe("PRESENTER");

    // An unrelated list change pushes nothing; taking the role back does.
    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: "someone-else" }]);
    await removePrincipals(t, company, event.id, "PRESENTER", [{ userId: "promote-me" }]);
    expect((await subscription.data()).sessionUpdates).toMatchObject({ active: true, role: "ATTENDEE" });
    expect(subscription.received.size).toBe(0);
  });

  it("pushes the end of the event", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    const subscription = (await live()).subscribe(SESSION_UPDATES, { t: joined.sessionToken });
    await subscription.data();
    ok(await t.gql(END_EVENT, { id: event.id }, { key: company.key }));
    expect((await subscription.data()).sessionUpdates).toMatchObject({ active: false, endReason: "EVENT_ENDED" });
    expect(await subscription.next()).toEqual({ kind: "complete" });
  });

  it("answers an ended session with its final state, as heartbeat does, and completes", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    ok(await t.gql(KICK, { id: joined.session.id }, { key: company.key }));
    const subscription = (await live()).subscribe(SESSION_UPDATES, { t: joined.sessionToken });
    expect((await subscription.data()).sessionUpdates).toMatchObject({ active: false, endReason: "KICKED" });
    expect(await subscription.next()).toEqual({ kind: "complete" });
  });

  it("keeps the heartbeats working beside it", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    const subscription = (await live()).subscribe(SESSION_UPDATES, { t: joined.sessionToken });
    await subscription.data();
    t.clock.advance(30);
    expect(await beat(t, joined.sessionToken)).toMatchObject({ active: true });
    // A heartbeat that changes nothing the subscriber sees pushes nothing.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(subscription.received.size).toBe(0);
  });
});

describe("refusals", () => {
  it("a session token that does not verify: the error, then the connection closes with 4401", async () => {
    const client = await live();
    const subscription = client.subscribe(SESSION_UPDATES, { t: "not.a.token" });
    const refused = await subscription.next();
    expect(refused.kind).toBe("next");
    expect(refused.kind === "next" && refused.errors?.[0]?.extensions?.code).toBe("TOKEN_INVALID");
    expect(await client.closed).toEqual({ code: 4401, reason: "TOKEN_INVALID" });
  });

  it("a suspended user: 4403 USER_SUSPENDED, as heartbeat refuses it", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    ok(
      await t.gql(
        `mutation($id: ID!) { suspendUser(id: $id) { id } }`,
        { id: joined.session.userId },
        { key: company.key },
      ),
    );
    expect(
      codeOf(
        await t.gql(`mutation($t: String!) { heartbeat(sessionToken: $t) { active } }`, { t: joined.sessionToken }),
      ),
    ).toBe("USER_SUSPENDED");
    const client = await live();
    const refused = await client.subscribe(SESSION_UPDATES, { t: joined.sessionToken }).next();
    expect(refused.kind === "next" && refused.errors?.[0]?.extensions?.code).toBe("USER_SUSPENDED");
    expect((await client.closed).code).toBe(4403);
  });

  it("a bearer in connection_init that does not authenticate: 4401 before any subscription", async () => {
    const client = await LiveClient.connect(liveUrlOf(t.url), { authorization: "Bearer adm_nope" });
    clients.push(client);
    await expect(client.acknowledged).rejects.toThrow(/4401/);
    expect((await client.closed).code).toBe(4401);
  });

  it("no connection_init in time: 4408", async () => {
    const client = await LiveClient.connect(liveUrlOf(t.url), undefined, { init: false });
    clients.push(client);
    expect(await client.closed).toEqual({ code: 4408, reason: "Connection initialisation timeout" });
  });

  it("queries, mutations and invalid documents are refused (BAD_USER_INPUT); the connection stays", async () => {
    const client = await live();
    const query = await client.subscribe(`query { __typename }`).next();
    expect(query).toMatchObject({ kind: "error", errors: [{ extensions: { code: "BAD_USER_INPUT" } }] });
    const invalid = await client.subscribe(`subscription { nope }`).next();
    expect(invalid).toMatchObject({ kind: "error", errors: [{ extensions: { code: "BAD_USER_INPUT" } }] });
  });

  it("at most 20 subscriptions on one connection", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    const client = await live();
    const subscriptions = Array.from({ length: 20 }, () =>
      client.subscribe(SESSION_UPDATES, { t: joined.sessionToken }),
    );
    for (const s of subscriptions) expect((await s.data()).sessionUpdates.active).toBe(true);
    const extra = await client.subscribe(SESSION_UPDATES, { t: joined.sessionToken }).next();
    expect(extra).toMatchObject({ kind: "error", errors: [{ extensions: { code: "BAD_USER_INPUT" } }] });
  });
});

describe("shutdown", () => {
  it("closeLive ends every subscription and closes each connection with the code given", async () => {
    // A second app on the same database, so that closing it leaves the file's app running.
    const other = await startTestApp({ database: t.db, masterKey: t.masterKey });
    try {
      const otherCompany = await makeCompany(other);
      const event = await makeEvent(other, otherCompany);
      const joined = await mintAndJoin(other, otherCompany, event.id);
      const client = await connectLive(other.url);
      const subscription = client.subscribe(SESSION_UPDATES, { t: joined.sessionToken });
      await subscription.data();
      expect(other.app.services.live.size).toBe(1);
      other.app.closeLive(1001, "going away, reconnect");
      expect(await client.closed).toEqual({ code: 1001, reason: "going away, reconnect" });
      expect(other.app.services.live.size).toBe(0);
    } finally {
      await other.close();
    }
  });
});

describe("POST /graphql", () => {
  it("refuses a subscription, pointing to /graphql/ws", async () => {
    const answer = await t.gql(`subscription($t: String!) { sessionUpdates(sessionToken: $t) { active } }`, { t: "x" });
    expect(answer.errors?.[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT" } });
    expect(JSON.stringify(answer.errors)).toContain("/graphql/ws");
    expect(answer.status).toBe(400);
  });
});
