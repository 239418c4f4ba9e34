import { useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent, TestUser } from "../support/factories";
import { updateSettings } from "../join/join-helpers";
import { FRESH_COOKIE_SECONDS } from "../../src/http/cookie-session";
import {
  BrowserResponse,
  browserGet,
  createLink,
  jwtPayload,
  openLink,
  postLogout,
  sessionCookieOf,
} from "./login-link-helpers";

/*
 * Requests another site starts in the victim's browser (a link, a redirect, a form): none may end
 * or extend the cookie's session. Sec-Fetch-Site says who started a request; a browser that
 * does not send it may read pages as before but signs out only by a POST from Admit's origin.
 */

const t = useTestApp();
const APP_ORIGIN = "https://app.acme.test";
const CROSS = { "sec-fetch-site": "cross-site" };
const SAME_SITE = { "sec-fetch-site": "same-site" };
const OURS = { "sec-fetch-site": "same-origin" };

let company: TestCompany;
let user: TestUser;
let event: TestEvent;
beforeAll(async () => {
  company = await makeCompany(t);
  await updateSettings(t, company, { allowedRedirectOrigins: [APP_ORIGIN], sessionInactivityTimeoutSeconds: 600 });
  user = await makeUser(t, company, { name: "Victim" });
  event = await makeEvent(t, company);
});

/** A login link of this event, redeemed: the cookie and its session id. */
async function signedIn(eventId: string | null = event.id): Promise<{ cookie: string; sessionId: string }> {
  const link = await createLink(t, company, { userId: user.id, ...(eventId ? { eventId } : {}) });
  const cookie = sessionCookieOf(await openLink(t, link.code)).value;
  return { cookie, sessionId: jwtPayload(cookie).sub };
}

async function sessionOf(
  id: string,
): Promise<{ last_seen_at: Date; ended_at: Date | null; end_reason: string | null }> {
  const [row] = await t.db.dataSource.query("SELECT last_seen_at, ended_at, end_reason FROM sessions WHERE id = $1", [
    id,
  ]);
  return row;
}

const cookieSet = (response: BrowserResponse) => response.setCookies.some((c) => c.startsWith("admit_session="));

function configOf(html: string): any {
  const match = /<script type="application\/json" id="admit-config">([^<]*)<\/script>/.exec(html);
  if (!match) throw new Error(`no config in ${html.slice(0, 200)}`);
  return JSON.parse(match[1]);
}

describe("signing out", () => {
  it("a GET /logout from another site (or a browser that does not say) ends nothing: it asks, with a button that posts", async () => {
    const { cookie, sessionId } = await signedIn();
    for (const headers of [CROSS, SAME_SITE, { "sec-fetch-site": "none" }, {}]) {
      const page = await browserGet(
        t,
        `/logout?redirectTo=${encodeURIComponent(`${APP_ORIGIN}/bye`)}`,
        cookie,
        headers,
      );
      expect([page.status, page.location, cookieSet(page)]).toEqual([200, null, false]);
      expect(page.body).toContain(
        '<form method="post" action="/logout"><input type="hidden" name="redirectTo" value="https://app.acme.test/bye">',
      );
      // The form may post here and follow the logout's redirect to the origin it names.
      expect(page.headers.get("content-security-policy")).toContain(`form-action 'self' ${APP_ORIGIN};`);
      expect(await sessionOf(sessionId)).toMatchObject({ ended_at: null });
    }

    // The button: a same-origin POST of the form, which signs out and follows the redirect.
    const out = await postLogout(t, "/logout", cookie, {}, `redirectTo=${encodeURIComponent(`${APP_ORIGIN}/bye`)}`);
    expect([out.status, out.location]).toEqual([303, `${APP_ORIGIN}/bye`]);
    expect(sessionCookieOf(out).attributes["max-age"]).toBe("0");
    expect(await sessionOf(sessionId)).toMatchObject({ end_reason: "LOGGED_OUT" });
  });

  it("a GET /logout from Admit's own pages still signs out at once", async () => {
    const { cookie, sessionId } = await signedIn();
    const out = await browserGet(t, "/logout", cookie, OURS);
    expect([out.status, out.location]).toEqual([303, "http://admit.test/logged-out"]);
    expect(await sessionOf(sessionId)).toMatchObject({ end_reason: "LOGGED_OUT" });
  });

  it("a POST /logout from another origin is refused (403, the same question), by Sec-Fetch-Site or else by Origin", async () => {
    const { cookie, sessionId } = await signedIn();
    for (const headers of [CROSS, SAME_SITE, { "sec-fetch-site": "none" }]) {
      const refused = await postLogout(t, "/logout", cookie, headers);
      expect([refused.status, refused.location, cookieSet(refused)]).toEqual([403, null, false]);
    }
    // A browser without Sec-Fetch-Site sends Origin with a POST: only Admit's own is accepted.
    const noSite = { "sec-fetch-site": null };
    for (const origin of ["https://evil.test", "http://admit.test.evil.test", "null"]) {
      expect((await postLogout(t, "/logout", cookie, { ...noSite, origin })).status).toBe(403);
    }
    expect((await postLogout(t, "/logout", cookie, noSite)).status).toBe(403);
    expect(await sessionOf(sessionId)).toMatchObject({ ended_at: null });

    const out = await postLogout(t, "/logout", cookie, { ...noSite, origin: "http://admit.test" });
    expect(out.status).toBe(303);
    expect(await sessionOf(sessionId)).toMatchObject({ end_reason: "LOGGED_OUT" });
  });

  it("the landing page signs out with a same-origin POST form, not a link", async () => {
    const { cookie } = await signedIn(null);
    const landing = await browserGet(t, `/c/${company.slug}/`, cookie, OURS);
    expect(landing.body).toContain(
      '<form method="post" action="/logout"><button type="submit">Sign out</button></form>',
    );
    expect(landing.body).not.toContain('href="/logout"');
    expect(landing.headers.get("content-security-policy")).toContain("form-action 'self';");
    const out = await postLogout(t, "/logout", cookie);
    expect(out.status).toBe(303);
    expect(JSON.parse((await browserGet(t, "/session", cookie, OURS)).body)).toMatchObject({
      state: "ended",
      endReason: "REVOKED",
    });
  });
});

