import { randomBytes } from "node:crypto";
import { COOKIE_GRACE_SECONDS } from "../../src/http/cookie-session";
import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent, TestUser } from "../support/factories";
import { expectRefused, JOIN, mint, updateSettings } from "../join/join-helpers";
import {
  browserGet,
  createLink,
  createLinkRaw,
  jwtPayload,
  linkRow,
  openLink,
  postLogout,
  readLink,
  REVOKE_LINK,
  sessionCookieOf,
  sessionRow,
  sessionsOfLink,
  sessionState,
} from "./login-link-helpers";

const APP_ORIGIN = "https://app.acme.test";
const INACTIVITY = 600;

const t = useTestApp();

interface World {
  company: TestCompany;
  event: TestEvent;
  user: TestUser;
}

async function world(): Promise<World> {
  const company = await makeCompany(t);
  await updateSettings(t, company, {
    allowedRedirectOrigins: [APP_ORIGIN],
    sessionInactivityTimeoutSeconds: INACTIVITY,
  });
  const event = await makeEvent(t, company);
  const user = await makeUser(t, company, { name: "Ada Lovelace", email: "ada@acme.test" });
  return { company, event, user };
}

const garbageCodes = () => [
  randomBytes(32).toString("base64url"), // well-formed, unknown
  "abc",
  "x".repeat(200),
  "%00",
  encodeURIComponent("<script>alert(1)</script>"),
];

