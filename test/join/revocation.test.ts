import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { beat, expectRefused, join, joinRaw, mint, SESSION, VALIDATE } from "./join-helpers";

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const REVOKE = `mutation($jti: ID!) { revokeToken(jti: $jti) }`;
const REVOKE_USER = `mutation($id: ID!) { revokeUserTokens(userId: $id) }`;
const validate = async (token: string) => ok(await t.gql(VALIDATE, { token })).validateToken;
const sessionOf = async (id: string) => ok(await t.gql(SESSION, { id }, { key: company.key })).session;

describe("revokeToken(jti)", () => {
  it("refuses the token at join (TOKEN_REVOKED, nothing changed) and ends its live session on the next heartbeat", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "revoked-one" } });
    const sibling = await mint(t, company, { eventId: event.id, user: { id: "revoked-one" } });
    const other = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "bystander" } })).token,
    );
    const live = await join(t, event.id, minted.token);

    expect(ok(await t.gql(REVOKE, { jti: minted.jti }, { key: company.key })).revokeToken).toBe(true);
    expect(ok(await t.gql(REVOKE, { jti: minted.jti }, { key: company.key })).revokeToken).toBe(false);

    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: minted.token }), "TOKEN_REVOKED");
    expect(await validate(minted.token)).toMatchObject({ valid: false, errorCode: "TOKEN_REVOKED", tokenType: "join" });

    // Until its next heartbeat the session is still live; that heartbeat ends it.
    expect((await sessionOf(live.session.id)).active).toBe(true);
    t.clock.advance(15);
    expect(await beat(t, live.sessionToken)).toMatchObject({ active: false, endReason: "REVOKED", sessionToken: null });
    expect(await sessionOf(live.session.id)).toMatchObject({
      active: false,
      endReason: "REVOKED",
      endedAt: t.clock.now().toISOString(),
    });

    // Nothing else is touched: the same user's other token, and other users' sessions.
    expect(await validate(sibling.token)).toMatchObject({ valid: true });
    expect((await beat(t, other.sessionToken)).active).toBe(true);
    expect((await join(t, event.id, sibling.token)).session.active).toBe(true);
  });

  it("is scoped to the company: another company revoking the same jti changes nothing for us", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "not-theirs" } });
    const rival = await makeCompany(t);
    ok(await t.gql(REVOKE, { jti: minted.jti }, { key: rival.key }));
    expect(await validate(minted.token)).toMatchObject({ valid: true });
    expect((await join(t, event.id, minted.token)).session.active).toBe(true);
  });

  it("needs MINT_TOKENS, and refuses a jti the database could not hold as BAD_USER_INPUT", async () => {
    const limited = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "events", scopes: [MANAGE_EVENTS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    await expectRefused(t, () => t.gql(REVOKE, { jti: "some-jti" }, { key: limited }), "FORBIDDEN");
    await expectRefused(t, () => t.gql(REVOKE, { jti: "some-jti" }), "UNAUTHENTICATED");
    await expectRefused(t, () => t.gql(REVOKE, { jti: "bad\u0000jti" }, { key: company.key }), "BAD_USER_INPUT", "jti");
    await expectRefused(
      t,
      () => t.gql(REVOKE, { jti: "x".repeat(129) }, { key: company.key }),
      "BAD_USER_INPUT",
      "jti",
    );
    await expectRefused(t, () => t.gql(REVOKE, { jti: "   " }, { key: company.key }), "BAD_USER_INPUT", "jti");
  });
});

describe("revokeUserTokens(userId)", () => {
  it("refuses every token issued before it, ends the user's live sessions, and accepts tokens minted a second later", async () => {
    const first = await makeEvent(t, company);
    const second = await makeEvent(t, company);
    const a = await mint(t, company, { eventSpecific: false, user: { id: "compromised" } });
    const unused = await mint(t, company, { eventId: first.id, user: { id: "compromised" } });
    const inFirst = await join(t, first.id, a.token);
    const inSecond = await join(t, second.id, a.token);
    const bystander = await join(
      t,
      first.id,
      (await mint(t, company, { eventId: first.id, user: { id: "fine" } })).token,
    );
    const userId = inFirst.session.userId;

    t.clock.advance(10);
    expect(ok(await t.gql(REVOKE_USER, { id: userId }, { key: company.key })).revokeUserTokens).toBe(2);
    const revokedAt = t.clock.now().toISOString();
    for (const s of [inFirst, inSecond]) {
      expect(await sessionOf(s.session.id)).toMatchObject({ active: false, endReason: "REVOKED", endedAt: revokedAt });
      expect(await beat(t, s.sessionToken)).toMatchObject({ active: false, endReason: "REVOKED" });
    }
    expect((await beat(t, bystander.sessionToken)).active).toBe(true);

    await expectRefused(t, () => joinRaw(t, { event: first.id, credential: unused.token }), "TOKEN_REVOKED");
    await expectRefused(t, () => joinRaw(t, { event: second.id, credential: a.token }), "TOKEN_REVOKED");
    expect(await validate(unused.token)).toMatchObject({ valid: false, errorCode: "TOKEN_REVOKED", tokenType: "join" });
    expect(await validate(a.token)).toMatchObject({ valid: false, errorCode: "TOKEN_REVOKED" });

    t.clock.advance(1);
    const fresh = await mint(t, company, { eventId: first.id, user: { id: "compromised" } });
    expect(await validate(fresh.token)).toMatchObject({ valid: true, errorCode: null });
    const back = await join(t, first.id, fresh.token);
    expect(back.session.userId).toBe(userId);
    t.clock.advance(30);
    expect((await beat(t, back.sessionToken)).active).toBe(true);
  });

  it("refuses a token minted earlier in the same second (iat has whole seconds)", async () => {
    const event = await makeEvent(t, company);
    const now = t.clock.now().getTime();
    t.clock.set(new Date(Math.floor(now / 1000) * 1000 + 1000 + 200));
    const early = await mint(t, company, { eventId: event.id, user: { id: "same-second" } });
    const joined = await join(t, event.id, early.token);
    t.clock.advance(0.5);
    ok(await t.gql(REVOKE_USER, { id: joined.session.userId }, { key: company.key }));
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: early.token }), "TOKEN_REVOKED");
  });

  it("is NOT_FOUND for an unknown user or another company's, with nothing changed", async () => {
    const event = await makeEvent(t, company);
    const joined = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "protected" } })).token,
    );
    const rival = await makeCompany(t);
    await expectRefused(t, () => t.gql(REVOKE_USER, { id: joined.session.userId }, { key: rival.key }), "NOT_FOUND");
    await expectRefused(
      t,
      () => t.gql(REVOKE_USER, { id: "00000000-0000-4000-8000-000000000000" }, { key: company.key }),
      "NOT_FOUND",
    );
    await expectRefused(t, () => t.gql(REVOKE_USER, { id: "protected" }, { key: company.key }), "NOT_FOUND");
    expect((await beat(t, joined.sessionToken)).active).toBe(true);
  });
});
