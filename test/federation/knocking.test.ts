import { createHash } from "node:crypto";
import { codeOf, GqlResponse, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import {
  addPrincipals,
  BEAT,
  dbState,
  decodePart,
  expectRefused,
  joinRaw,
  mintAndJoin,
  updateSettings,
} from "../join/join-helpers";

const t = useTestApp();

const FIELDS = "id eventId status name email role denyReason createdAt expiresAt decidedAt usedAt credential";
const KNOCK = `mutation($input: RequestToJoinInput!) { requestToJoin(input: $input) { request { ${FIELDS} } secret } }`;
const POLL = `query($id: ID!, $secret: String) { joinRequest(id: $id, secret: $secret) { ${FIELDS} } }`;
const APPROVE = `mutation($id: ID!, $role: Role) { approveJoinRequest(id: $id, role: $role) { ${FIELDS} } }`;
const DENY = `mutation($id: ID!, $reason: String) { denyJoinRequest(id: $id, reason: $reason) { ${FIELDS} } }`;
const LIST = `query($id: ID!, $status: JoinRequestStatus, $first: Int, $after: String) {
  event(id: $id) { joinRequests(status: $status, first: $first, after: $after) {
    edges { cursor node { ${FIELDS} } } pageInfo { hasNextPage endCursor } } }
}`;

interface JoinRequest {
  id: string;
  eventId: string;
  status: string;
  name: string;
  email: string | null;
  role: string | null;
  denyReason: string | null;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  usedAt: string | null;
  credential: string | null;
}

async function privateEvent(company: TestCompany, input: Record<string, unknown> = {}): Promise<TestEvent> {
  return makeEvent(t, company, { privacy: "PRIVATE", knockingEnabled: true, ...input });
}

async function knock(event: string, name = "Kim", email?: string): Promise<{ request: JoinRequest; secret: string }> {
  return ok(await t.gql(KNOCK, { input: { event, name, email } })).requestToJoin;
}

async function poll(id: string, secret: string): Promise<JoinRequest | null> {
  return ok(await t.gql(POLL, { id, secret })).joinRequest;
}

const approve = (key: string, id: string, role?: string): Promise<GqlResponse> => t.gql(APPROVE, { id, role }, { key });
const deny = (key: string, id: string, reason?: string): Promise<GqlResponse> => t.gql(DENY, { id, reason }, { key });

async function list(company: TestCompany, eventId: string, vars: Record<string, unknown> = {}) {
  return ok(await t.gql(LIST, { id: eventId, ...vars }, { key: company.key })).event.joinRequests as {
    edges: { cursor: string; node: JoinRequest }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const rowOf = async (id: string): Promise<Record<string, any>> =>
  (await t.db.dataSource.query("SELECT * FROM join_requests WHERE id = $1", [id]))[0];

describe("requestToJoin", () => {
  it("knocks on a PRIVATE event with knocking on: PENDING, with a secret shown once and stored only as its SHA-256", async () => {
    const company = await makeCompany(t);
    await updateSettings(t, company, { joinRequestTtlSeconds: 600 });
    const event = await privateEvent(company);
    const { request, secret } = await knock(`${company.slug}/${event.slug}`, "  Kim Lee ", "Kim@Example.com");
    expect(request).toMatchObject({
      eventId: event.id,
      status: "PENDING",
      name: "Kim Lee",
      email: "Kim@Example.com",
      role: null,
      credential: null,
    });
    expect(new Date(request.expiresAt).getTime() - t.clock.now().getTime()).toBe(600_000);
    expect(secret).toMatch(/^jrq_[A-Za-z0-9_-]{43}$/);

    const row = await rowOf(request.id);
    expect(row.secret_hash).toBe(createHash("sha256").update(secret).digest("hex"));
    expect(JSON.stringify(await dbState(t))).not.toContain(secret);
    expect(JSON.stringify(await dbState(t))).not.toContain(secret.slice(4));
    expect(t.logs.join("")).not.toContain(secret);
  });

  it("refuses a PUBLIC event (join as a guest), a PRIVATE one without knocking, an ended one and bad input, changing nothing", async () => {
    const company = await makeCompany(t);
    const open = await makeEvent(t, company, { privacy: "PUBLIC" });
    await expectRefused(t, () => t.gql(KNOCK, { input: { event: open.id, name: "Kim" } }), "BAD_USER_INPUT", "event");
    const closed = await makeEvent(t, company, { privacy: "PRIVATE" });
    await expectRefused(t, () => t.gql(KNOCK, { input: { event: closed.id, name: "Kim" } }), "CREDENTIAL_REQUIRED");
    const over = await privateEvent(company);
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: over.id }, { key: company.key }));
    await expectRefused(t, () => t.gql(KNOCK, { input: { event: over.id, name: "Kim" } }), "EVENT_ENDED");

    const event = await privateEvent(company);
    await expectRefused(t, () => t.gql(KNOCK, { input: { event: event.id, name: "   " } }), "BAD_USER_INPUT", "name");
    await expectRefused(
      t,
      () => t.gql(KNOCK, { input: { event: event.id, name: "Kim", email: "not an email" } }),
      "BAD_USER_INPUT",
      "email",
    );
    await expectRefused(
      t,
      () => t.gql(KNOCK, { input: { event: event.id, name: "K\u0000m" } }),
      "BAD_USER_INPUT",
      "name",
    );
    await expectRefused(
      t,
      () => t.gql(KNOCK, { input: { event: "00000000-0000-4000-8000-000000000000", name: "Kim" } }),
      "NOT_FOUND",
    );
  });

  it("leaves joinEvent without a credential CREDENTIAL_REQUIRED on a knocking event", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const refused = await expectRefused(
      t,
      () => joinRaw(t, { event: event.id, displayName: "Kim" }),
      "CREDENTIAL_REQUIRED",
    );
    expect(refused.errors![0].message).toMatch(/requestToJoin/);
  });
});