describe("keeping a session alive", () => {
  it("GET /j/<event>, /session and /c/<slug>/ from another site neither heartbeat nor refresh the cookie", async () => {
    const { cookie, sessionId } = await signedIn();
    t.clock.advance(FRESH_COOKIE_SECONDS + 60);
    const before = await sessionOf(sessionId);

    for (const headers of [CROSS, SAME_SITE]) {
      const page = await browserGet(t, `/j/${event.slug}`, cookie, headers);
      expect([page.status, cookieSet(page)]).toEqual([200, false]);
      // The page gets the session to resume, but asks first.
      expect(configOf(page.body)).toMatchObject({ sessionToken: cookie, confirmJoin: true });

      const state = await browserGet(t, "/session", cookie, { ...headers, accept: "application/json" });
      expect([JSON.parse(state.body), cookieSet(state)]).toEqual([
        { state: "unconfirmed", redirectTo: null, sessionId, eventId: event.id },
        false,
      ]);

      const landing = await browserGet(t, `/c/${company.slug}/`, cookie, headers);
      expect([landing.status, cookieSet(landing)]).toEqual([200, false]);
      expect(landing.body).not.toContain("Victim");
    }
    expect(await sessionOf(sessionId)).toEqual(before);

    // Past the inactivity window, the session has idled out: another site's visits kept nothing alive.
    t.clock.advance(600 - 60);
    const own = await browserGet(t, `/j/${event.slug}`, cookie, OURS);
    expect(configOf(own.body)).toMatchObject({ ended: "INACTIVE" });
    expect(await sessionOf(sessionId)).toMatchObject({ end_reason: "INACTIVE" });
  });

  it("from Admit's own pages, a typed address or a browser that does not say, the visit is a heartbeat", async () => {
    const { cookie, sessionId } = await signedIn();
    for (const headers of [OURS, { "sec-fetch-site": "none" }, {}]) {
      t.clock.advance(FRESH_COOKIE_SECONDS + 5);
      const page = await browserGet(t, `/j/${event.slug}`, cookie, headers);
      expect(cookieSet(page)).toBe(true);
      expect(configOf(page.body).confirmJoin).toBeUndefined();
      expect((await sessionOf(sessionId)).last_seen_at.getTime()).toBe(t.clock.now().getTime());
    }
  });

  it("a company-wide sign-in from another site is not extended either", async () => {
    const { cookie } = await signedIn(null);
    const page = await browserGet(t, `/j/${event.slug}`, cookie, CROSS);
    expect(cookieSet(page)).toBe(false);
    expect(configOf(page.body)).toMatchObject({ confirmJoin: true });
    expect(cookieSet(await browserGet(t, "/session", cookie, CROSS))).toBe(false);
    const landing = await browserGet(t, `/c/${company.slug}/`, cookie, CROSS);
    expect([cookieSet(landing), landing.body.includes("Victim")]).toEqual([false, true]);
    expect(cookieSet(await browserGet(t, "/session", cookie, OURS))).toBe(true);
  });

  it("a login link opened from a webmail stays one click: its cross-site redirect resumes at once, for a short while only", async () => {
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const opened = await browserGet(t, `/login/${link.code}`, null, CROSS);
    expect(opened.status).toBe(303);
    const cookie = sessionCookieOf(opened).value;
    // The browser follows the redirect; Sec-Fetch-Site stays cross-site along the chain.
    const landed = await browserGet(t, new URL(opened.location!).pathname, cookie, CROSS);
    expect(configOf(landed.body)).toMatchObject({ sessionToken: cookie });
    expect(configOf(landed.body).confirmJoin).toBeUndefined();
    expect(cookieSet(landed)).toBe(false);

    t.clock.advance(FRESH_COOKIE_SECONDS + 1);
    expect(configOf((await browserGet(t, `/j/${event.slug}`, cookie, CROSS)).body)).toMatchObject({
      sessionToken: cookie,
      confirmJoin: true,
    });
  });
});
