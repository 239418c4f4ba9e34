/**
 * Live push across nodes: a change made through one node reaches a subscriber of another over
 * the change feed (on PGlite, two apps share the one embedded database and its notifications),
 * and a node whose feed drops sends every subscriber a fresh snapshot once it is back.
 */
import { FEED_APPLICATION_NAME } from "../../src/db/change-feed";
import { ok, startTestApp, TestApp, usingPglite } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { eventually, Node, startSecondNode } from "../support/nodes";
import { addPrincipals, mintAndJoin } from "../join/join-helpers";
import { connectLive, EVENT_LIVE, LiveClient, SESSION_UPDATES } from "./live-helpers";

let t: TestApp;
let b: Node;
let company: TestCompany;
const clients: LiveClient[] = [];

beforeAll(async () => {
  t = await startTestApp();
  b = await startSecondNode(t);
  company = await makeCompany(t);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await b?.close();
  await t?.close();
});

/** The http base of node B (its /graphql address without the path). */
const baseOfB = () => b.app.fastify.listeningOrigin;

async function liveOn(base: string, bearer?: string): Promise<LiveClient> {
  const client = await connectLive(base, bearer ? { authorization: `Bearer ${bearer}` } : undefined);
  clients.push(client);
  return client;
}

describe("a change made on node A, a subscriber on node B", () => {
  it("sessionUpdates sees a role change and a kick", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, {}, { id: "far-away" });
    const subscription = (await liveOn(baseOfB())).subscribe(SESSION_UPDATES, { t: joined.sessionToken });
    expect((await subscription.data()).sessionUpdates).toMatchObject({ active: true, role: "ATTENDEE" });

    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: "far-away" }]);
    expect((await subscription.data()).sessionUpdates).toMatchObject({ active: true, role: "ORGANIZER" });

    ok(
      await t.gql(`mutation($id: ID!) { endSession(id: $id) { id } }`, { id: joined.session.id }, { key: company.key }),
    );
    expect((await subscription.data()).sessionUpdates).toMatchObject({ active: false, endReason: "KICKED" });
  });

  // Joins are not announced (they are read once a second by the node that serves eventLive).
  it("eventLive sees a join", async () => {
    const event = await makeEvent(t, company);
    const subscription = (await liveOn(baseOfB(), company.key)).subscribe(EVENT_LIVE, { id: event.id });
    expect((await subscription.data()).eventLive).toMatchObject({ snapshot: true, participantCount: 0 });
    const joined = await mintAndJoin(t, company, event.id, {}, { id: "newcomer", name: "New Comer" });
    expect((await subscription.data()).eventLive).toMatchObject({
      snapshot: false,
      participantCount: 1,
      participants: [{ sessionId: joined.session.id, name: "New Comer" }],
    });
  });
});

(usingPglite() ? describe.skip : describe)("on PostgreSQL, when node B's feed drops", () => {
  it("every subscriber of B gets a snapshot once the feed is back, with what changed meanwhile", async () => {
    const event = await makeEvent(t, company);
    const first = await mintAndJoin(t, company, event.id, {}, { id: "before-drop" });
    const sessionSub = (await liveOn(baseOfB())).subscribe(SESSION_UPDATES, { t: first.sessionToken });
    expect((await sessionSub.data()).sessionUpdates.active).toBe(true);
    const eventSub = (await liveOn(baseOfB(), company.key)).subscribe(EVENT_LIVE, { id: event.id });
    expect((await eventSub.data()).eventLive).toMatchObject({ snapshot: true, participantCount: 1 });

    await t.db.dataSource.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
      [FEED_APPLICATION_NAME],
    );
    expect(
      await eventually(
        async () => b.app.changes.live,
        (live) => !live,
      ),
    ).toBe(false);

    // Back: a snapshot each, whatever was missed.
    expect(
      await eventually(
        async () => b.app.changes.live,
        (live) => live,
        15_000,
      ),
    ).toBe(true);
    expect((await sessionSub.data(15_000)).sessionUpdates).toMatchObject({ active: true, role: "ATTENDEE" });
    const snapshot = (await eventSub.data(15_000)).eventLive;
    expect(snapshot.snapshot).toBe(true);
    expect(snapshot.participants.map((p: { sessionId: string }) => p.sessionId)).toContain(first.session.id);
  });
});