describe("the knock, approved", () => {
  it("pending → listed for the organizer → approved → polled credential → joins as a guest with the approved role, once", async () => {
    const company = await makeCompany(t);
    // The knocker gives an organizer's email: unverified, so it must not make them an organizer.
    const event = await privateEvent(company, { organizers: [{ email: "boss@example.com" }] });
    const { request, secret } = await knock(event.id, "Kim", "Boss@Example.com");
    expect(await poll(request.id, secret)).toMatchObject({ status: "PENDING", credential: null });

    const lobby = await list(company, event.id, { status: "PENDING" });
    expect(lobby.edges.map((e) => e.node)).toEqual([
      expect.objectContaining({ id: request.id, name: "Kim", status: "PENDING", credential: null }),
    ]);

    const approved = ok(await approve(company.key, request.id, "PRESENTER")).approveJoinRequest;
    expect(approved).toMatchObject({ status: "APPROVED", role: "PRESENTER", credential: null });
    expect(approved.decidedAt).not.toBeNull();
    // The organizer sees it, never its credential.
    expect(ok(await t.gql(POLL, { id: request.id }, { key: company.key })).joinRequest).toMatchObject({
      status: "APPROVED",
      credential: null,
    });
    expect((await list(company, event.id)).edges[0].node.credential).toBeNull();

    const polled = (await poll(request.id, secret))!;
    expect(polled.status).toBe("APPROVED");
    expect(polled.credential).toEqual(expect.any(String));
    const claims = decodePart(polled.credential!, 1);
    expect(claims).toMatchObject({
      evt: event.id,
      jrq: request.id,
      jti: request.id,
      sub: `join-request:${request.id}`,
      aud: "admit:join",
    });
    expect(claims.exp - claims.iat).toBe(600);
    expect(decodePart(polled.credential!, 0).typ).toBe("join+jwt");
    const seatsBefore = ok(await t.gql(`{ company { seatsUsed } }`, {}, { key: company.key })).company.seatsUsed;

    const joined = ok(await joinRaw(t, { event: event.id, credential: polled.credential })).joinEvent;
    expect(joined.role).toBe("PRESENTER");
    expect(joined.session.credentialType).toBe("JOIN_TOKEN");
    expect(joined.session.user).toMatchObject({ isGuest: true, name: "Kim", email: null, externalId: null });
    expect(joined.session.metadata).toEqual({ joinRequestId: request.id, unverifiedEmail: "Boss@Example.com" });
    expect(ok(await t.gql(`{ company { seatsUsed } }`, {}, { key: company.key })).company.seatsUsed).toBe(seatsBefore);
    expect(ok(await t.gql(BEAT, { t: joined.sessionToken })).heartbeat).toMatchObject({
      active: true,
      role: "PRESENTER",
    });

    // Used: the poll says so and hands out nothing more; the same credential is refused.
    const after = (await poll(request.id, secret))!;
    expect(after).toMatchObject({ status: "APPROVED", credential: null });
    expect(after.usedAt).not.toBeNull();
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: polled.credential }), "TOKEN_REVOKED");
  });

  it("hands out a credential per poll, any one of which works once; a second poll's is refused after the first joined", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const { request, secret } = await knock(event.id);
    ok(await approve(company.key, request.id));
    const first = (await poll(request.id, secret))!.credential!;
    t.clock.advance(1);
    const second = (await poll(request.id, secret))!.credential!;
    expect(second).not.toBe(first);
    const VALIDATE = `query($token: String!) { validateToken(token: $token) { valid errorCode tokenType } }`;
    expect(ok(await t.gql(VALIDATE, { token: first })).validateToken).toEqual({
      valid: true,
      errorCode: null,
      tokenType: "join",
    });
    const joined = ok(await joinRaw(t, { event: event.id, credential: second })).joinEvent;
    expect(joined.role).toBe("ATTENDEE");
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: first }), "TOKEN_REVOKED");
    // validateToken agrees with joinEvent: a spent approval is revoked.
    expect(ok(await t.gql(VALIDATE, { token: first })).validateToken).toEqual({
      valid: false,
      errorCode: "TOKEN_REVOKED",
      tokenType: "join",
    });
  });

  it("refuses the credential on another event of the company (TOKEN_WRONG_EVENT) and after it expired", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const other = await privateEvent(company);
    const { request, secret } = await knock(event.id);
    ok(await approve(company.key, request.id));
    const credential = (await poll(request.id, secret))!.credential!;
    await expectRefused(t, () => joinRaw(t, { event: other.id, credential }), "TOKEN_WRONG_EVENT");
    t.clock.advance(601 + 30);
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential }), "TOKEN_EXPIRED");
    // A fresh poll still hands out a working one: the approval is not used yet.
    const fresh = (await poll(request.id, secret))!.credential!;
    ok(await joinRaw(t, { event: event.id, credential: fresh }));
  });

  it("lets concurrent joins with the credential open exactly one session", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const { request, secret } = await knock(event.id);
    ok(await approve(company.key, request.id));
    const credential = (await poll(request.id, secret))!.credential!;
    const answers = await Promise.all(Array.from({ length: 6 }, () => joinRaw(t, { event: event.id, credential })));
    expect(answers.filter((a) => !a.errors).length).toBe(1);
    expect(answers.filter((a) => codeOf(a) === "TOKEN_REVOKED").length).toBe(5);
    const sessions = await t.db.dataSource.query("SELECT count(*)::int AS n FROM sessions WHERE event_id = $1", [
      event.id,
    ]);
    expect(sessions[0].n).toBe(1);
  });
});

