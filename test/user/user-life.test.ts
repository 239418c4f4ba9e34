import { execFileSync } from "node:child_process";
import { codeOf, ok, usingPglite, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany } from "../support/factories";
import { addPrincipals, beat, BEAT, dbState, join, joinRaw, mint, SESSION, VALIDATE } from "../join/join-helpers";
import { createLink } from "../federation/login-link-helpers";
import { CREATE_SECRET, fresh, partnerJoin, signPartner } from "../federation/partner-helpers";
import { createEndpoint } from "../webhook/helpers";

/** suspendUser, unsuspendUser, deleteUser and User.createdVia, through HTTP. */
const t = useTestApp();

const SUSPEND = `mutation($id: ID!) { suspendUser(id: $id) { id externalId suspendedAt } }`;
const UNSUSPEND = `mutation($id: ID!) { unsuspendUser(id: $id) { id suspendedAt } }`;
const DELETE = `mutation($id: ID!) { deleteUser(id: $id) }`;
const SEATS = `{ company { seatsUsed } }`;
const REGISTER = `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { id joinUrl } }`;
const BY_ORIGIN = `query($via: UserOrigin) { users(first: 100, filter: { createdVia: $via }) { edges { node { externalId name createdVia } } } }`;
const ANALYTICS = `query($id: ID!) { eventAnalytics(eventId: $id) {
  attendees sessions totalAttendanceSeconds breakdown(metadataKey: "cohort") { value attendees totalAttendanceSeconds } } }`;

const seats = async (company: TestCompany): Promise<number> =>
  ok(await t.gql(SEATS, {}, { key: company.key })).company.seatsUsed;
const tokenOf = (url: string): string => new URL(url).searchParams.get("token")!;

async function partnerSecret(company: TestCompany) {
  return ok(await t.gql(CREATE_SECRET, { input: { name: "p" } }, { key: company.key })).createPartnerSecret;
}

describe("suspendUser / unsuspendUser", () => {
  it("ends live sessions as SUSPENDED, refuses every credential with USER_SUSPENDED, keeps the seat, and unsuspending lets them in again", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const user = await makeUser(t, company, { externalId: "sus-1", email: "sus@example.com", name: "Sus" });
    const token = (await mint(t, company, { eventId: event.id, user: { id: "sus-1" } })).token;
    const live = await join(t, event.id, token);
    const registration = ok(
      await t.gql(
        REGISTER,
        { input: { eventId: event.id, name: "Sus", email: "sus@example.com", emailVerified: true } },
        { key: company.key },
      ),
    ).registerForEvent;
    const link = await createLink(t, company, { userId: user.id });
    const secret = await partnerSecret(company);
    const partnerJwt = await signPartner(
      { id: secret.partnerSecret.id, secret: secret.secret },
      fresh(t, { sub: "sus-1" }),
    );
    const seatsBefore = await seats(company);

    // By the company's external id.
    const suspended = ok(await t.gql(SUSPEND, { id: "sus-1" }, { key: company.key })).suspendUser;
    expect(suspended).toMatchObject({ id: user.id, externalId: "sus-1" });
    expect(suspended.suspendedAt).not.toBeNull();
    expect(await seats(company)).toBe(seatsBefore);
    expect(ok(await t.gql(SESSION, { id: live.session.id }, { key: company.key })).session).toMatchObject({
      active: false,
      endReason: "SUSPENDED",
    });

    expect(codeOf(await t.gql(BEAT, { t: live.sessionToken }))).toBe("USER_SUSPENDED");
    expect(codeOf(await joinRaw(t, { event: event.id, credential: token }))).toBe("USER_SUSPENDED");
    expect(codeOf(await joinRaw(t, { event: event.id, credential: tokenOf(registration.joinUrl) }))).toBe(
      "USER_SUSPENDED",
    );
    expect(codeOf(await joinRaw(t, { event: event.id, credential: link.code, credentialType: "LOGIN_LINK" }))).toBe(
      "USER_SUSPENDED",
    );
    expect(codeOf(await partnerJoin(t, event.id, partnerJwt))).toBe("USER_SUSPENDED");
    expect(ok(await t.gql(VALIDATE, { token })).validateToken).toMatchObject({
      valid: false,
      errorCode: "USER_SUSPENDED",
    });
    expect(ok(await t.gql(VALIDATE, { token: live.sessionToken })).validateToken).toMatchObject({
      valid: false,
      errorCode: "USER_SUSPENDED",
    });
    // validateToken of the foreign kinds answers as joinEvent would, and the peek uses no link.
    const VALIDATE_AS = `query($token: String!, $type: CredentialType, $event: String) { validateToken(token: $token, credentialType: $type, event: $event) { valid errorCode } }`;
    expect(
      ok(await t.gql(VALIDATE_AS, { token: partnerJwt, type: "PARTNER_JWT", event: event.id })).validateToken,
    ).toMatchObject({ valid: false, errorCode: "USER_SUSPENDED" });
    expect(ok(await t.gql(VALIDATE_AS, { token: link.code, type: "LOGIN_LINK" })).validateToken).toMatchObject({
      valid: false,
      errorCode: "USER_SUSPENDED",
    });

    // By Admit's id. The refused login link was not used up.
    expect(ok(await t.gql(UNSUSPEND, { id: user.id }, { key: company.key })).unsuspendUser.suspendedAt).toBeNull();
    expect(ok(await t.gql(VALIDATE, { token })).validateToken).toMatchObject({ valid: true, errorCode: null });
    const again = await join(t, event.id, token);
    expect(again.session.active).toBe(true);
    expect(
      ok(await joinRaw(t, { event: event.id, credential: link.code, credentialType: "LOGIN_LINK" })).joinEvent.session
        .userId,
    ).toBe(user.id);
    // The session the suspension ended stays ended.
    expect((await beat(t, live.sessionToken)).active).toBe(false);
  });

  it("answers NOT_FOUND for a user of another company and needs an API key", async () => {
    const company = await makeCompany(t);
    const other = await makeCompany(t);
    await makeUser(t, other, { externalId: "theirs" });
    expect(codeOf(await t.gql(SUSPEND, { id: "theirs" }, { key: company.key }))).toBe("NOT_FOUND");
    expect(codeOf(await t.gql(SUSPEND, { id: "theirs" }, { key: null }))).toBe("UNAUTHENTICATED");
  });
});

