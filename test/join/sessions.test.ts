import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany } from "../support/factories";
import {
  addPrincipals,
  beat,
  BEAT,
  decodePart,
  expectRefused,
  join,
  joinRaw,
  mint,
  mintAndJoin,
  removePrincipals,
  SESSION,
  VALIDATE,
} from "./join-helpers";

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const END = `mutation($id: ID!, $ban: Boolean) { endSession(id: $id, ban: $ban) { id active endReason endedAt } }`;
const LEAVE = `mutation($t: String!) { leaveEvent(sessionToken: $t) { id active endReason endedAt } }`;
const ROLE = `query($e: ID!, $u: String, $m: String) { effectiveRole(eventId: $e, userId: $u, email: $m) { role source } }`;

const sessionOf = async (id: string, key = company.key) => ok(await t.gql(SESSION, { id }, { key })).session;

describe("heartbeat", () => {
  it("keeps the session alive and hands out a fresh session token each time", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    expect(decodePart(joined.sessionToken, 0).typ).toBe("session+jwt");
    t.clock.advance(30);
    const first = await beat(t, joined.sessionToken);
    expect(first).toMatchObject({ active: true, role: "ATTENDEE", endReason: null });
    expect(first.sessionToken).not.toBe(joined.sessionToken);
    expect(new Date(first.sessionTokenExpiresAt!).getTime()).toBeGreaterThan(
      new Date(joined.sessionTokenExpiresAt).getTime(),
    );
    expect(first.session.lastSeenAt).toBe(t.clock.now().toISOString());
    t.clock.advance(30);
    const second = await beat(t, first.sessionToken!);
    expect(second.active).toBe(true);
    expect(second.sessionToken).not.toBe(first.sessionToken);
    expect((await sessionOf(joined.session.id)).lastSeenAt).toBe(t.clock.now().toISOString());
  });

  it("re-resolves the role: raised by the organizer list (external id), by the presenter list (email, any case), lowered on removal", async () => {
    const event = await makeEvent(t, company);
    const alice = await mintAndJoin(t, company, event.id, {}, { id: "alice-ext", email: "Alice.Smith@Example.COM" });
    const bob = await mintAndJoin(t, company, event.id, {}, { id: "bob-ext", email: "bob@example.com" });
    expect([alice.role, bob.role]).toEqual(["ATTENDEE", "ATTENDEE"]);

    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: "alice-ext" }]);
    await addPrincipals(t, company, event.id, "PRESENTER", [{ email: "BOB@EXAMPLE.COM" }]);
    const aliceUp = await beat(t, alice.sessionToken);
    const bobUp = await beat(t, bob.sessionToken);
    expect([aliceUp.role, bobUp.role]).toEqual(["ORGANIZER", "PRESENTER"]);
    expect((await sessionOf(alice.session.id)).role).toBe("ORGANIZER");

    // The organizer list by email too, matched case-insensitively.
    await addPrincipals(t, company, event.id, "ORGANIZER", [{ email: "alice.smith@example.com" }]);
    await removePrincipals(t, company, event.id, "ORGANIZER", [{ userId: "alice-ext" }]);
    expect((await beat(t, aliceUp.sessionToken!)).role).toBe("ORGANIZER");
    await removePrincipals(t, company, event.id, "ORGANIZER", [{ email: "ALICE.SMITH@example.com" }]);
    await removePrincipals(t, company, event.id, "PRESENTER", [{ email: "bob@example.com" }]);
    const aliceDown = await beat(t, aliceUp.sessionToken!);
    const bobDown = await beat(t, bobUp.sessionToken!);
    expect([aliceDown.role, bobDown.role]).toEqual(["ATTENDEE", "ATTENDEE"]);
    expect([aliceDown.active, bobDown.active]).toEqual([true, true]);
  });

  it("a grant is a floor the lists can raise but removal cannot lower", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, { role: "PRESENTER" }, { id: "granted" });
    expect(joined.role).toBe("PRESENTER");
    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: "granted" }]);
    const up = await beat(t, joined.sessionToken);
    expect(up.role).toBe("ORGANIZER");
    await removePrincipals(t, company, event.id, "ORGANIZER", [{ userId: "granted" }]);
    expect((await beat(t, up.sessionToken!)).role).toBe("PRESENTER");
  });

  it("a new join resolves the role from the lists as they are now, with the same token", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "late-organizer" } });
    expect((await join(t, event.id, minted.token)).role).toBe("ATTENDEE");
    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: "late-organizer" }]);
    expect((await join(t, event.id, minted.token)).role).toBe("ORGANIZER");
  });
});