describe("createLoginLink", () => {
  it("returns the url (with the code) once; the link reads back without it", async () => {
    const { company, event, user } = await world();
    const before = t.clock.now().getTime();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    expect(link.url).toMatch(/^http:\/\/admit\.test\/login\/[A-Za-z0-9_-]{43}$/);
    expect(link).toMatchObject({
      status: "ACTIVE",
      userId: user.id,
      eventId: event.id,
      usedAt: null,
      revokedAt: null,
      redirectOnExpiryUrl: null,
    });
    // Default window: the company's loginLinkTtlSeconds (15 s).
    expect(new Date(link.expiresAt).getTime() - before).toBe(15_000);

    const again = await readLink(t, company, link.id);
    expect(again).toMatchObject({ id: link.id, url: null, status: "ACTIVE" });
    expect(JSON.stringify(again)).not.toContain(link.code);
  });

  it("takes ttlSeconds from 1 to 300, else BAD_USER_INPUT on ttlSeconds; the default follows the company setting", async () => {
    const { company, event, user } = await world();
    for (const ttlSeconds of [0, -1, 301, 86_400]) {
      await expectRefused(
        t,
        () => createLinkRaw(t, company, { userId: user.id, eventId: event.id, ttlSeconds }),
        "BAD_USER_INPUT",
        "ttlSeconds",
      );
    }
    for (const ttlSeconds of [1, 300]) {
      const link = await createLink(t, company, { userId: user.id, eventId: event.id, ttlSeconds });
      expect(new Date(link.expiresAt).getTime() - new Date(link.createdAt).getTime()).toBe(ttlSeconds * 1000);
    }
    await updateSettings(t, company, { loginLinkTtlSeconds: 120 });
    const link = await createLink(t, company, { userId: user.id });
    expect(new Date(link.expiresAt).getTime() - new Date(link.createdAt).getTime()).toBe(120_000);
  });

  it("only for a non-guest user and an event of the caller's company (NOT_FOUND otherwise), with MINT_TOKENS", async () => {
    const { company, event, user } = await world();
    const other = await world();
    const guestEvent = await makeEvent(t, company, { privacy: "PUBLIC" });
    const guest = ok(await t.gql(JOIN, { input: { event: guestEvent.id, displayName: "Guest" } })).joinEvent.session
      .user;
    expect(guest.isGuest).toBe(true);

    for (const input of [
      { userId: other.user.id, eventId: event.id },
      { userId: user.id, eventId: other.event.id },
      { userId: guest.id, eventId: event.id },
      { userId: "not-a-uuid" },
      { userId: user.id, eventId: "not-a-uuid" },
    ]) {
      await expectRefused(t, () => createLinkRaw(t, company, input), "NOT_FOUND");
    }

    const limited = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "events only", scopes: [MANAGE_EVENTS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    const refused = await t.gql(
      `mutation($input: CreateLoginLinkInput!) { createLoginLink(input: $input) { id } }`,
      { input: { userId: user.id } },
      { key: limited },
    );
    expect(codeOf(refused)).toBe("FORBIDDEN");
    expect(
      codeOf(
        await t.gql(`mutation($input: CreateLoginLinkInput!) { createLoginLink(input: $input) { id } }`, {
          input: { userId: user.id },
        }),
      ),
    ).toBe("UNAUTHENTICATED");
  });

  it("another company's key can neither see nor revoke a link (NOT_FOUND, like a missing one)", async () => {
    const { company, event, user } = await world();
    const other = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    expect(await readLink(t, other.company, link.id)).toBeNull();
    await expectRefused(t, () => t.gql(REVOKE_LINK, { id: link.id }, { key: other.company.key }), "NOT_FOUND");
    await expectRefused(t, () => t.gql(REVOKE_LINK, { id: "nope" }, { key: company.key }), "NOT_FOUND");
    expect((await readLink(t, company, link.id))?.status).toBe("ACTIVE");
  });
});

describe("GET /login/<code>", () => {
  it("answers 303 to the event's page with the session cookie; the session came in with LOGIN_LINK", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const opened = await openLink(t, link.code);
    expect(opened.status).toBe(303);
    expect(opened.location).toBe(`http://admit.test/j/${event.slug}`);
    expect(opened.headers.get("cache-control")).toBe("no-store");
    expect(opened.headers.get("referrer-policy")).toBe("no-referrer");

    const cookie = sessionCookieOf(opened);
    expect(cookie.attributes).toEqual({
      httponly: "",
      samesite: "Lax",
      path: "/",
      "max-age": String(INACTIVITY + COOKIE_GRACE_SECONDS),
    });
    expect(cookie.attributes).not.toHaveProperty("secure");

    const session = await sessionRow(t, jwtPayload(cookie.value).sub);
    expect(session).toMatchObject({
      user_id: user.id,
      event_id: event.id,
      credential_type: "LOGIN_LINK",
      credential_jti: link.id,
      ended_at: null,
    });
    const api = ok(
      await t.gql(
        `query($id: ID!) { session(id: $id) { credentialType active user { id } } }`,
        { id: session.id },
        { key: company.key },
      ),
    );
    expect(api.session).toEqual({ credentialType: "LOGIN_LINK", active: true, user: { id: user.id } });

    const read = await readLink(t, company, link.id);
    expect(read).toMatchObject({ status: "USED", url: null });
    expect(read?.usedAt).not.toBeNull();
    expect((await linkRow(t, link.id)).session_id).toBe(session.id);

    // The cookie works: /session sees the live session and refreshes the cookie.
    const state = await sessionState(t, cookie.value);
    expect(state.body).toMatchObject({ state: "live", sessionId: session.id, eventId: event.id, redirectTo: null });
    expect(sessionCookieOf(state.response).attributes["max-age"]).toBe(String(INACTIVITY + COOKIE_GRACE_SECONDS));
  });

  it("a second GET answers 410 and ends the first session as REVOKED (a reused code is a stolen link)", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const first = await openLink(t, link.code);
    expect(first.status).toBe(303);
    const sessionId = jwtPayload(sessionCookieOf(first).value).sub;

    const second = await openLink(t, link.code);
    expect(second.status).toBe(410);
    expect(second.setCookies).toEqual([]);
    expect(await sessionRow(t, sessionId)).toMatchObject({ end_reason: "REVOKED" });
    expect((await linkRow(t, link.id)).reused_at).not.toBeNull();
    expect((await sessionState(t, sessionCookieOf(first).value)).body).toMatchObject({
      state: "ended",
      endReason: "REVOKED",
    });
    // Nothing else was opened.
    expect(await sessionsOfLink(t, link.id)).toHaveLength(1);
  });

  it("12 concurrent GETs of a fresh link: exactly one 303, eleven 410, one session", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const responses = await Promise.all(Array.from({ length: 12 }, () => openLink(t, link.code)));
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses).toEqual([303, ...Array(11).fill(410)]);
    const sessions = await sessionsOfLink(t, link.id);
    expect(sessions).toHaveLength(1);
    // The losers presented a code that was used by then: the race is treated as theft too.
    expect(sessions[0].end_reason).toBe("REVOKED");
    expect(new Set(responses.filter((r) => r.status === 410).map((r) => r.body)).size).toBe(1);
  });

  it("revoked, expired, unknown and malformed codes all get the same 410 page, and the API says why", async () => {
    const { company, event, user } = await world();
    const used = await createLink(t, company, { userId: user.id, eventId: event.id });
    expect((await openLink(t, used.code)).status).toBe(303);
    const usedAgain = await openLink(t, used.code);
    expect(usedAgain.status).toBe(410);
    const page = usedAgain.body;
    expect(page).toContain("can no longer be used");
    expect(usedAgain.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(usedAgain.headers.get("cache-control")).toBe("no-store");
    expect(usedAgain.headers.get("referrer-policy")).toBe("no-referrer");
    expect(usedAgain.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page).not.toMatch(/src=|https?:\/\//);

    const revoked = await createLink(t, company, { userId: user.id, eventId: event.id });
    const afterRevoke = ok(await t.gql(REVOKE_LINK, { id: revoked.id }, { key: company.key })).revokeLoginLink;
    expect(afterRevoke).toMatchObject({ status: "REVOKED", url: null });
    // Revoking twice answers the link as it is.
    expect(ok(await t.gql(REVOKE_LINK, { id: revoked.id }, { key: company.key })).revokeLoginLink).toEqual(afterRevoke);
    const revokedGet = await openLink(t, revoked.code);
    expect([revokedGet.status, revokedGet.body]).toEqual([410, page]);

    const expiring = await createLink(t, company, { userId: user.id, eventId: event.id, ttlSeconds: 5 });
    t.clock.advance(5);
    const expiredGet = await openLink(t, expiring.code);
    expect([expiredGet.status, expiredGet.body]).toEqual([410, page]);
    expect((await readLink(t, company, expiring.id))?.status).toBe("EXPIRED");

    for (const code of garbageCodes()) {
      const response = await openLink(t, code);
      expect([code, response.status, response.body]).toEqual([code, 410, page]);
    }
    // None of these opened anything.
    for (const id of [revoked.id, expiring.id]) expect(await sessionsOfLink(t, id)).toEqual([]);
    expect((await linkRow(t, revoked.id)).used_at).toBeNull();
  });

  it("a refusal that is not the code's (event ended, full) is a 4xx page and leaves the link usable", async () => {
    const { company, user } = await world();
    const ended = await makeEvent(t, company);
    const link = await createLink(t, company, { userId: user.id, eventId: ended.id, ttlSeconds: 300 });
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: ended.id }, { key: company.key }));
    const refused = await openLink(t, link.code);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain("This event has ended.");
    expect(refused.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect((await readLink(t, company, link.id))?.status).toBe("ACTIVE");

    const full = await makeEvent(t, company, { capacity: 1 });
    const someone = await mint(t, company, { eventId: full.id, user: { id: "someone" } });
    ok(await t.gql(JOIN, { input: { event: full.id, credential: someone.token } }));
    const fullLink = await createLink(t, company, { userId: user.id, eventId: full.id, ttlSeconds: 300 });
    const fullGet = await openLink(t, fullLink.code);
    expect(fullGet.status).toBe(409);
    expect((await readLink(t, company, fullLink.id))?.status).toBe("ACTIVE");
    expect(await sessionsOfLink(t, fullLink.id)).toEqual([]);
  });

  it("revokeUserTokens kills unredeemed links and the sessions links opened", async () => {
    const { company, event, user } = await world();
    const opened = await createLink(t, company, { userId: user.id, eventId: event.id, ttlSeconds: 300 });
    const pending = await createLink(t, company, { userId: user.id, eventId: event.id, ttlSeconds: 300 });
    const sessionId = jwtPayload(sessionCookieOf(await openLink(t, opened.code)).value).sub;
    t.clock.advance(1);
    ok(await t.gql(`mutation($id: ID!) { revokeUserTokens(userId: $id) }`, { id: user.id }, { key: company.key }));
    expect(await sessionRow(t, sessionId)).toMatchObject({ end_reason: "REVOKED" });
    expect((await openLink(t, pending.code)).status).toBe(410);
    const join = await t.gql(JOIN, {
      input: { event: event.id, credential: pending.code, credentialType: "LOGIN_LINK" },
    });
    expect(codeOf(join)).toBe("LOGIN_LINK_EXPIRED");
  });

  it("the code is never in the logs (the access log shows the route, not the path), nor in the database in clear", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    expect((await browserGet(t, `/login/${link.code}/`)).status).toBe(410);
    for (const path of [`//login/${link.code}`, `/LOGIN/${link.code}`])
      expect((await browserGet(t, path)).status).toBe(404);
    expect((await openLink(t, link.code)).status).toBe(303);
    const logs = t.logs.join("\n");
    expect(logs).not.toContain(link.code);
    expect(logs).toContain('"url":"/login/*"');
    const [row] = await t.db.dataSource.query("SELECT to_jsonb(l)::text AS row FROM login_links l WHERE id = $1", [
      link.id,
    ]);
    expect(row.row).not.toContain(link.code);
    expect(row.row).not.toContain(link.code.slice(12));
  });

  it("HEAD does not redeem a link", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const head = await fetch(`${t.url}/login/${link.code}`, { method: "HEAD", redirect: "manual" });
    expect(head.status).toBe(404);
    expect((await readLink(t, company, link.id))?.status).toBe("ACTIVE");
  });
});