describe("the knock, denied or expired", () => {
  it("denied: DENIED with the reason for the requester, no credential; deciding again is refused", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const { request, secret } = await knock(event.id);
    const denied = ok(await deny(company.key, request.id, "  Not on the guest list. ")).denyJoinRequest;
    expect(denied).toMatchObject({
      status: "DENIED",
      denyReason: "Not on the guest list.",
      role: null,
      credential: null,
    });
    expect(await poll(request.id, secret)).toMatchObject({
      status: "DENIED",
      denyReason: "Not on the guest list.",
      credential: null,
    });
    await expectRefused(t, () => approve(company.key, request.id), "JOIN_REQUEST_DENIED");
    await expectRefused(t, () => deny(company.key, request.id), "JOIN_REQUEST_DENIED");
    await expectRefused(t, () => deny(company.key, request.id, "x".repeat(501)), "BAD_USER_INPUT", "reason");
  });

  it("approved twice: the second is refused (BAD_USER_INPUT on id) and changes nothing", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const { request } = await knock(event.id);
    ok(await approve(company.key, request.id, "ORGANIZER"));
    await expectRefused(t, () => approve(company.key, request.id, "ATTENDEE"), "BAD_USER_INPUT", "id");
    await expectRefused(t, () => deny(company.key, request.id), "BAD_USER_INPUT", "id");
  });

  it("expires when nobody decides in time: EXPIRED (and written down), cannot be approved, listed as EXPIRED", async () => {
    const company = await makeCompany(t);
    await updateSettings(t, company, { joinRequestTtlSeconds: 60 });
    const event = await privateEvent(company);
    const { request, secret } = await knock(event.id);
    const stale = await knock(event.id, "Late");
    t.clock.advance(61);
    expect((await list(company, event.id, { status: "PENDING" })).edges).toEqual([]);
    expect((await list(company, event.id, { status: "EXPIRED" })).edges.map((e) => e.node.id).sort()).toEqual(
      [request.id, stale.request.id].sort(),
    );
    expect(await poll(request.id, secret)).toMatchObject({ status: "EXPIRED", credential: null });
    expect((await rowOf(request.id)).status).toBe("EXPIRED");
    // The other one is written down by the refused approval; the refusal is the only change.
    const refused = await approve(company.key, stale.request.id);
    expect([codeOf(refused), refused.errors![0].extensions!.field]).toEqual(["BAD_USER_INPUT", "id"]);
    expect(refused.errors![0].message).toMatch(/expired/);
    expect(await rowOf(stale.request.id)).toMatchObject({ status: "EXPIRED", decided_at: null, role: null });
    await expectRefused(t, () => approve(company.key, request.id), "BAD_USER_INPUT", "id");
  });

  it("cannot be decided once the event has ended (EVENT_ENDED)", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const { request } = await knock(event.id);
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: event.id }, { key: company.key }));
    await expectRefused(t, () => approve(company.key, request.id), "EVENT_ENDED");
  });
});