describe("User.createdVia", () => {
  it("records how each user came to exist and filters users by it", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, { privacy: "PUBLIC" });
    await makeUser(t, company, { externalId: "by-api" });
    await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "by-token", name: "Tok" } })).token,
    );
    const secret = await partnerSecret(company);
    const jit = await signPartner(
      { id: secret.partnerSecret.id, secret: secret.secret },
      fresh(t, { user: { id: "by-partner", name: "Jit" } }),
    );
    ok(await partnerJoin(t, event.id, jit));
    ok(await joinRaw(t, { event: event.id, displayName: "Guesty" }));
    const registration = ok(
      await t.gql(
        REGISTER,
        { input: { eventId: event.id, name: "Reg", email: "reg@example.com" } },
        { key: company.key },
      ),
    ).registerForEvent;
    await join(t, event.id, tokenOf(registration.joinUrl));

    const all = ok(await t.gql(BY_ORIGIN, {}, { key: company.key })).users.edges.map((e: any) => [
      e.node.externalId ?? e.node.name,
      e.node.createdVia,
    ]);
    expect(all).toEqual([
      ["by-api", "API"],
      ["by-token", "JOIN_TOKEN"],
      ["by-partner", "PARTNER_JWT"],
      ["Guesty", "GUEST"],
      ["Reg", "REGISTRATION"],
    ]);
    const partnerMade = ok(await t.gql(BY_ORIGIN, { via: "PARTNER_JWT" }, { key: company.key })).users.edges;
    expect(partnerMade.map((e: any) => e.node.externalId)).toEqual(["by-partner"]);
  });
});

