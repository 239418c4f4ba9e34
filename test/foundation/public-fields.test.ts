import { readFileSync } from "node:fs";
import { join } from "node:path";
import { getNamedType, GraphQLObjectType, GraphQLSchema, isObjectType } from "graphql";
import { getMetadataStorage } from "type-graphql";
import { getSchema } from "../../src/graphql/schema";
import { codeOf, GqlResponse, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { addPrincipals, mint, removePrincipals } from "../join/join-helpers";

/*
 * What a caller without an API key can read (src/graphql/access.ts): every field of every type
 * reachable from the operations callable without a key carries a rule, and this is the written
 * list of them. A field added to one of these types, or a type newly reachable, fails here until
 * it is given a rule and written down.
 */

const SELF = "self";
const PARTICIPANT = "participant";
const ORGANIZER = "organizer-or-key";
const KEY = "key";
const PUBLIC = "public";

const rules = (type: string, rule: string, fields: string[]) =>
  Object.fromEntries(fields.map((f) => [`${type}.${f}`, rule]));

const ALLOW_LIST: Record<string, string> = {
  // Operations without an API key: each checks the credential it is given.
  ...rules("Mutation", PUBLIC, [
    "joinEvent",
    "heartbeat",
    "leaveEvent",
    "endSession",
    "requestToJoin",
    "approveJoinRequest",
    "denyJoinRequest",
    "createReportLink",
  ]),
  ...rules("Query", PUBLIC, ["joinRequest", "validateToken", "liveEvent", "eventAnalytics"]),
  // Live push (/graphql/ws): each checks its session token, or the connection's bearer.
  ...rules("Subscription", PUBLIC, ["sessionUpdates", "eventLive"]),

  ...rules("JoinResult", SELF, ["session", "sessionToken", "sessionTokenExpiresAt", "role"]),
  ...rules("SessionState", SELF, [
    "session",
    "role",
    "active",
    "endReason",
    "sessionToken",
    "sessionTokenExpiresAt",
    "ejectAt",
  ]),
  ...rules("Session", SELF, [
    "id",
    "eventId",
    "userId",
    "registrantId",
    "role",
    "credentialType",
    "joinedAt",
    "lastSeenAt",
    "endedAt",
    "endReason",
    "ejectAt",
    "active",
    "durationSeconds",
    "metadata",
    "event",
    "user",
  ]),
  "Session.registrant": KEY,
  ...rules("User", SELF, [
    "id",
    "externalId",
    "email",
    "name",
    "avatarUrl",
    "metadata",
    "isGuest",
    "createdAt",
    "updatedAt",
  ]),
  "User.sessions": KEY,
  "User.createdVia": KEY,
  "User.suspendedAt": KEY,

  // The event's public face for the people in it…
  ...rules("Event", PARTICIPANT, [
    "id",
    "name",
    "slug",
    "privacy",
    "knockingEnabled",
    "startsAt",
    "endsAt",
    "endedAt",
    "status",
    "joinUrl",
  ]),
  // …its configuration and its lists of people for its organizers and the company…
  ...rules("Event", ORGANIZER, [
    "capacity",
    "sessionPolicy",
    "maxSessionsPerUser",
    "createdAt",
    "updatedAt",
    "organizers",
    "presenters",
    "joinRequests",
  ]),
  // …and the company's records behind its key.
  ...rules("Event", KEY, ["registrants", "sessions", "analytics"]),
  ...rules("Principal", ORGANIZER, ["role", "userId", "email"]),

  ...rules("JoinRequestTicket", SELF, ["request", "secret"]),
  ...rules("JoinRequest", SELF, [
    "id",
    "eventId",
    "status",
    "name",
    "email",
    "role",
    "denyReason",
    "createdAt",
    "expiresAt",
    "decidedAt",
    "usedAt",
    "credential",
  ]),
  ...rules("JoinRequestConnection", PUBLIC, ["edges", "pageInfo", "totalCount"]),
  ...rules("JoinRequestEdge", PUBLIC, ["cursor", "node"]),
  ...rules("PageInfo", PUBLIC, ["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]),

  ...rules("TokenValidation", PUBLIC, ["valid", "errorCode", "tokenType", "claims", "expiresAt", "admits"]),
  // The holder learns whom the credential admits; the user and the event keep their own rules.
  ...rules("Admission", PUBLIC, ["user", "event", "role"]),

  ...rules("LiveEvent", ORGANIZER, ["event", "participantCount", "participants"]),
  ...rules("LiveParticipant", ORGANIZER, ["sessionId", "name", "role", "isGuest", "joinedAt"]),
  ...rules("EventLiveUpdate", ORGANIZER, [
    "snapshot",
    "eventId",
    "participantCount",
    "participants",
    "departures",
    "joinRequests",
  ]),
  ...rules("LiveDeparture", ORGANIZER, ["sessionId", "endReason", "endedAt"]),

  // An event's report, for its report link (and the company's key): an organizer's reading.
  ...rules("ReportLink", PUBLIC, ["url", "expiresAt", "jti"]),
  ...rules("EventAnalytics", ORGANIZER, [
    "asOf",
    "from",
    "to",
    "event",
    "registrants",
    "attendees",
    "attendanceRate",
    "sessions",
    "totalAttendanceSeconds",
    "averageAttendanceSeconds",
    "peakConcurrentSessions",
    "timeline",
    "breakdown",
    "attendeeList",
  ]),
  ...rules("TimelineBucket", PUBLIC, ["start", "activeSessions", "joins"]),
  ...rules("BreakdownRow", PUBLIC, ["value", "attendees", "totalAttendanceSeconds"]),
  ...rules("AttendeeConnection", PUBLIC, ["edges", "pageInfo", "totalCount"]),
  ...rules("AttendeeEdge", PUBLIC, ["cursor", "node"]),
  ...rules("Attendee", PUBLIC, ["metadata", "firstJoinedAt", "totalAttendanceSeconds", "sessions", "role", "user"]),
  "Attendee.registrant": KEY,
};

/** Root fields with @Authorized: their operation refuses a caller without a key before any field. */
function authorizedRootFields(): Set<string> {
  const storage = getMetadataStorage();
  const names = new Set<string>();
  for (const auth of storage.authorizedFields) {
    for (const handler of [...storage.queries, ...storage.mutations, ...storage.subscriptions]) {
      if (handler.target === auth.target && handler.methodName === auth.fieldName) names.add(handler.schemaName);
    }
  }
  return names;
}

/**
 * Every `Type.field` a caller without an API key can reach, with its rule ("none" when it has
 * none): from each root field that is not @Authorized, through every field except those a key
 * guards (a keyless caller never gets past them).
 */
function reachableWithoutKey(schema: GraphQLSchema): Record<string, string> {
  const found: Record<string, string> = {};
  const authorized = authorizedRootFields();
  const queue: GraphQLObjectType[] = [];
  const seen = new Set<string>();
  const visit = (type: GraphQLObjectType, fieldName: string) => {
    const field = type.getFields()[fieldName];
    const rule = (field.extensions.access as string | undefined) ?? "none";
    found[`${type.name}.${fieldName}`] = rule;
    const target = getNamedType(field.type);
    if (rule !== KEY && isObjectType(target) && !seen.has(target.name)) {
      seen.add(target.name);
      queue.push(target);
    }
  };
  for (const root of [schema.getQueryType()!, schema.getMutationType()!, schema.getSubscriptionType()!]) {
    for (const name of Object.keys(root.getFields())) if (!authorized.has(name)) visit(root, name);
  }
  while (queue.length > 0) {
    const type = queue.shift()!;
    for (const name of Object.keys(type.getFields())) visit(type, name);
  }
  return found;
}

describe("fields reachable without an API key", () => {
  it("each has the rule the written allow-list gives it, and none is missing from the list", async () => {
    expect(reachableWithoutKey(await getSchema())).toEqual(ALLOW_LIST);
  });

  it("the walk catches an operation, a field and a rule that the list does not have", async () => {
    const schema = await getSchema();
    const session = schema.getType("Session") as GraphQLObjectType;
    const event = session.getFields().event;
    const user = session.getFields().user;
    const saved = [event.extensions, user.extensions];
    try {
      // A rule loosened, and a guard removed, as a careless change would.
      (event as { extensions: unknown }).extensions = { ...event.extensions, access: KEY };
      (user as { extensions: unknown }).extensions = { ...user.extensions, access: undefined };
      const found = reachableWithoutKey(schema);
      expect(found["Session.event"]).toBe(KEY);
      expect(found["User.name"]).toBe(SELF);
      expect(found["Session.user"]).toBe("none");
      expect(found).not.toEqual(ALLOW_LIST);
    } finally {
      (event as { extensions: unknown }).extensions = saved[0];
      (user as { extensions: unknown }).extensions = saved[1];
    }
  });
});

// ---- Through HTTP --------------------------------------------------------------------------------

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const BOSS = "boss@example.com";
const SPEAKER = "speaker@example.com";
const LISTS = "organizers { userId email } presenters { userId email }";

const GUEST_JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken role session { id } } }`;
const JOIN_READING_LISTS = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken role session { event { ${LISTS} } } } }`;
const BEAT_READING_LISTS = `mutation($t: String!) { heartbeat(sessionToken: $t) { active role session { event { ${LISTS} } } } }`;
const BEAT_READING_FACE = `mutation($t: String!) { heartbeat(sessionToken: $t) { active role endReason session { id role user { name } event { id name startsAt endsAt } } } }`;
const END = `mutation($id: ID!) { endSession(id: $id, ban: true) { id endReason } }`;

async function listedEvent(input: Record<string, unknown> = {}) {
  return makeEvent(t, company, {
    privacy: "PUBLIC",
    organizers: [{ email: BOSS }, { userId: "boss-ext" }],
    presenters: [{ email: SPEAKER }],
    ...input,
  });
}

/** The response says nothing of the lists: no entry, no email. */
function expectNoLists(response: GqlResponse) {
  const text = JSON.stringify(response);
  expect(text).not.toContain(BOSS);
  expect(text).not.toContain(SPEAKER);
  expect(text).not.toContain("boss-ext");
}

const codes = (response: GqlResponse) => [...new Set(response.errors?.map((e) => e.extensions?.code))];

const expectedLists = {
  organizers: expect.arrayContaining([
    { userId: null, email: BOSS },
    { userId: "boss-ext", email: null },
  ]),
  presenters: [{ userId: null, email: SPEAKER }],
};

describe("organizer and presenter lists through joinEvent and heartbeat", () => {
  it("a guest reads its own session and the event's public face, but not the lists (FORBIDDEN, nothing shown)", async () => {
    const event = await listedEvent({ name: "Town hall" });
    const asked = await t.gql(JOIN_READING_LISTS, { input: { event: event.id, displayName: "Nosy" } });
    expect(codes(asked)).toEqual(["FORBIDDEN"]);
    expectNoLists(asked);

    const guest = ok(await t.gql(GUEST_JOIN, { input: { event: event.id, displayName: "Nosy" } })).joinEvent;
    const lists = await t.gql(BEAT_READING_LISTS, { t: guest.sessionToken });
    expect(codes(lists)).toEqual(["FORBIDDEN"]);
    expectNoLists(lists);

    const face = ok(await t.gql(BEAT_READING_FACE, { t: guest.sessionToken })).heartbeat;
    expect(face).toMatchObject({
      active: true,
      role: "ATTENDEE",
      session: {
        id: guest.session.id,
        role: "ATTENDEE",
        user: { name: "Nosy" },
        event: { id: event.id, name: "Town hall" },
      },
    });

    // The event's configuration is the organizers' too.
    const config = await t.gql(
      `mutation($t: String!) { heartbeat(sessionToken: $t) { session { event { capacity sessionPolicy createdAt } } } }`,
      { t: guest.sessionToken },
    );
    expect(codes(config)).toEqual(["FORBIDDEN"]);
  });

  it("a banned guest still learns why it ended, and still not the lists", async () => {
    const event = await listedEvent();
    const guest = ok(await t.gql(GUEST_JOIN, { input: { event: event.id, displayName: "Troll" } })).joinEvent;
    ok(await t.gql(END, { id: guest.session.id }, { key: company.key }));

    const lists = await t.gql(BEAT_READING_LISTS, { t: guest.sessionToken });
    expect(codes(lists)).toEqual(["FORBIDDEN"]);
    expectNoLists(lists);
    const left = await t.gql(
      `mutation($t: String!) { leaveEvent(sessionToken: $t) { endReason event { ${LISTS} } } }`,
      { t: guest.sessionToken },
    );
    expect(codes(left)).toEqual(["FORBIDDEN"]);
    expectNoLists(left);
    expect(ok(await t.gql(BEAT_READING_FACE, { t: guest.sessionToken })).heartbeat).toMatchObject({
      active: false,
      endReason: "KICKED",
    });
  });

  it("an attendee with a minted token, and another company's key, cannot read them either", async () => {
    const event = await listedEvent({ privacy: "PRIVATE" });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "plain-1", email: "plain@example.com" } });
    const asked = await t.gql(JOIN_READING_LISTS, { input: { event: event.id, credential: minted.token } });
    expect(codes(asked)).toEqual(["FORBIDDEN"]);
    expectNoLists(asked);

    const other = await makeCompany(t);
    const guest = ok(
      await t.gql(GUEST_JOIN, { input: { event: (await listedEvent()).id, displayName: "Rival" } }),
    ).joinEvent;
    const viaOtherKey = await t.gql(BEAT_READING_LISTS, { t: guest.sessionToken }, { key: other.key });
    expect(codes(viaOtherKey)).toEqual(["FORBIDDEN"]);
    expectNoLists(viaOtherKey);
  });

  it("an ORGANIZER session of the event reads them: its own join and heartbeat, and its token as bearer", async () => {
    const event = await listedEvent({ privacy: "PRIVATE" });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "boss-1", email: BOSS } });
    const joined = ok(
      await t.gql(JOIN_READING_LISTS, { input: { event: event.id, credential: minted.token } }),
    ).joinEvent;
    expect(joined.role).toBe("ORGANIZER");
    expect(joined.session.event).toEqual(expectedLists);
    expect(ok(await t.gql(BEAT_READING_LISTS, { t: joined.sessionToken })).heartbeat.session.event).toEqual(
      expectedLists,
    );
    const live = ok(
      await t.gql(`query { liveEvent { event { ${LISTS} capacity } } }`, {}, { key: joined.sessionToken }),
    ).liveEvent;
    expect(live.event).toEqual({ ...expectedLists, capacity: null });

    // An organizer of another event of the company is nobody here.
    const elsewhere = await listedEvent();
    const guest = ok(await t.gql(GUEST_JOIN, { input: { event: elsewhere.id, displayName: "Visitor" } })).joinEvent;
    const crossed = await t.gql(BEAT_READING_LISTS, { t: guest.sessionToken }, { key: joined.sessionToken });
    expect(codes(crossed)).toEqual(["FORBIDDEN"]);
  });

  it("taken off the organizer list, the same session loses them at its next heartbeat; ended, at once", async () => {
    const event = await listedEvent({ privacy: "PRIVATE" });
    await addPrincipals(t, company, event.id, "ORGANIZER", [{ email: "temp@example.com" }]);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "temp-1", email: "temp@example.com" } });
    const joined = ok(
      await t.gql(JOIN_READING_LISTS, { input: { event: event.id, credential: minted.token } }),
    ).joinEvent;
    expect(joined.role).toBe("ORGANIZER");

    await removePrincipals(t, company, event.id, "ORGANIZER", [{ email: "temp@example.com" }]);
    const demoted = await t.gql(BEAT_READING_LISTS, { t: joined.sessionToken });
    expect(codes(demoted)).toEqual(["FORBIDDEN"]);
    expectNoLists(demoted);
    expect(codes(await t.gql(`query { liveEvent { event { ${LISTS} } } }`, {}, { key: joined.sessionToken }))).toEqual([
      "FORBIDDEN",
    ]);

    // A granted organizer who has left reads its own session, not the lists.
    const granted = await mint(t, company, { eventId: event.id, role: "ORGANIZER", user: { id: "host-1" } });
    const host = ok(await t.gql(GUEST_JOIN, { input: { event: event.id, credential: granted.token } })).joinEvent;
    expect(host.role).toBe("ORGANIZER");
    const left = await t.gql(
      `mutation($t: String!) { leaveEvent(sessionToken: $t) { endReason event { ${LISTS} } } }`,
      { t: host.sessionToken },
    );
    expect(codes(left)).toEqual(["FORBIDDEN"]);
  });

  it("the company's key reads them, directly and through a join it makes", async () => {
    const event = await listedEvent();
    expect(
      ok(await t.gql(`query($id: ID!) { event(id: $id) { ${LISTS} } }`, { id: event.id }, { key: company.key })).event,
    ).toEqual(expectedLists);
    const joined = ok(
      await t.gql(JOIN_READING_LISTS, { input: { event: event.id, displayName: "Staff" } }, { key: company.key }),
    ).joinEvent;
    expect(joined.session.event).toEqual(expectedLists);
  });

  it("a keyless caller gets UNAUTHENTICATED for the company's records and FORBIDDEN for another's user", async () => {
    const event = await listedEvent();
    const guest = ok(await t.gql(GUEST_JOIN, { input: { event: event.id, displayName: "Walker" } })).joinEvent;
    const records = await t.gql(
      `mutation($t: String!) { heartbeat(sessionToken: $t) { session { registrant { id } user { sessions { totalCount } } event { sessions { totalCount } } } } }`,
      { t: guest.sessionToken },
    );
    expect(codes(records)).toEqual(["UNAUTHENTICATED"]);
    expect(records.data ?? null).toBeNull();

    // An organizer who kicks someone sees the session it ended, not that person's profile.
    const granted = await mint(t, company, { eventId: event.id, role: "ORGANIZER", user: { id: "kicker-1" } });
    const host = ok(await t.gql(GUEST_JOIN, { input: { event: event.id, credential: granted.token } })).joinEvent;
    const kicked = await t.gql(
      `mutation($id: ID!) { endSession(id: $id) { id endReason user { name } } }`,
      { id: guest.session.id },
      { key: host.sessionToken },
    );
    expect(codes(kicked)).toEqual(["FORBIDDEN"]);
    expect(JSON.stringify(kicked)).not.toContain("Walker");
  });
});

