/**
 * eventLive over /graphql/ws: an organizer (API key, or an ORGANIZER session token of the event)
 * sees who is in and who knocks: a snapshot, then the changes as they commit.
 */
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { addPrincipals, mintAndJoin, removePrincipals } from "../join/join-helpers";
import { connectLive, EVENT_LIVE, LiveClient } from "./live-helpers";

const t = useTestApp();
let company: TestCompany;
const clients: LiveClient[] = [];

beforeAll(async () => {
  company = await makeCompany(t);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

async function live(bearer?: string): Promise<LiveClient> {
  const client = await connectLive(t.url, bearer ? { authorization: `Bearer ${bearer}` } : undefined);
  clients.push(client);
  return client;
}

const KNOCK = `mutation($input: RequestToJoinInput!) { requestToJoin(input: $input) { request { id } secret } }`;
const DENY = `mutation($id: ID!) { denyJoinRequest(id: $id) { id status } }`;
const KICK = `mutation($id: ID!) { endSession(id: $id) { id } }`;

describe("eventLive with the company's API key", () => {
  it("a snapshot of who is in, then a knock, a join, a decision and a departure", async () => {
    const event = await makeEvent(t, company, { privacy: "PRIVATE", knockingEnabled: true });
    const early = await mintAndJoin(t, company, event.id, {}, { id: "early", name: "Early Bird" });
    const subscription = (await live(company.key)).subscribe(EVENT_LIVE, { id: event.id });

    const snapshot = (await subscription.data()).eventLive;
    expect(snapshot).toMatchObject({
      snapshot: true,
      eventId: event.id,
      participantCount: 1,
      departures: [],
      joinRequests: [],
    });
    expect(snapshot.participants).toEqual([
      expect.objectContaining({ sessionId: early.session.id, name: "Early Bird", role: "ATTENDEE", isGuest: false }),
    ]);

    const knock = ok(await t.gql(KNOCK, { input: { event: event.id, name: "Knocker" } })).requestToJoin;
    expect((await subscription.data()).eventLive).toMatchObject({
      snapshot: false,
      participants: [],
      joinRequests: [{ id: knock.request.id, status: "PENDING", name: "Knocker" }],
    });

    const late = await mintAndJoin(t, company, event.id, {}, { id: "late", name: "Late Comer" });
    expect((await subscription.data()).eventLive).toMatchObject({
      snapshot: false,
      participantCount: 2,
      participants: [{ sessionId: late.session.id, name: "Late Comer", role: "ATTENDEE" }],
    });

    ok(await t.gql(DENY, { id: knock.request.id }, { key: company.key }));
    expect((await subscription.data()).eventLive.joinRequests).toEqual([
      { id: knock.request.id, status: "DENIED", name: "Knocker" },
    ]);

    ok(await t.gql(KICK, { id: early.session.id }, { key: company.key }));
    expect((await subscription.data()).eventLive).toMatchObject({
      participantCount: 1,
      participants: [],
      departures: [{ sessionId: early.session.id, endReason: "KICKED" }],
    });
  });

  it("another company's event is NOT_FOUND, and the connection stays open", async () => {
    const other = await makeCompany(t);
    const event = await makeEvent(t, other);
    const client = await live(company.key);
    const refused = await client.subscribe(EVENT_LIVE, { id: event.id }).next();
    expect(refused.kind === "next" && refused.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    const own = await makeEvent(t, company);
    expect((await client.subscribe(EVENT_LIVE, { id: own.id }).data()).eventLive.snapshot).toBe(true);
  });
});

describe("eventLive with an organizer's session token", () => {
  it("admits a live ORGANIZER of the event, and closes with 4403 once the organizer is taken off the list", async () => {
    const event = await makeEvent(t, company, { organizers: [{ userId: "boss" }] });
    const boss = await mintAndJoin(t, company, event.id, {}, { id: "boss", name: "Boss" });
    const client = await live(boss.sessionToken);
    const subscription = client.subscribe(EVENT_LIVE, { id: event.id });
    expect((await subscription.data()).eventLive.participants).toEqual([
      expect.objectContaining({ sessionId: boss.session.id, role: "ORGANIZER" }),
    ]);

    await removePrincipals(t, company, event.id, "ORGANIZER", [{ userId: "boss" }]);
    const refused = await subscription.next();
    expect(refused).toMatchObject({ kind: "error", errors: [{ extensions: { code: "FORBIDDEN" } }] });
    expect((await client.closed).code).toBe(4403);
  });

  it("refuses an attendee (4403) and no credential at all (4401)", async () => {
    const event = await makeEvent(t, company);
    const attendee = await mintAndJoin(t, company, event.id);
    const asAttendee = await live(attendee.sessionToken);
    const refused = await asAttendee.subscribe(EVENT_LIVE, { id: event.id }).next();
    expect(refused.kind === "next" && refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await asAttendee.closed).code).toBe(4403);

    const anonymous = await live();
    const unauthenticated = await anonymous.subscribe(EVENT_LIVE, { id: event.id }).next();
    expect(unauthenticated.kind === "next" && unauthenticated.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect((await anonymous.closed).code).toBe(4401);
  });

  it("an organizer of another event is refused for this one", async () => {
    const mine = await makeEvent(t, company, { organizers: [{ userId: "boss2" }] });
    const theirs = await makeEvent(t, company, { organizers: [{ userId: "boss2" }] });
    const boss = await mintAndJoin(t, company, mine.id, {}, { id: "boss2" });
    await addPrincipals(t, company, theirs.id, "PRESENTER", [{ userId: "x" }]);
    const client = await live(boss.sessionToken);
    const refused = await client.subscribe(EVENT_LIVE, { id: theirs.id }).next();
    expect(refused.kind === "next" && refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await client.closed).code).toBe(4403);
  });
});