describe("joinEvent with a LOGIN_LINK credential", () => {
  const joinWith = (event: string, credential: string) =>
    t.gql(JOIN, { input: { event, credential, credentialType: "LOGIN_LINK" } });

  it("opens a session for the link's user, once; a used code is LOGIN_LINK_USED and ends that session", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const joined = ok(await joinWith(event.slug, link.code)).joinEvent;
    expect(joined.session).toMatchObject({
      credentialType: "LOGIN_LINK",
      userId: user.id,
      eventId: event.id,
      active: true,
    });

    const again = await joinWith(event.slug, link.code);
    expect(codeOf(again)).toBe("LOGIN_LINK_USED");
    expect(again.errors?.[0].message).not.toContain(link.code);
    expect(await sessionRow(t, joined.session.id)).toMatchObject({ end_reason: "REVOKED" });
    expect((await openLink(t, link.code)).status).toBe(410);
  });

  it("12 concurrent joins with one code: one session, eleven LOGIN_LINK_USED, and the race ends that session", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const responses = await Promise.all(Array.from({ length: 12 }, () => joinWith(event.id, link.code)));
    const codes = responses.map((r) => codeOf(r) ?? "OK").sort();
    expect(codes).toEqual(["LOGIN_LINK_USED", ...Array(10).fill("LOGIN_LINK_USED"), "OK"].sort());
    expect(await sessionsOfLink(t, link.id)).toHaveLength(1);
    // Losers that found the code consumed inside their join end the session once their
    // transaction has rolled back, in statements of their own: wait for them.
    for (let i = 0; i < 50 && (await sessionsOfLink(t, link.id))[0].end_reason === null; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect((await sessionsOfLink(t, link.id))[0].end_reason).toBe("REVOKED");
  });

  it("unknown, garbage and revoked codes are LOGIN_LINK_EXPIRED and change nothing", async () => {
    const { company, event, user } = await world();
    for (const code of garbageCodes())
      await expectRefused(t, () => joinWith(event.id, decodeURIComponent(code)), "LOGIN_LINK_EXPIRED");
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    ok(await t.gql(REVOKE_LINK, { id: link.id }, { key: company.key }));
    await expectRefused(t, () => joinWith(event.id, link.code), "LOGIN_LINK_EXPIRED");
    const missing = await t.gql(JOIN, { input: { event: event.id, credentialType: "LOGIN_LINK" } });
    expect(codeOf(missing)).toBe("BAD_USER_INPUT");
  });

  it("a link for one event is TOKEN_WRONG_EVENT elsewhere, and stays usable for its own", async () => {
    const { company, event, user } = await world();
    const elsewhere = await makeEvent(t, company);
    const other = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    await expectRefused(t, () => joinWith(elsewhere.id, link.code), "TOKEN_WRONG_EVENT");
    await expectRefused(t, () => joinWith(other.event.id, link.code), "NOT_FOUND");
    expect(ok(await joinWith(event.id, link.code)).joinEvent.session.eventId).toBe(event.id);
  });

  it("a link without event opens any event of its company, by id, slug or companySlug/eventSlug", async () => {
    const { company, event, user } = await world();
    const other = await world();
    const byPath = await createLink(t, company, { userId: user.id });
    expect(ok(await joinWith(`${company.slug}/${event.slug}`, byPath.code)).joinEvent.session.eventId).toBe(event.id);
    const foreign = await createLink(t, company, { userId: user.id });
    await expectRefused(t, () => joinWith(`${other.company.slug}/${other.event.slug}`, foreign.code), "NOT_FOUND");
    expect(ok(await joinWith(event.id, foreign.code)).joinEvent.session.credentialType).toBe("LOGIN_LINK");
  });

  it("a refusal later in the join rolls the consumption back", async () => {
    const { company, user } = await world();
    const full = await makeEvent(t, company, { capacity: 1 });
    const someone = await mint(t, company, { eventId: full.id, user: { id: "someone-else" } });
    ok(await t.gql(JOIN, { input: { event: full.id, credential: someone.token } }));
    const link = await createLink(t, company, { userId: user.id, eventId: full.id });
    expect(codeOf(await joinWith(full.id, link.code))).toBe("EVENT_FULL");
    expect((await readLink(t, company, link.id))?.status).toBe("ACTIVE");
  });
});

