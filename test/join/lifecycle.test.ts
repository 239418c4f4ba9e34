import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import {
  b64json,
  beat,
  BEAT,
  decodePart,
  expectRefused,
  join,
  joinRaw,
  mint,
  mintAndJoin,
  SESSION,
  updateSettings,
} from "./join-helpers";

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const DEFAULT_INACTIVITY_SECONDS = 14_400;
const sessionOf = async (id: string, key = company.key) => ok(await t.gql(SESSION, { id }, { key })).session;
const iso = (ms: number) => new Date(ms).toISOString();
const at = (value: string | null) => new Date(value!).getTime();
const inSeconds = (seconds: number) => iso(t.clock.now().getTime() + seconds * 1000);

describe("inactivity", () => {
  it("past the company's window (default 4 hours) the next heartbeat answers INACTIVE, ended at the last heartbeat", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, { ttlSeconds: 24 * 3600 });
    t.clock.advance(20);
    const last = await beat(t, joined.sessionToken);
    const lastSeen = last.session.lastSeenAt;
    t.clock.advance(DEFAULT_INACTIVITY_SECONDS + 1);
    // The client slept through its session token's expiry too: it still learns why the session ended.
    const res = await t.gql(BEAT, { t: last.sessionToken });
    expect(res.errors).toBeUndefined();
    expect(res.data.heartbeat).toMatchObject({ active: false, endReason: "INACTIVE", sessionToken: null });
    expect(await sessionOf(joined.session.id)).toMatchObject({
      active: false,
      endReason: "INACTIVE",
      endedAt: lastSeen,
      durationSeconds: 20,
    });
  });

  it("follows sessionInactivityTimeoutSeconds: a heartbeat within it keeps the session, one after it is too late", async () => {
    const strict = await makeCompany(t);
    await updateSettings(t, strict, { sessionInactivityTimeoutSeconds: 60 });
    const event = await makeEvent(t, strict);
    const joined = await mintAndJoin(t, strict, event.id);
    t.clock.advance(59);
    const kept = await beat(t, joined.sessionToken);
    expect(kept.active).toBe(true);
    t.clock.advance(59);
    const again = await beat(t, kept.sessionToken!);
    expect(again.active).toBe(true);
    t.clock.advance(61);
    expect(await beat(t, again.sessionToken!)).toMatchObject({ active: false, endReason: "INACTIVE" });
    expect((await sessionOf(joined.session.id, strict.key)).endedAt).toBe(again.session.lastSeenAt);
  });

  it("a node accepts its own fresh session tokens as they are, and nothing that only resembles one", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id);
    const other = await mintAndJoin(t, company, event.id);
    // The header and claims of a token just signed here, with another token's signature.
    const [h, p] = joined.sessionToken.split(".");
    const swapped = `${h}.${p}.${other.sessionToken.split(".")[2]}`;
    await expectRefused(t, () => t.gql(BEAT, { t: swapped }), "TOKEN_INVALID");
    const refreshed = await beat(t, joined.sessionToken);
    expect(refreshed.active).toBe(true);
    // A client that retries with the token it had (its answer lost) is still in.
    expect(await beat(t, joined.sessionToken)).toMatchObject({ active: true });
    expect(await beat(t, refreshed.sessionToken!)).toMatchObject({ active: true });
  });

  it("a client back within the window with an expired session token picks its session up again", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, { ttlSeconds: 24 * 3600 });
    // Laptop lid closed for 20 minutes: the 10-minute session token has expired, the session has not.
    t.clock.advance(20 * 60);
    // Only a genuine token: an expired one with a tampered payload is still refused.
    const other = await mintAndJoin(t, company, event.id);
    const [h, , sig] = joined.sessionToken.split(".");
    const tampered = `${h}.${b64json({ ...decodePart(joined.sessionToken, 1), sub: other.session.id })}.${sig}`;
    await expectRefused(t, () => t.gql(BEAT, { t: tampered }), "TOKEN_INVALID");
    await expectRefused(
      t,
      () => t.gql(`mutation($t: String!) { leaveEvent(sessionToken: $t) { id } }`, { t: tampered }),
      "TOKEN_INVALID",
    );
    const back = await beat(t, joined.sessionToken);
    expect(back).toMatchObject({ active: true, endReason: null });
    expect(at(back.sessionTokenExpiresAt)).toBeGreaterThan(t.clock.now().getTime());
    // The expired token cannot act as a bearer, though.
    const target = await mintAndJoin(t, company, event.id);
    await expectRefused(
      t,
      () =>
        t.gql(
          `mutation($id: ID!) { endSession(id: $id) { id } }`,
          { id: target.session.id },
          { key: joined.sessionToken },
        ),
      "UNAUTHENTICATED",
    );
  });

  it("sweep() ends idle sessions as INACTIVE at their last heartbeat and leaves live ones alone", async () => {
    const event = await makeEvent(t, company);
    const idle = await mintAndJoin(t, company, event.id, { ttlSeconds: 24 * 3600 });
    t.clock.advance(30);
    const lastBeat = await beat(t, idle.sessionToken);
    t.clock.advance(DEFAULT_INACTIVITY_SECONDS - 100);
    const live = await mintAndJoin(t, company, event.id);
    t.clock.advance(101);
    expect(await t.app.services.sessions.sweep()).toBeGreaterThanOrEqual(1);
    expect(await sessionOf(idle.session.id)).toMatchObject({
      active: false,
      endReason: "INACTIVE",
      endedAt: lastBeat.session.lastSeenAt,
      durationSeconds: 30,
    });
    expect(await sessionOf(live.session.id)).toMatchObject({ active: true, endedAt: null });
    // The client learns the same on its next heartbeat.
    expect(await beat(t, lastBeat.sessionToken!)).toMatchObject({ active: false, endReason: "INACTIVE" });
  });
});

