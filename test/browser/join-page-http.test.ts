import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany } from "../support/factories";
import { addPrincipals, mint, mintAndJoin, updateSettings } from "../join/join-helpers";

// The join page over plain HTTP: headers, what the HTML reveals, the assets' caching, and the
// organizer's liveEvent query the page reads. No browser needed.

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const get = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${t.url}${path}`, { headers, redirect: "manual" });

/** The JSON config the page was rendered with. */
async function configOf(response: Response): Promise<any> {
  const html = await response.text();
  const match = /<script type="application\/json" id="admit-config">([^<]*)<\/script>/.exec(html);
  if (!match) throw new Error(`no config in ${html.slice(0, 200)}`);
  return JSON.parse(match[1]);
}

describe("GET /j/<event>: the join page", () => {
  it("answers with a strict CSP framed only by the company's embed origins, no referrer, nosniff, no-store", async () => {
    await updateSettings(t, company, { allowedEmbedOrigins: ["https://app.acme.test", "http://127.0.0.1:8080"] });
    const event = await makeEvent(t, company);
    const response = await get(`/j/${event.slug}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toBe(
      // connect-src names the page's own WebSocket origin too, for the live push (/graphql/ws).
      `default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ${t.url.replace(/^http/, "ws")}; img-src 'self' data:; base-uri 'none'; ` +
        "form-action 'self'; frame-ancestors https://app.acme.test http://127.0.0.1:8080",
    );
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.get("x-frame-options")).toBeNull();
    expect((await configOf(response)).embedOrigins).toEqual(["https://app.acme.test", "http://127.0.0.1:8080"]);
    await updateSettings(t, company, { allowedEmbedOrigins: [] });
  });

  it("with no allowed embed origin, frame-ancestors 'none' (and X-Frame-Options: DENY): the page cannot be framed at all", async () => {
    const other = await makeCompany(t);
    const event = await makeEvent(t, other);
    const response = await get(`/j/${event.slug}`);
    expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect((await configOf(response)).embedOrigins).toEqual([]);
  });

  it("shows a PUBLIC event's name and times; a PRIVATE event's name only after joining", async () => {
    const open = await makeEvent(t, company, {
      name: "Open day",
      privacy: "PUBLIC",
      startsAt: "2030-01-01T10:00:00.000Z",
    });
    const config = await configOf(await get(`/j/${open.slug}`));
    expect(config.event).toEqual({
      id: open.id,
      ref: open.slug,
      privacy: "PUBLIC",
      knockingEnabled: false,
      name: "Open day",
      startsAt: "2030-01-01T10:00:00.000Z",
      endsAt: null,
    });

    const secret = await makeEvent(t, company, { name: "Board meeting on layoffs", knockingEnabled: true });
    const response = await get(`/j/${secret.slug}`);
    const html = await response.clone().text();
    expect(html).not.toContain("Board meeting");
    expect((await configOf(response)).event).toEqual({
      id: secret.id,
      ref: secret.slug,
      privacy: "PRIVATE",
      knockingEnabled: true,
    });
    expect(html).toContain("<title>Join the event</title>");
  });

  it("escapes what the company wrote: an event name cannot close the config script or inject markup", async () => {
    const name = `</script><script>alert(1)</script><!-- & "quotes" 'single' \u2028 end`;
    const event = await makeEvent(t, company, { name, privacy: "PUBLIC" });
    const response = await get(`/j/${event.slug}`);
    const html = await response.clone().text();
    expect(html).not.toContain("<script>alert(1)");
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the config's and the page script's own
    expect(html).toContain(
      "<title>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;!-- &amp; &quot;quotes&quot; &#39;single&#39;",
    );
    expect((await configOf(response)).event.name).toBe(name);
  });

  it("finds the event by id and by companySlug/eventSlug; an unknown event is a 404 page that says so", async () => {
    const event = await makeEvent(t, company, { privacy: "PUBLIC", name: "By id" });
    expect((await configOf(await get(`/j/${event.id}`))).event.id).toBe(event.id);
    expect((await configOf(await get(`/j/${company.slug}/${event.slug}`))).event.id).toBe(event.id);

    for (const path of ["/j/no-such-event", "/j/", "/j", `/j/${company.slug}/nothing`, "/j/%00"]) {
      const response = await get(path);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
      const html = await response.clone().text();
      expect(html).toContain("This event does not exist, or this link is not for it.");
      expect((await configOf(response)).error).toBe("NOT_FOUND");
      expect(response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    }
  });

  it("a slug two companies use: the token's issuer picks the company (frame-ancestors included)", async () => {
    const slug = `shared-${Date.now()}`;
    const a = await makeCompany(t);
    const bCompany = await makeCompany(t);
    await updateSettings(t, bCompany, { allowedEmbedOrigins: ["https://b.example"] });
    await makeEvent(t, a, { slug });
    const bEvent = await makeEvent(t, bCompany, { slug });
    const minted = await mint(t, bCompany, { eventId: bEvent.id, user: { id: "u-1" } });

    const hinted = await get(`/j/${slug}?token=${minted.token}`);
    expect((await configOf(hinted.clone())).event.id).toBe(bEvent.id);
    expect(hinted.headers.get("content-security-policy")).toContain("frame-ancestors https://b.example");

    // Without a hint (a #token= fragment never reaches the server), the page joins by the slug
    // with the token, which names its company; it cannot be framed.
    const bare = await get(`/j/${slug}`);
    expect((await configOf(bare.clone())).event).toEqual({
      id: null,
      ref: slug,
      privacy: null,
      knockingEnabled: false,
    });
    expect(bare.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  it("serves the script and the style under content-hashed names, cached for good, with an ETag and gzip", async () => {
    const event = await makeEvent(t, company);
    const html = await (await get(`/j/${event.slug}`)).text();
    const script = /<script src="(\/j\/_\/join\.[0-9a-f]{16}\.js)" defer><\/script>/.exec(html)![1];
    const style = /<link rel="stylesheet" href="(\/j\/_\/join\.[0-9a-f]{16}\.css)">/.exec(html)![1];
    for (const [path, type] of [
      [script, "text/javascript; charset=utf-8"],
      [style, "text/css; charset=utf-8"],
    ]) {
      const plain = await get(path, { "accept-encoding": "identity" });
      expect(plain.status).toBe(200);
      expect(plain.headers.get("content-type")).toBe(type);
      expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(plain.headers.get("x-content-type-options")).toBe("nosniff");
      const etag = plain.headers.get("etag")!;
      expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
      expect(path).toContain(etag.slice(1, -1));
      const body = await plain.text();

      const again = await get(path, { "if-none-match": etag });
      expect(again.status).toBe(304);

      const gzipped = await get(path, { "accept-encoding": "gzip, deflate" });
      expect(gzipped.headers.get("content-encoding")).toBe("gzip");
      expect(await gzipped.text()).toBe(body); // fetch decodes it
    }
    expect((await get("/j/_/join.0000000000000000.js")).status).toBe(404);
    expect((await get("/j/_/join.html")).status).toBe(404);
  });
});

/** Opens a one-time login link as a browser would: the admit_session cookie it sets. */
async function redeem(company: TestCompany, input: Record<string, unknown>): Promise<string> {
  const user = await makeUser(t, company, { name: "Linked User", email: `linked-${Date.now()}@acme.test` });
  const link = ok(
    await t.gql(
      `mutation($input: CreateLoginLinkInput!) { createLoginLink(input: $input) { url } }`,
      { input: { userId: user.id, ...input } },
      { key: company.key },
    ),
  ).createLoginLink;
  const opened = await get(new URL(link.url).pathname);
  expect(opened.status).toBe(303);
  const cookie = opened.headers.getSetCookie().find((c) => c.startsWith("admit_session="))!;
  return cookie.slice("admit_session=".length, cookie.indexOf(";"));
}

describe("GET /j/<event> with the admit_session cookie of a login link", () => {
  it("a live session of this event: the page starts joined with it, and the cookie is refreshed", async () => {
    const event = await makeEvent(t, company);
    const cookie = await redeem(company, { eventId: event.id });
    const response = await get(`/j/${event.slug}`, { cookie: `admit_session=${cookie}` });
    expect(response.headers.getSetCookie().some((c) => c.startsWith("admit_session="))).toBe(true);
    const config = await configOf(response);
    const state = ok(
      await t.gql(`mutation($t: String!) { heartbeat(sessionToken: $t) { active session { eventId } } }`, {
        t: config.sessionToken,
      }),
    ).heartbeat;
    expect(state).toEqual({ active: true, session: { eventId: event.id } });

    // Another event's page does not pick it up.
    const other = await makeEvent(t, company);
    expect(
      (await configOf(await get(`/j/${other.slug}`, { cookie: `admit_session=${cookie}` }))).sessionToken,
    ).toBeUndefined();
  });

  it("an ended session with a redirectOnExpiryUrl: 303 there and the cookie deleted, unless the address carries a credential", async () => {
    await updateSettings(t, company, {
      allowedRedirectOrigins: ["https://app.acme.test"],
      sessionInactivityTimeoutSeconds: 600,
    });
    const event = await makeEvent(t, company);
    const cookie = await redeem(company, {
      eventId: event.id,
      redirectOnExpiryUrl: "https://app.acme.test/session-expired",
    });
    t.clock.advance(601);

    const minted = await mint(t, company, { eventId: event.id, user: { id: "u-new-credential" } });
    const withToken = await get(`/j/${event.slug}?token=${minted.token}`, { cookie: `admit_session=${cookie}` });
    expect(withToken.status).toBe(200);
    expect((await configOf(withToken)).ended).toBeUndefined();

    const response = await get(`/j/${event.slug}`, { cookie: `admit_session=${cookie}` });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("https://app.acme.test/session-expired");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(response.headers.getSetCookie().find((c) => c.startsWith("admit_session="))).toMatch(
      /^admit_session=;.*Max-Age=0/i,
    );
    await updateSettings(t, company, { allowedRedirectOrigins: [], sessionInactivityTimeoutSeconds: 14_400 });
  });

  it("an ended session without a redirect: the page says why it ended", async () => {
    const event = await makeEvent(t, company);
    const cookie = await redeem(company, { eventId: event.id });
    ok(await t.gql(`mutation($t: String!) { leaveEvent(sessionToken: $t) { id } }`, { t: cookie }));
    const response = await get(`/j/${event.slug}`, { cookie: `admit_session=${cookie}` });
    expect(response.status).toBe(200);
    const config = await configOf(response);
    expect(config.ended).toBe("LEFT");
    expect(config.sessionToken).toBeUndefined();
  });

  it("a company-wide sign-in (a link without event): the page joins any event of the company with it", async () => {
    const event = await makeEvent(t, company);
    const cookie = await redeem(company, {});
    const config = await configOf(await get(`/j/${event.slug}`, { cookie: `admit_session=${cookie}` }));
    const joined = ok(
      await t.gql(`mutation($input: JoinEventInput!) { joinEvent(input: $input) { role session { eventId } } }`, {
        input: { event: event.id, credential: config.joinToken },
      }),
    ).joinEvent;
    expect(joined).toEqual({ role: "ATTENDEE", session: { eventId: event.id } });
    const elsewhere = await makeEvent(t, await makeCompany(t));
    expect(
      (await configOf(await get(`/j/${elsewhere.slug}`, { cookie: `admit_session=${cookie}` }))).joinToken,
    ).toBeUndefined();
  });

  it("a company-wide sign-in reached from another site asks before joining; from Admit's own pages it joins at once", async () => {
    const event = await makeEvent(t, company);
    const cookie = await redeem(company, {});
    const from = async (site?: string) =>
      configOf(
        await get(`/j/${event.slug}`, {
          cookie: `admit_session=${cookie}`,
          ...(site ? { "sec-fetch-site": site } : {}),
        }),
      );
    expect((await from("cross-site")).confirmJoin).toBe(true);
    expect((await from("same-site")).confirmJoin).toBe(true);
    expect((await from()).confirmJoin).toBe(true);
    expect((await from("same-origin")).confirmJoin).toBeUndefined();
    expect((await from("none")).confirmJoin).toBeUndefined();
  });
});

const LIVE = `query { liveEvent { participantCount participants { sessionId name role isGuest } event { id name } } }`;

describe("liveEvent: who is in, for an organizer session of the event", () => {
  it("an ORGANIZER's session token sees the event's live participants by name and role", async () => {
    const event = await makeEvent(t, company, { name: "Town hall", organizers: [{ userId: "boss" }] });
    const boss = await mintAndJoin(t, company, event.id, {}, { id: "boss", name: "The Boss" });
    t.clock.advance(1);
    const attendee = await mintAndJoin(
      t,
      company,
      event.id,
      {},
      { id: "someone", name: "Someone", email: "someone@acme.test" },
    );
    const left = await mintAndJoin(t, company, event.id, {}, { id: "gone", name: "Gone" });
    ok(await t.gql(`mutation($t: String!) { leaveEvent(sessionToken: $t) { id } }`, { t: left.sessionToken }));
    // Another event's people are not this organizer's business.
    const elsewhere = await makeEvent(t, company);
    await mintAndJoin(t, company, elsewhere.id, {}, { id: "elsewhere", name: "Elsewhere" });

    const live = ok(await t.gql(LIVE, {}, { key: boss.sessionToken })).liveEvent;
    expect(live.event).toEqual({ id: event.id, name: "Town hall" });
    expect(live.participantCount).toBe(2);
    expect(live.participants).toEqual([
      { sessionId: boss.session.id, name: "The Boss", role: "ORGANIZER", isGuest: false },
      { sessionId: attendee.session.id, name: "Someone", role: "ATTENDEE", isGuest: false },
    ]);
  });

  it("its joinRequests answer the same organizer", async () => {
    const event = await makeEvent(t, company, { knockingEnabled: true, organizers: [{ email: "org@acme.test" }] });
    const organizer = await mintAndJoin(t, company, event.id, {}, { id: "org", name: "Org", email: "org@acme.test" });
    ok(
      await t.gql(`mutation($input: RequestToJoinInput!) { requestToJoin(input: $input) { secret } }`, {
        input: { event: event.id, name: "Knocker" },
      }),
    );
    const live = ok(
      await t.gql(
        `query { liveEvent { event { joinRequests(status: PENDING) { edges { node { name status } } } } } }`,
        {},
        { key: organizer.sessionToken },
      ),
    ).liveEvent;
    expect(live.event.joinRequests.edges).toEqual([{ node: { name: "Knocker", status: "PENDING" } }]);
  });

  it("refused to attendees, to ended sessions, to API keys and to anonymous callers", async () => {
    const event = await makeEvent(t, company, { organizers: [{ userId: "demoted" }] });
    const attendee = await mintAndJoin(t, company, event.id);
    expect(codeOf(await t.gql(LIVE, {}, { key: attendee.sessionToken }))).toBe("FORBIDDEN");

    // Removed from the organizers: the power goes at once, not at the next heartbeat.
    const demoted = await mintAndJoin(t, company, event.id, {}, { id: "demoted" });
    expect(ok(await t.gql(LIVE, {}, { key: demoted.sessionToken })).liveEvent.participantCount).toBe(2);
    ok(
      await t.gql(
        `mutation($input: EventPrincipalsInput!) { removeEventPrincipals(input: $input) { id } }`,
        { input: { eventId: event.id, role: "ORGANIZER", principals: [{ userId: "demoted" }] } },
        { key: company.key },
      ),
    );
    expect(codeOf(await t.gql(LIVE, {}, { key: demoted.sessionToken }))).toBe("FORBIDDEN");

    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: "demoted" }]);
    ok(await t.gql(`mutation($t: String!) { leaveEvent(sessionToken: $t) { id } }`, { t: demoted.sessionToken }));
    expect(codeOf(await t.gql(LIVE, {}, { key: demoted.sessionToken }))).toBe("FORBIDDEN");

    expect(codeOf(await t.gql(LIVE, {}, { key: company.key }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(LIVE, {}))).toBe("UNAUTHENTICATED");
    expect(codeOf(await t.gql(LIVE, {}, { key: "a.b.c" }))).toBe("UNAUTHENTICATED");
  });

  it("guests show as guests", async () => {
    const event = await makeEvent(t, company, { privacy: "PUBLIC", organizers: [{ userId: "host" }] });
    const host = await mintAndJoin(t, company, event.id, {}, { id: "host", name: "Host" });
    const guest = ok(
      await t.gql(`mutation($input: JoinEventInput!) { joinEvent(input: $input) { session { id } } }`, {
        input: { event: event.id, displayName: "Walk-in" },
      }),
    ).joinEvent;
    const live = ok(await t.gql(LIVE, {}, { key: host.sessionToken })).liveEvent;
    expect(live.participants.find((p: { sessionId: string }) => p.sessionId === guest.session.id)).toEqual({
      sessionId: guest.session.id,
      name: "Walk-in",
      role: "ATTENDEE",
      isGuest: true,
    });
  });
});