describe("effectiveRole", () => {
  it("answers the role and its source from the lists: DEFAULT, PRESENTER_LIST, ORGANIZER_LIST; grants do not count", async () => {
    const event = await makeEvent(t, company, {
      presenters: [{ userId: "pres-ext" }, { email: "Speaker@Example.com" }],
      organizers: [{ email: "boss@example.com" }],
    });
    const role = async (u?: string, m?: string) =>
      ok(await t.gql(ROLE, { e: event.id, u, m }, { key: company.key })).effectiveRole;
    expect(await role("nobody")).toEqual({ role: "ATTENDEE", source: "DEFAULT" });
    expect(await role(undefined, "nobody@example.com")).toEqual({ role: "ATTENDEE", source: "DEFAULT" });
    expect(await role("pres-ext")).toEqual({ role: "PRESENTER", source: "PRESENTER_LIST" });
    expect(await role(undefined, "SPEAKER@example.COM")).toEqual({ role: "PRESENTER", source: "PRESENTER_LIST" });
    expect(await role(undefined, "Boss@Example.com")).toEqual({ role: "ORGANIZER", source: "ORGANIZER_LIST" });
    // In both lists: the higher wins.
    expect(await role("pres-ext", "boss@example.com")).toEqual({ role: "ORGANIZER", source: "ORGANIZER_LIST" });

    // A user known by external id is matched by the email the company has for them.
    await makeUser(t, company, { externalId: "boss-ext", email: "BOSS@example.com" });
    expect(await role("boss-ext")).toEqual({ role: "ORGANIZER", source: "ORGANIZER_LIST" });

    // A token's ORGANIZER grant is not a list entry: effectiveRole does not see it.
    const granted = await mintAndJoin(t, company, event.id, { role: "ORGANIZER" }, { id: "grant-only" });
    expect(granted.role).toBe("ORGANIZER");
    expect(await role("grant-only")).toEqual({ role: "ATTENDEE", source: "DEFAULT" });
  });

  it("refuses a missing subject, another company's event, and a caller without a key", async () => {
    const event = await makeEvent(t, company);
    await expectRefused(t, () => t.gql(ROLE, { e: event.id }, { key: company.key }), "BAD_USER_INPUT");
    const rival = await makeCompany(t);
    await expectRefused(t, () => t.gql(ROLE, { e: event.id, u: "x" }, { key: rival.key }), "NOT_FOUND");
    await expectRefused(t, () => t.gql(ROLE, { e: "not-an-id", u: "x" }, { key: company.key }), "NOT_FOUND");
    await expectRefused(t, () => t.gql(ROLE, { e: event.id, u: "x" }), "UNAUTHENTICATED");
  });
});