describe("a link without event", () => {
  it("signs in to the company: 303 to /c/<slug>/, whose page says who is signed in (escaped)", async () => {
    const { company, event } = await world();
    const user = await makeUser(t, company, { name: "<script>alert(1)</script>", email: "x@acme.test" });
    const link = await createLink(t, company, { userId: user.id, redirectOnExpiryUrl: `${APP_ORIGIN}/home` });
    const opened = await openLink(t, link.code);
    expect(opened.status).toBe(303);
    expect(opened.location).toBe(`http://admit.test/c/${company.slug}/`);
    const cookie = sessionCookieOf(opened);
    expect(cookie.attributes["max-age"]).toBe(String(INACTIVITY + COOKIE_GRACE_SECONDS));
    const claims = jwtPayload(cookie.value);
    expect(claims).toMatchObject({ aud: "admit:join", jti: link.id, sub: user.externalId });
    expect(claims).not.toHaveProperty("evt");

    const landing = await browserGet(t, `/c/${company.slug}/`, cookie.value);
    expect(landing.status).toBe(200);
    expect(landing.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(landing.headers.get("x-content-type-options")).toBe("nosniff");
    expect(landing.headers.get("referrer-policy")).toBe("no-referrer");
    expect(landing.body).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(landing.body).not.toContain("<script>");
    const anonymous = await browserGet(t, `/c/${company.slug}/`);
    expect(anonymous.body).toContain("You are not signed in.");

    const state = await sessionState(t, cookie.value);
    expect(state.body).toMatchObject({
      state: "signedIn",
      companySlug: company.slug,
      userId: user.id,
      redirectOnExpiryUrl: `${APP_ORIGIN}/home`,
    });

    // The cookie is a join token for any event of the company.
    const joined = ok(await t.gql(JOIN, { input: { event: event.id, credential: cookie.value } })).joinEvent;
    expect(joined.session).toMatchObject({ userId: user.id, credentialType: "JOIN_TOKEN" });

    // Past the inactivity window the browser is sent to the link's redirect.
    t.clock.advance(INACTIVITY + 31);
    expect((await sessionState(t, cookie.value)).body).toMatchObject({
      state: "ended",
      endReason: "INACTIVE",
      redirectTo: `${APP_ORIGIN}/home`,
    });
    const expiredLanding = await browserGet(t, `/c/${company.slug}/`, cookie.value);
    expect([expiredLanding.status, expiredLanding.location]).toEqual([303, `${APP_ORIGIN}/home`]);
  });

  it("a reused code revokes the company-wide sign-in; logout revokes it too", async () => {
    const { company, user } = await world();
    const link = await createLink(t, company, { userId: user.id });
    const cookie = sessionCookieOf(await openLink(t, link.code)).value;
    expect((await sessionState(t, cookie)).body.state).toBe("signedIn");
    expect((await openLink(t, link.code)).status).toBe(410);
    expect((await sessionState(t, cookie)).body).toMatchObject({ state: "ended", endReason: "REVOKED" });

    const second = await createLink(t, company, { userId: user.id });
    const cookie2 = sessionCookieOf(await openLink(t, second.code)).value;
    const out = await postLogout(t, "/logout", cookie2);
    expect(out.status).toBe(303);
    expect((await sessionState(t, cookie2)).body).toMatchObject({ state: "ended", endReason: "REVOKED" });
  });
});

describe("the cookie session", () => {
  it("after the inactivity window, sends the browser to the link's redirectOnExpiryUrl (re-checked against the allow-list)", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, {
      userId: user.id,
      eventId: event.id,
      redirectOnExpiryUrl: `${APP_ORIGIN}/after?x=1`,
    });
    expect(link.redirectOnExpiryUrl).toBe(`${APP_ORIGIN}/after?x=1`);
    const cookie = sessionCookieOf(await openLink(t, link.code)).value;

    t.clock.advance(INACTIVITY - 10);
    const live = await sessionState(t, cookie);
    expect(live.body).toMatchObject({
      state: "live",
      redirectTo: null,
      redirectOnExpiryUrl: `${APP_ORIGIN}/after?x=1`,
    });
    expect(live.response.headers.get("cache-control")).toBe("no-store");
    const refreshed = sessionCookieOf(live.response).value;

    t.clock.advance(INACTIVITY + 1);
    const ended = await sessionState(t, refreshed);
    expect(ended.body).toMatchObject({ state: "ended", endReason: "INACTIVE", redirectTo: `${APP_ORIGIN}/after?x=1` });
    // The old cookie value says the same.
    expect((await sessionState(t, cookie)).body).toMatchObject({
      state: "ended",
      redirectTo: `${APP_ORIGIN}/after?x=1`,
    });

    // Removed from the allow-list since: no redirect.
    await updateSettings(t, company, { allowedRedirectOrigins: ["https://elsewhere.acme.test"] });
    expect((await sessionState(t, cookie)).body).toMatchObject({ state: "ended", redirectTo: null });
  });

  it("a session ended by leaving or logging out has no expiry redirect; a bad cookie is none and cleared", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, {
      userId: user.id,
      eventId: event.id,
      redirectOnExpiryUrl: `${APP_ORIGIN}/x`,
    });
    const cookie = sessionCookieOf(await openLink(t, link.code)).value;
    ok(await t.gql(`mutation($t: String!) { leaveEvent(sessionToken: $t) { id } }`, { t: cookie }));
    expect((await sessionState(t, cookie)).body).toMatchObject({ state: "ended", endReason: "LEFT", redirectTo: null });

    const bad = await sessionState(t, `${cookie.slice(0, -4)}AAAA`);
    expect(bad.body).toEqual({ state: "none", redirectTo: null });
    expect(sessionCookieOf(bad.response).attributes["max-age"]).toBe("0");
    expect((await sessionState(t, "not-a-token")).body.state).toBe("none");
    const none = await browserGet(t, "/session");
    expect(JSON.parse(none.body)).toEqual({ state: "none", redirectTo: null });
    expect(none.setCookies).toEqual([]);
  });
});