describe("hard limits", () => {
  it("ejectAfterElapsedSeconds: session tokens never outlive ejectAt, and the session ends ELAPSED when it is reached", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, { ejectAfterElapsedSeconds: 900 });
    const ejectAt = at(joined.session.ejectAt);
    expect(ejectAt).toBe(at(joined.session.joinedAt) + 900_000);
    expect(at(joined.sessionTokenExpiresAt)).toBeLessThanOrEqual(ejectAt);

    let token = joined.sessionToken;
    for (const step of [300, 300, 290]) {
      t.clock.advance(step);
      const state = await beat(t, token);
      expect(state.active).toBe(true);
      expect(at(state.ejectAt)).toBe(ejectAt);
      expect(at(state.sessionTokenExpiresAt)).toBeLessThanOrEqual(ejectAt);
      token = state.sessionToken!;
    }
    t.clock.advance(11);
    expect(await beat(t, token)).toMatchObject({ active: false, endReason: "ELAPSED", sessionToken: null });
    expect(await sessionOf(joined.session.id)).toMatchObject({
      endReason: "ELAPSED",
      endedAt: iso(ejectAt),
      durationSeconds: 900,
    });
  });

  it("a client that comes back long after ejectAt still learns ELAPSED", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, { ejectAfterElapsedSeconds: 60 });
    t.clock.advance(60 + 300);
    const res = await t.gql(BEAT, { t: joined.sessionToken });
    expect(res.errors).toBeUndefined();
    expect(res.data.heartbeat).toMatchObject({ active: false, endReason: "ELAPSED" });
  });

  it("ejectAtTokenExpiry: the session ends TOKEN_EXPIRED when the join token expires", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, { ttlSeconds: 120, ejectAtTokenExpiry: true });
    const exp = at(joined.minted.expiresAt);
    expect(at(joined.session.ejectAt)).toBe(exp);
    expect(at(joined.sessionTokenExpiresAt)).toBeLessThanOrEqual(exp);
    t.clock.advance(100);
    const state = await beat(t, joined.sessionToken);
    expect(state.active).toBe(true);
    expect(at(state.sessionTokenExpiresAt)).toBeLessThanOrEqual(exp);
    t.clock.set(new Date(exp + 1000));
    expect(await beat(t, state.sessionToken!)).toMatchObject({ active: false, endReason: "TOKEN_EXPIRED" });
    expect((await sessionOf(joined.session.id)).endedAt).toBe(iso(exp));
  });

  it("with both limits, the earlier wins", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, {
      ttlSeconds: 600,
      ejectAtTokenExpiry: true,
      ejectAfterElapsedSeconds: 3600,
    });
    expect(at(joined.session.ejectAt)).toBe(at(joined.minted.expiresAt));
    t.clock.advance(601);
    expect((await beat(t, joined.sessionToken)).endReason).toBe("TOKEN_EXPIRED");
  });

  it("a token already past its expiry (within the clock skew) with ejectAtTokenExpiry opens no session", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, {
      eventId: event.id,
      user: { id: "too-late" },
      ttlSeconds: 60,
      ejectAtTokenExpiry: true,
    });
    t.clock.advance(75);
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: minted.token }), "TOKEN_EXPIRED");
  });

  it("sweep() ends sessions past ejectAt at ejectAt", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, { ejectAfterElapsedSeconds: 120 });
    t.clock.advance(500);
    await t.app.services.sessions.sweep();
    expect(await sessionOf(joined.session.id)).toMatchObject({ endReason: "ELAPSED", endedAt: joined.session.ejectAt });
  });
});