describe("duplicate-session policy", () => {
  it("REPLACE_OLDEST (default): the older session learns on its next heartbeat that it was superseded", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "two-tabs" } });
    const first = await join(t, event.id, minted.token);
    t.clock.advance(5);
    const second = await join(t, event.id, minted.token);
    expect(await beat(t, first.sessionToken)).toMatchObject({
      active: false,
      endReason: "SUPERSEDED",
      sessionToken: null,
    });
    expect(await beat(t, second.sessionToken)).toMatchObject({ active: true });
    expect((await sessionOf(first.session.id)).endedAt).toBe(second.session.joinedAt);
  });

  it("a fresh token for the same user supersedes too: the policy is per user, not per token", async () => {
    const event = await makeEvent(t, company);
    const first = await mintAndJoin(t, company, event.id, {}, { id: "same-user" });
    t.clock.advance(1);
    const second = await mintAndJoin(t, company, event.id, {}, { id: "same-user" });
    expect((await beat(t, first.sessionToken)).endReason).toBe("SUPERSEDED");
    expect((await beat(t, second.sessionToken)).active).toBe(true);
  });

  it("REJECT_NEW: the new join is ALREADY_IN_SESSION and the first session is untouched; after leaving, a join works", async () => {
    const event = await makeEvent(t, company, { sessionPolicy: "REJECT_NEW" });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "one-only" } });
    const first = await join(t, event.id, minted.token);
    t.clock.advance(5);
    const before = await sessionOf(first.session.id);
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: minted.token }), "ALREADY_IN_SESSION");
    expect(await sessionOf(first.session.id)).toEqual(before);
    expect((await beat(t, first.sessionToken)).active).toBe(true);

    ok(await t.gql(LEAVE, { t: first.sessionToken }));
    expect((await join(t, event.id, minted.token)).session.active).toBe(true);
  });

  it("maxSessionsPerUser 2: two devices live together, a third supersedes the oldest", async () => {
    const event = await makeEvent(t, company, { maxSessionsPerUser: 2 });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "multi-device" } });
    const phone = await join(t, event.id, minted.token);
    t.clock.advance(2);
    const laptop = await join(t, event.id, minted.token);
    t.clock.advance(2);
    expect((await beat(t, phone.sessionToken)).active).toBe(true);
    expect((await beat(t, laptop.sessionToken)).active).toBe(true);
    const tablet = await join(t, event.id, minted.token);
    expect(await beat(t, phone.sessionToken)).toMatchObject({ active: false, endReason: "SUPERSEDED" });
    expect((await beat(t, laptop.sessionToken)).active).toBe(true);
    expect((await beat(t, tablet.sessionToken)).active).toBe(true);
  });

  it("maxSessionsPerUser 2 with REJECT_NEW: the third device is ALREADY_IN_SESSION", async () => {
    const event = await makeEvent(t, company, { maxSessionsPerUser: 2, sessionPolicy: "REJECT_NEW" });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "multi-reject" } });
    await join(t, event.id, minted.token);
    t.clock.advance(1);
    await join(t, event.id, minted.token);
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: minted.token }), "ALREADY_IN_SESSION");
  });

  it("a session that idled out does not count against REJECT_NEW", async () => {
    const event = await makeEvent(t, company, { sessionPolicy: "REJECT_NEW" });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "came-back" }, ttlSeconds: 30 * 24 * 3600 });
    const first = await join(t, event.id, minted.token);
    t.clock.advance(14_400 + 1);
    const again = await join(t, event.id, minted.token);
    expect(again.session.active).toBe(true);
    expect(await sessionOf(first.session.id)).toMatchObject({
      active: false,
      endReason: "INACTIVE",
      endedAt: first.session.joinedAt,
    });
  });
});