describe("deleteUser", () => {
  const PERSON = {
    externalId: "zq-erase-ext-7731",
    email: "Zelda.Erasable@Example.com",
    name: "Zelda Qwertyerase",
    avatarUrl: "https://cdn.example.com/zelda-qwerty-avatar.png",
    metadata: { favourite: "zq-secret-metadata" },
  };
  /** What must not be found anywhere once she is deleted. */
  const TRACES = [
    "zq-erase-ext-7731",
    "zelda.erasable@example.com",
    "Zelda Qwertyerase",
    "zelda-qwerty-avatar",
    "zq-secret-metadata",
    "zq-session-cohort",
  ];

  /** Every row of every table, as text: what a dump holds (PGlite has no pg_dump). */
  async function dumpAsText(): Promise<string> {
    const parts = Object.entries(await dbState(t)).flatMap(([table, rows]) => [`-- ${table}`, ...rows]);
    if (!usingPglite()) {
      parts.push(
        execFileSync("pg_dump", ["--data-only", process.env.ADMIT_TEST_DATABASE_URL!], {
          maxBuffer: 512 * 1024 * 1024,
        }).toString(),
      );
    }
    return parts.join("\n");
  }

  it("erases the person everywhere, frees the seat, revokes every credential, and keeps the numbers analytics show", async () => {
    const company = await makeCompany(t);
    // Every webhook type subscribed: the outbox's messages name her too, and must not afterwards.
    await createEndpoint(t, company, "http://127.0.0.1:9/hooks");
    const event = await makeEvent(t, company, { privacy: "PRIVATE", knockingEnabled: true });
    const user = await makeUser(t, company, PERSON);
    await makeUser(t, company, { externalId: "someone-else" });
    await addPrincipals(t, company, event.id, "PRESENTER", [{ userId: PERSON.externalId }, { email: PERSON.email }]);
    const registration = ok(
      await t.gql(
        REGISTER,
        {
          input: {
            eventId: event.id,
            name: PERSON.name,
            email: PERSON.email,
            emailVerified: true,
            metadata: { cohort: "zq-session-cohort" },
          },
        },
        { key: company.key },
      ),
    ).registerForEvent;
    ok(
      await t.gql(`mutation($input: RequestToJoinInput!) { requestToJoin(input: $input) { secret } }`, {
        input: { event: event.id, name: PERSON.name, email: PERSON.email },
      }),
    );
    const link = await createLink(t, company, { userId: user.id, redirectOnExpiryUrl: undefined });
    const token = (
      await mint(t, company, {
        eventId: event.id,
        user: { id: PERSON.externalId, name: PERSON.name },
        metadata: { cohort: "zq-session-cohort" },
      })
    ).token;

    // Two sessions of hers (one ended, one live) and one of someone else's.
    const first = await join(t, event.id, tokenOf(registration.joinUrl));
    t.clock.advance(60);
    await beat(t, first.sessionToken);
    ok(await t.gql(`mutation($t: String!) { leaveEvent(sessionToken: $t) { id } }`, { t: first.sessionToken }));
    const live = await join(t, event.id, token);
    const other = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "someone-else" }, metadata: { cohort: "b" } })).token,
    );
    t.clock.advance(30);
    await beat(t, live.sessionToken);
    await beat(t, other.sessionToken);
    const seatsBefore = await seats(company);
    const dumpBefore = await dumpAsText();
    for (const trace of TRACES) expect(dumpBefore.toLowerCase()).toContain(trace.toLowerCase());
    const [outbox] = await t.db.dataSource.query(
      "SELECT string_agg(data::text, ' ') AS text FROM webhook_messages WHERE company_id = $1",
      [company.id],
    );
    expect(outbox.text.toLowerCase()).toContain(PERSON.email.toLowerCase());

    expect(ok(await t.gql(DELETE, { id: PERSON.externalId }, { key: company.key })).deleteUser).toBe(true);
    t.clock.advance(30);
    await beat(t, other.sessionToken);

    // Nothing names her: not the database, not the CSV export.
    const dump = (await dumpAsText()).toLowerCase();
    for (const trace of TRACES) expect(dump).not.toContain(trace.toLowerCase());
    const csv = await (
      await fetch(`${t.url}/c/${company.slug}/events/${event.id}/attendees.csv`, {
        headers: { authorization: `Bearer ${company.key}` },
      })
    ).text();
    expect(csv.split("\n").length).toBeGreaterThan(2);
    for (const trace of TRACES) expect(csv.toLowerCase()).not.toContain(trace.toLowerCase());

    // Her seat is free; her session ended; no credential of hers opens anything, not even to create her again.
    expect(await seats(company)).toBe(seatsBefore - 1);
    expect(ok(await t.gql(SESSION, { id: live.session.id }, { key: company.key })).session).toMatchObject({
      active: false,
      endReason: "REVOKED",
    });
    expect((await beat(t, live.sessionToken)).active).toBe(false);
    expect(codeOf(await joinRaw(t, { event: event.id, credential: token }))).toBe("TOKEN_REVOKED");
    expect(ok(await t.gql(VALIDATE, { token })).validateToken).toMatchObject({
      valid: false,
      errorCode: "TOKEN_REVOKED",
    });
    expect(codeOf(await joinRaw(t, { event: event.id, credential: tokenOf(registration.joinUrl) }))).toBe(
      "TOKEN_REVOKED",
    );
    expect(
      codeOf(await joinRaw(t, { event: event.id, credential: link.code, credentialType: "LOGIN_LINK" })),
    ).not.toBeUndefined();
    expect(
      ok(await t.gql(`query($id: ID) { user(id: $id) { id } }`, { id: user.id }, { key: company.key })).user,
    ).toBeNull();
    expect(codeOf(await t.gql(DELETE, { id: user.id }, { key: company.key }))).toBe("NOT_FOUND");

    // The numbers stay: two attendees, every second counted, the breakdown sums to the same total.
    const analytics = ok(await t.gql(ANALYTICS, { id: event.id }, { key: company.key })).eventAnalytics;
    expect(analytics).toMatchObject({ attendees: 2, sessions: 3 });
    expect(analytics.totalAttendanceSeconds).toBe(60 + 30 + 60);
    const rows = analytics.breakdown as { value: string | null; attendees: number; totalAttendanceSeconds: number }[];
    expect(rows.reduce((sum, r) => sum + r.totalAttendanceSeconds, 0)).toBe(analytics.totalAttendanceSeconds);
    expect(rows.find((r) => r.value === "b")).toMatchObject({ attendees: 1, totalAttendanceSeconds: 60 });

    // A token minted after the deletion brings the person back, as a new user: the company's choice.
    const back = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: PERSON.externalId } })).token,
    );
    expect(back.session.user.id).not.toBe(user.id);
  });
});