describe("concurrent decisions", () => {
  it("of 8 concurrent approvals exactly one changes the request; the others are told it is already approved", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const { request } = await knock(event.id);
    const roles = ["ATTENDEE", "PRESENTER", "ORGANIZER", "ATTENDEE", "PRESENTER", "ORGANIZER", "ATTENDEE", "PRESENTER"];
    const answers = await Promise.all(roles.map((role) => approve(company.key, request.id, role)));
    const winners = answers.filter((a) => !a.errors);
    expect(winners).toHaveLength(1);
    expect(answers.filter((a) => codeOf(a) === "BAD_USER_INPUT")).toHaveLength(7);
    const row = await rowOf(request.id);
    expect(row.status).toBe("APPROVED");
    expect(row.role).toBe(winners[0].data.approveJoinRequest.role);
  });

  it("approve against deny: one wins, the row says which, the losers are refused", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const { request, secret } = await knock(event.id);
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        i % 2 ? approve(company.key, request.id) : deny(company.key, request.id, "no"),
      ),
    );
    const winners = answers.filter((a) => !a.errors);
    expect(winners).toHaveLength(1);
    const won = winners[0].data.approveJoinRequest ?? winners[0].data.denyJoinRequest;
    expect((await rowOf(request.id)).status).toBe(won.status);
    const expectedLoss = won.status === "DENIED" ? "JOIN_REQUEST_DENIED" : "BAD_USER_INPUT";
    expect(answers.filter((a) => a.errors).map(codeOf)).toEqual(Array(7).fill(expectedLoss));
    expect((await poll(request.id, secret))!.status).toBe(won.status);
  });
});