describe("endSession (kick) and ban", () => {
  it("ban: true ends the session as KICKED and its token can no longer join", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "troll" } });
    const joined = await join(t, event.id, minted.token);
    const kicked = ok(await t.gql(END, { id: joined.session.id, ban: true }, { key: company.key })).endSession;
    expect(kicked).toMatchObject({ active: false, endReason: "KICKED", endedAt: t.clock.now().toISOString() });
    expect(await beat(t, joined.sessionToken)).toMatchObject({ active: false, endReason: "KICKED" });
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: minted.token }), "TOKEN_REVOKED");
    expect(ok(await t.gql(VALIDATE, { token: minted.token })).validateToken).toMatchObject({
      valid: false,
      errorCode: "TOKEN_REVOKED",
    });
    // The user is not banned, the credential is: a new token lets them in.
    expect((await mintAndJoin(t, company, event.id, {}, { id: "troll" })).session.active).toBe(true);
  });

  it("ban: false (or absent) ends the session as KICKED and the same token may rejoin", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "kicked-softly" } });
    for (const ban of [false, undefined]) {
      const joined = await join(t, event.id, minted.token);
      ok(await t.gql(END, { id: joined.session.id, ...(ban === undefined ? {} : { ban }) }, { key: company.key }));
      expect(await beat(t, joined.sessionToken)).toMatchObject({ active: false, endReason: "KICKED" });
    }
    expect((await join(t, event.id, minted.token)).session.active).toBe(true);
  });

  it("kicking an ended session changes nothing about why it ended", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    ok(await t.gql(LEAVE, { t: joined.sessionToken }));
    t.clock.advance(10);
    const after = ok(await t.gql(END, { id: joined.session.id }, { key: company.key })).endSession;
    expect(after).toMatchObject({ endReason: "LEFT" });
  });

  it("an ORGANIZER session token as bearer may end another session of its event; an ATTENDEE's may not", async () => {
    const event = await makeEvent(t, company, { organizers: [{ userId: "host" }] });
    const host = await mintAndJoin(t, company, event.id, {}, { id: "host" });
    const granted = await mintAndJoin(t, company, event.id, { role: "ORGANIZER" }, { id: "cohost" });
    const attendee = await mintAndJoin(t, company, event.id, {}, { id: "attendee" });
    const target = await mintAndJoin(t, company, event.id, {}, { id: "target" });
    const other = await mintAndJoin(t, company, event.id, {}, { id: "other" });
    expect(host.role).toBe("ORGANIZER");

    await expectRefused(t, () => t.gql(END, { id: target.session.id }, { key: attendee.sessionToken }), "FORBIDDEN");
    await expectRefused(
      t,
      () => t.gql(END, { id: target.session.id, ban: true }, { key: attendee.sessionToken }),
      "FORBIDDEN",
    );

    expect(ok(await t.gql(END, { id: target.session.id }, { key: host.sessionToken })).endSession).toMatchObject({
      endReason: "KICKED",
    });
    expect(
      ok(await t.gql(END, { id: other.session.id, ban: true }, { key: granted.sessionToken })).endSession,
    ).toMatchObject({ endReason: "KICKED" });
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: other.minted.token }), "TOKEN_REVOKED");
  });

  it("an organizer's power is the live role: once removed from the list, the same session token may not kick", async () => {
    const event = await makeEvent(t, company, { organizers: [{ userId: "ex-host" }] });
    const host = await mintAndJoin(t, company, event.id, {}, { id: "ex-host" });
    const target = await mintAndJoin(t, company, event.id);
    await removePrincipals(t, company, event.id, "ORGANIZER", [{ userId: "ex-host" }]);
    await expectRefused(t, () => t.gql(END, { id: target.session.id }, { key: host.sessionToken }), "FORBIDDEN");
  });

  it("an organizer session may not end sessions of another event, nor anyone another company's", async () => {
    const event = await makeEvent(t, company, { organizers: [{ userId: "host-a" }] });
    const otherEvent = await makeEvent(t, company);
    const host = await mintAndJoin(t, company, event.id, {}, { id: "host-a" });
    const elsewhere = await mintAndJoin(t, company, otherEvent.id);
    await expectRefused(t, () => t.gql(END, { id: elsewhere.session.id }, { key: host.sessionToken }), "NOT_FOUND");

    const rival = await makeCompany(t);
    const rivalEvent = await makeEvent(t, rival, { organizers: [{ userId: "rival-host" }] });
    const rivalHost = await mintAndJoin(t, rival, rivalEvent.id, {}, { id: "rival-host" });
    const victim = await mintAndJoin(t, company, event.id);
    await expectRefused(t, () => t.gql(END, { id: victim.session.id }, { key: rival.key }), "NOT_FOUND");
    await expectRefused(
      t,
      () => t.gql(END, { id: victim.session.id, ban: true }, { key: rivalHost.sessionToken }),
      "NOT_FOUND",
    );
    expect(ok(await t.gql(SESSION, { id: victim.session.id }, { key: rival.key })).session).toBeNull();
    await expectRefused(t, () => t.gql(END, { id: "not-a-uuid" }, { key: company.key }), "NOT_FOUND");
  });

  it("needs an API key with MANAGE_EVENTS, or an organizer session", async () => {
    const event = await makeEvent(t, company);
    const target = await mintAndJoin(t, company, event.id);
    const minter = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "minter", scopes: [MINT_TOKENS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    await expectRefused(t, () => t.gql(END, { id: target.session.id }, { key: minter }), "FORBIDDEN");
    await expectRefused(t, () => t.gql(END, { id: target.session.id }), "UNAUTHENTICATED");
    await expectRefused(
      t,
      () => t.gql(END, { id: target.session.id }, { key: target.minted.token }),
      "UNAUTHENTICATED",
    );
  });

  it("an ended organizer session has no power left", async () => {
    const event = await makeEvent(t, company);
    const host = await mintAndJoin(t, company, event.id, { role: "ORGANIZER" });
    const target = await mintAndJoin(t, company, event.id);
    ok(await t.gql(LEAVE, { t: host.sessionToken }));
    await expectRefused(t, () => t.gql(END, { id: target.session.id }, { key: host.sessionToken }), "FORBIDDEN");
  });
});

describe("leaveEvent", () => {
  it("ends the session as LEFT; a heartbeat after it answers active false, not an error; leaving twice is harmless", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    t.clock.advance(42);
    const left = ok(await t.gql(LEAVE, { t: joined.sessionToken })).leaveEvent;
    expect(left).toMatchObject({
      id: joined.session.id,
      active: false,
      endReason: "LEFT",
      endedAt: t.clock.now().toISOString(),
    });
    t.clock.advance(10);
    const res = await t.gql(BEAT, { t: joined.sessionToken });
    expect(res.errors).toBeUndefined();
    expect(res.data.heartbeat).toMatchObject({ active: false, endReason: "LEFT", sessionToken: null });
    const again = ok(await t.gql(LEAVE, { t: joined.sessionToken })).leaveEvent;
    expect(again).toEqual(left);
    expect(await sessionOf(joined.session.id)).toMatchObject({ durationSeconds: 42, endReason: "LEFT" });
  });
});