describe("the event's end", () => {
  it("endEvent ends live sessions as EVENT_ENDED and refuses new joins with EVENT_ENDED", async () => {
    const event = await makeEvent(t, company, { privacy: "PUBLIC" });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "stayed-late" } });
    const a = await join(t, event.id, minted.token);
    const b = await mintAndJoin(t, company, event.id);
    t.clock.advance(30);
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id endedAt } }`, { id: event.id }, { key: company.key }));
    const endedAt = t.clock.now().toISOString();
    t.clock.advance(5);
    for (const s of [a, b]) {
      expect(await beat(t, s.sessionToken)).toMatchObject({ active: false, endReason: "EVENT_ENDED" });
      expect(await sessionOf(s.session.id)).toMatchObject({ endReason: "EVENT_ENDED", endedAt });
    }
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: minted.token }), "EVENT_ENDED");
    await expectRefused(t, () => joinRaw(t, { event: event.id, displayName: "Latecomer" }), "EVENT_ENDED");
  });

  it("an event whose endsAt passes: EVENT_ENDED on the next heartbeat (ended at endsAt) and for new joins", async () => {
    const endsAt = inSeconds(600);
    const event = await makeEvent(t, company, { startsAt: inSeconds(-60), endsAt });
    const joined = await mintAndJoin(t, company, event.id, { ttlSeconds: 7200 });
    const later = await mint(t, company, { eventId: event.id, user: { id: "after-end" }, ttlSeconds: 7200 });
    t.clock.advance(300);
    const mid = await beat(t, joined.sessionToken);
    expect(mid.active).toBe(true);
    t.clock.advance(301);
    expect(await beat(t, mid.sessionToken!)).toMatchObject({ active: false, endReason: "EVENT_ENDED" });
    expect((await sessionOf(joined.session.id)).endedAt).toBe(endsAt);
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: later.token }), "EVENT_ENDED");
  });

  it("sweep() ends the sessions of an event that has ended, at its end", async () => {
    const endsAt = inSeconds(120);
    const event = await makeEvent(t, company, { endsAt });
    const joined = await mintAndJoin(t, company, event.id);
    t.clock.advance(100);
    const beatAt = (await beat(t, joined.sessionToken)).session.lastSeenAt;
    expect(beatAt).toBeDefined();
    t.clock.advance(200);
    await t.app.services.sessions.sweep();
    expect(await sessionOf(joined.session.id)).toMatchObject({ endReason: "EVENT_ENDED", endedAt: endsAt });
  });

  it("a session that idled out before the event ended is INACTIVE, its time ending at its last heartbeat (heartbeat and sweep alike)", async () => {
    const strict = await makeCompany(t);
    await updateSettings(t, strict, { sessionInactivityTimeoutSeconds: 60 });
    const endsAt = inSeconds(1800);
    const event = await makeEvent(t, strict, { endsAt });
    const viaBeat = await mintAndJoin(t, strict, event.id, { ttlSeconds: 7200 });
    const viaSweep = await mintAndJoin(t, strict, event.id, { ttlSeconds: 7200 });
    t.clock.advance(3600);
    expect(await beat(t, viaBeat.sessionToken)).toMatchObject({ active: false, endReason: "INACTIVE" });
    await t.app.services.sessions.sweep();
    for (const s of [viaBeat, viaSweep]) {
      expect(await sessionOf(s.session.id, strict.key)).toMatchObject({
        endReason: "INACTIVE",
        endedAt: s.session.joinedAt,
        durationSeconds: 0,
      });
    }
  });

  it("a session that idled out before its ejectAt is INACTIVE, not ELAPSED", async () => {
    const strict = await makeCompany(t);
    await updateSettings(t, strict, { sessionInactivityTimeoutSeconds: 60 });
    const event = await makeEvent(t, strict);
    const viaBeat = await mintAndJoin(t, strict, event.id, { ejectAfterElapsedSeconds: 600 });
    const viaSweep = await mintAndJoin(t, strict, event.id, { ejectAfterElapsedSeconds: 600 });
    t.clock.advance(1200);
    expect((await beat(t, viaBeat.sessionToken)).endReason).toBe("INACTIVE");
    await t.app.services.sessions.sweep();
    for (const s of [viaBeat, viaSweep]) {
      expect(await sessionOf(s.session.id, strict.key)).toMatchObject({
        endReason: "INACTIVE",
        endedAt: s.session.joinedAt,
      });
    }
  });

  it("leaving a session that had already idled out records it as INACTIVE, not as a long stay", async () => {
    const event = await makeEvent(t, company);
    const joined = await mintAndJoin(t, company, event.id, { ttlSeconds: 24 * 3600 });
    t.clock.advance(DEFAULT_INACTIVITY_SECONDS + 600);
    const left = ok(
      await t.gql(`mutation($t: String!) { leaveEvent(sessionToken: $t) { endReason endedAt } }`, {
        t: joined.sessionToken,
      }),
    ).leaveEvent;
    expect(left).toEqual({ endReason: "INACTIVE", endedAt: joined.session.joinedAt });
  });

  it("kicking, revoking or ending the event of a session that had already idled out records it as INACTIVE", async () => {
    const event = await makeEvent(t, company);
    const kicked = await mintAndJoin(t, company, event.id, { ttlSeconds: 24 * 3600 });
    const revoked = await mintAndJoin(t, company, event.id, { ttlSeconds: 24 * 3600 });
    const ended = await mintAndJoin(t, company, event.id, { ttlSeconds: 24 * 3600 });
    t.clock.advance(DEFAULT_INACTIVITY_SECONDS + 600);
    const fresh = await mintAndJoin(t, company, event.id);
    t.clock.advance(60);

    ok(
      await t.gql(`mutation($id: ID!) { endSession(id: $id) { id } }`, { id: kicked.session.id }, { key: company.key }),
    );
    expect(
      ok(
        await t.gql(
          `mutation($id: ID!) { revokeUserTokens(userId: $id) }`,
          { id: revoked.session.userId },
          { key: company.key },
        ),
      ).revokeUserTokens,
    ).toBe(0);
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: event.id }, { key: company.key }));
    for (const s of [kicked, revoked, ended]) {
      expect(await sessionOf(s.session.id)).toMatchObject({
        endReason: "INACTIVE",
        endedAt: s.session.joinedAt,
        durationSeconds: 0,
      });
    }
    expect(await sessionOf(fresh.session.id)).toMatchObject({
      endReason: "EVENT_ENDED",
      endedAt: t.clock.now().toISOString(),
      durationSeconds: 60,
    });
  });
});