describe("the join page's own queries", () => {
  /** The page's GraphQL documents, exactly as src/http/join-page/join.js writes them. */
  function pageQueries(): Record<string, string> {
    const source = readFileSync(join(__dirname, "../../src/http/join-page/join.js"), "utf8");
    const piece = (name: string) => new RegExp(`const ${name} = ([\\s\\S]*?);\\n`).exec(source)?.[1];
    const [user, event, queries] = [piece("USER"), piece("EVENT"), piece("Q")];
    if (!user || !event || !queries)
      throw new Error("join.js no longer declares USER, EVENT and Q as this test reads them");
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- runs join.js's own query table, read from its source
    return new Function("USER", "EVENT", `return (${queries});`)(JSON.parse(user), JSON.parse(event));
  }

  it("all answer a guest, a knocker and an organizer without errors", async () => {
    const Q = pageQueries();
    expect(Object.keys(Q).sort()).toEqual([
      "approve",
      "beat",
      "deny",
      "join",
      "knock",
      "leave",
      "live",
      "poll",
      "resume",
    ]);
    const event = await listedEvent({ privacy: "PRIVATE", knockingEnabled: true });
    const host = ok(
      await t.gql(Q.join, {
        input: {
          event: event.id,
          credential: (await mint(t, company, { eventId: event.id, user: { id: "page-boss", email: BOSS } })).token,
        },
      }),
    ).joinEvent;
    expect(host.role).toBe("ORGANIZER");

    const first = ok(
      await t.gql(Q.knock, { input: { event: event.id, name: "Knocker", email: "knocker@example.com" } }),
    ).requestToJoin;
    const second = ok(await t.gql(Q.knock, { input: { event: event.id, name: "Other" } })).requestToJoin;
    expect(ok(await t.gql(Q.poll, { id: first.request.id, s: first.secret })).joinRequest).toEqual({
      status: "PENDING",
      credential: null,
    });
    const live = ok(await t.gql(Q.live, {}, { key: host.sessionToken })).liveEvent;
    expect(live.event.joinRequests.edges.map((e: any) => e.node.email)).toEqual(["knocker@example.com", null]);
    ok(await t.gql(Q.approve, { id: first.request.id }, { key: host.sessionToken }));
    ok(await t.gql(Q.deny, { id: second.request.id }, { key: host.sessionToken }));

    const approved = ok(await t.gql(Q.poll, { id: first.request.id, s: first.secret })).joinRequest;
    const knocker = ok(await t.gql(Q.join, { input: { event: event.id, credential: approved.credential } })).joinEvent;
    expect(knocker.session.event).toMatchObject({ id: event.id });
    const resumed = ok(await t.gql(Q.resume, { t: knocker.sessionToken })).heartbeat;
    expect(resumed.session.user.name).toBe("Knocker");
    ok(await t.gql(Q.beat, { t: resumed.sessionToken }));
    expect(ok(await t.gql(Q.leave, { t: resumed.sessionToken })).leaveEvent.endReason).toBe("LEFT");

    const open = await listedEvent();
    const guest = ok(await t.gql(Q.join, { input: { event: open.id, displayName: "Walk-in" } })).joinEvent;
    expect(guest.session.user.name).toBe("Walk-in");
    expect(codeOf(await t.gql(Q.live, {}, { key: guest.sessionToken }))).toBe("FORBIDDEN");
  });
});