describe("POST /logout from Admit's own pages", () => {
  it("ends the session as LOGGED_OUT, clears the cookie and redirects to an allowed origin only", async () => {
    const { company, event, user } = await world();
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const cookie = sessionCookieOf(await openLink(t, link.code)).value;
    const sessionId = jwtPayload(cookie).sub;

    const out = await postLogout(t, `/logout?redirectTo=${encodeURIComponent(`${APP_ORIGIN}/bye`)}`, cookie);
    expect(out.status).toBe(303);
    expect(out.location).toBe(`${APP_ORIGIN}/bye`);
    expect(out.headers.get("cache-control")).toBe("no-store");
    const cleared = sessionCookieOf(out);
    expect(cleared).toMatchObject({
      value: "",
      attributes: { "max-age": "0", path: "/", httponly: "", samesite: "Lax" },
    });
    expect(await sessionRow(t, sessionId)).toMatchObject({ end_reason: "LOGGED_OUT" });
    expect((await sessionState(t, cookie)).body).toMatchObject({
      state: "ended",
      endReason: "LOGGED_OUT",
      redirectTo: null,
    });

    // Logging out again keeps LOGGED_OUT (conditional) and still redirects where allowed.
    const again = await postLogout(t, `/logout?redirectTo=${encodeURIComponent(`${APP_ORIGIN}/bye`)}`, cookie);
    expect(again.location).toBe(`${APP_ORIGIN}/bye`);
    expect(await sessionRow(t, sessionId)).toMatchObject({ end_reason: "LOGGED_OUT" });
  });

  it("a redirect outside the company's allow-list, or without a cookie, goes to the local page", async () => {
    const { company, event, user } = await world();
    const other = await world();
    await updateSettings(t, other.company, { allowedRedirectOrigins: ["https://other.test"] });
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const cookie = sessionCookieOf(await openLink(t, link.code)).value;

    // Another company's allowed origin is not this session's.
    const out = await postLogout(t, `/logout?redirectTo=${encodeURIComponent("https://other.test/")}`, cookie);
    expect(out.location).toBe("http://admit.test/logged-out");
    expect(sessionCookieOf(out).attributes["max-age"]).toBe("0");
    expect(await sessionRow(t, jwtPayload(cookie).sub)).toMatchObject({ end_reason: "LOGGED_OUT" });

    const anonymous = await postLogout(t, `/logout?redirectTo=${encodeURIComponent(`${APP_ORIGIN}/bye`)}`);
    expect(anonymous.status).toBe(303);
    expect(anonymous.location).toBe("http://admit.test/logged-out");
    expect(sessionCookieOf(anonymous).attributes["max-age"]).toBe("0");

    const page = await browserGet(t, "/logged-out");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.body).toContain("signed out");
  });
});

describe("with an https PUBLIC_URL", () => {
  const secure = useTestApp({ publicUrl: "https://admit.example" });

  it("the cookie carries Secure, and set and cleared cookies keep their flags", async () => {
    const company = await makeCompany(secure);
    const event = await makeEvent(secure, company);
    const user = await makeUser(secure, company);
    const link: { url: string } = ok(
      await createLinkRaw(secure, company, { userId: user.id, eventId: event.id }),
    ).createLoginLink;
    expect(link.url.startsWith("https://admit.example/login/")).toBe(true);
    const opened = await openLink(secure, link.url.slice(link.url.lastIndexOf("/") + 1));
    expect(opened.location).toBe(`https://admit.example/j/${event.slug}`);
    expect(sessionCookieOf(opened).attributes).toMatchObject({
      secure: "",
      httponly: "",
      samesite: "Lax",
      path: "/",
      "max-age": String(14_400 + COOKIE_GRACE_SECONDS),
    });
    const out = await postLogout(secure, "/logout", sessionCookieOf(opened).value);
    expect(sessionCookieOf(out).attributes).toMatchObject({ secure: "", "max-age": "0" });
  });
});