describe("who may see and decide", () => {
  it("another company's key can neither see, list, approve nor deny (NOT_FOUND / null), and nothing changes", async () => {
    const company = await makeCompany(t);
    const other = await makeCompany(t);
    const event = await privateEvent(company);
    const { request } = await knock(event.id);
    expect(ok(await t.gql(POLL, { id: request.id }, { key: other.key })).joinRequest).toBeNull();
    expect(ok(await t.gql(LIST, { id: event.id }, { key: other.key })).event).toBeNull();
    await expectRefused(t, () => approve(other.key, request.id), "NOT_FOUND");
    await expectRefused(t, () => deny(other.key, request.id), "NOT_FOUND");
    await expectRefused(t, () => approve(company.key, "00000000-0000-4000-8000-000000000000"), "NOT_FOUND");
    await expectRefused(t, () => approve(company.key, "nope"), "NOT_FOUND");
    expect((await rowOf(request.id)).status).toBe("PENDING");
  });

  it("a wrong secret, another request's secret or a malformed id read as null; without secret or key it is UNAUTHENTICATED", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const mine = await knock(event.id);
    const theirs = await knock(event.id, "Lee");
    expect(await poll(mine.request.id, "jrq_" + "A".repeat(43))).toBeNull();
    expect(await poll(mine.request.id, theirs.secret)).toBeNull();
    expect(await poll(mine.request.id, "")).toBeNull();
    expect(await poll("not-an-id", mine.secret)).toBeNull();
    expect(await poll(mine.request.id, mine.secret)).toMatchObject({ id: mine.request.id });
    expect(codeOf(await t.gql(POLL, { id: mine.request.id }))).toBe("UNAUTHENTICATED");
  });

  it("an ORGANIZER session (bearer) lists and approves its event's requests; an ATTENDEE session cannot (FORBIDDEN)", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const elsewhere = await privateEvent(company);
    const organizer = await mintAndJoin(t, company, event.id, { role: "ORGANIZER" });
    const attendee = await mintAndJoin(t, company, event.id);
    const listedBoss = await mintAndJoin(t, company, elsewhere.id, {}, { id: "boss-1", email: "boss@example.com" });
    await addPrincipals(t, company, elsewhere.id, "ORGANIZER", [{ email: "boss@example.com" }]);
    const { request } = await knock(event.id);
    const theirs = await knock(elsewhere.id);

    await expectRefused(t, () => approve(attendee.sessionToken, request.id), "FORBIDDEN");
    // An organizer of another event: this request does not exist for it.
    await expectRefused(t, () => approve(listedBoss.sessionToken, request.id), "NOT_FOUND");
    expect(ok(await t.gql(POLL, { id: request.id }, { key: listedBoss.sessionToken })).joinRequest).toBeNull();

    // The embed page's lobby: the organizer's heartbeat, its session token as bearer.
    const LOBBY = `mutation($t: String!) { heartbeat(sessionToken: $t) { session { event { joinRequests(status: PENDING) { edges { node { id name credential } } } } } } }`;
    const lobby = ok(await t.gql(LOBBY, { t: organizer.sessionToken }, { key: organizer.sessionToken })).heartbeat
      .session.event.joinRequests;
    expect(lobby.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([request.id]);
    const attendeeLobby = await t.gql(LOBBY, { t: attendee.sessionToken }, { key: attendee.sessionToken });
    expect(codeOf(attendeeLobby)).toBe("FORBIDDEN");

    const approved = ok(await approve(organizer.sessionToken, request.id, "PRESENTER")).approveJoinRequest;
    expect(approved).toMatchObject({ status: "APPROVED", role: "PRESENTER", credential: null });
    expect((await rowOf(request.id)).decided_by).toBe(`session:${organizer.session.id}`);
    expect(ok(await deny(listedBoss.sessionToken, theirs.request.id)).denyJoinRequest.status).toBe("DENIED");

    // Removed from the organizers (it was a list entry, not a grant): the power goes at once.
    const other = await knock(elsewhere.id, "Third");
    ok(
      await t.gql(
        `mutation($input: EventPrincipalsInput!) { removeEventPrincipals(input: $input) { id } }`,
        { input: { eventId: elsewhere.id, role: "ORGANIZER", principals: [{ email: "boss@example.com" }] } },
        { key: company.key },
      ),
    );
    await expectRefused(t, () => approve(listedBoss.sessionToken, other.request.id), "FORBIDDEN");
  });

  it("an API key without MANAGE_EVENTS cannot decide or list (FORBIDDEN)", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const { request } = await knock(event.id);
    const reader = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "dash", scopes: [READ_ANALYTICS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    await expectRefused(t, () => approve(reader, request.id), "FORBIDDEN");
    expect(codeOf(await t.gql(LIST, { id: event.id }, { key: reader }))).toBe("FORBIDDEN");
  });
});

describe("Event.joinRequests", () => {
  it("pages oldest first with cursors, and filters by status", async () => {
    const company = await makeCompany(t);
    const event = await privateEvent(company);
    const ids: string[] = [];
    for (const name of ["A", "B", "C"]) ids.push((await knock(event.id, name)).request.id);
    ok(await deny(company.key, ids[1]));
    const first = await list(company, event.id, { first: 2 });
    expect(first.edges.map((e) => e.node.name)).toEqual(["A", "B"]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = await list(company, event.id, { first: 2, after: first.pageInfo.endCursor });
    expect(rest.edges.map((e) => e.node.name)).toEqual(["C"]);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    expect((await list(company, event.id, { status: "PENDING" })).edges.map((e) => e.node.name)).toEqual(["A", "C"]);
    expect((await list(company, event.id, { status: "DENIED" })).edges.map((e) => e.node.name)).toEqual(["B"]);
    expect(codeOf(await t.gql(LIST, { id: event.id, after: "junk" }, { key: company.key }))).toBe("BAD_USER_INPUT");
  });

  it("costs one statement for the requests of many events", async () => {
    const company = await makeCompany(t);
    const events = [await privateEvent(company), await privateEvent(company), await privateEvent(company)];
    for (const event of events) {
      await knock(event.id, "One");
      await knock(event.id, "Two");
    }
    const query = `{ events(first: 10) { edges { node { id joinRequests(status: PENDING) { edges { node { id name } } } } } } }`;
    const { result, statements } = await t.statements.count(() => t.gql(query, {}, { key: company.key }));
    const edges = ok(result).events.edges;
    expect(edges.map((e: any) => e.node.joinRequests.edges.length)).toEqual([2, 2, 2]);
    expect(statements.filter((s) => /join_requests/.test(s))).toHaveLength(1);
  });
});
