import { SignJWT } from "jose";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany } from "../support/factories";
import { addPrincipals, mint } from "../join/join-helpers";
import {
  appOrigin,
  describeInBrowser,
  focusedId,
  newPage,
  pageUrl,
  screenshot,
  textOf,
  tokenUrl,
  useBrowser,
  waitForState,
} from "./browser-helpers";

jest.setTimeout(60_000);

const t = useTestApp();
const b = useBrowser();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const SESSIONS = `query($id: ID!) { event(id: $id) { sessions(first: 50) { edges { node { id active endReason role user { externalId name } } } } } }`;
const sessionsOf = async (eventId: string) =>
  ok(await t.gql(SESSIONS, { id: eventId }, { key: company.key })).event.sessions.edges.map(
    (e: { node: unknown }) => e.node,
  );

describeInBrowser("the join page in a real browser", () => {
  it("joins by link: the event, who you are and your role; the credential is gone from the address and the history", async () => {
    const event = await makeEvent(t, company, {
      name: "Quarterly all-hands",
      startsAt: new Date(Date.now() - 60_000).toISOString(),
    });
    const user = { id: `u-ada-${Date.now()}`, name: "Ada Lovelace", email: `ada-${Date.now()}@acme.test` };
    const minted = await mint(t, company, { eventId: event.id, user });
    const { context, page } = await newPage(b.browser);
    await page.goto(pageUrl(t, event.slug, { token: minted.token }));
    await waitForState(page, "joined");

    expect(await textOf(page, "#event-name")).toBe("Quarterly all-hands");
    expect(await textOf(page, "#event-times")).not.toBe("");
    expect(await textOf(page, "#user-name")).toBe("Ada Lovelace");
    expect(await textOf(page, "#avatar")).toBe("AL");
    expect(await textOf(page, "#role")).toBe("Attendee");
    expect(await textOf(page, "#status")).toBe("You joined as Attendee.");
    expect(await page.isVisible("#leave")).toBe(true);
    // The Gravatar of the email is not loaded: initials instead, no image at all.
    expect(await page.locator("#avatar img").count()).toBe(0);

    expect(page.url()).not.toContain(minted.token);
    expect(page.url()).not.toContain("token=");
    const cdp = await context.newCDPSession(page);
    const history = (await cdp.send("Page.getNavigationHistory")) as { entries: { url: string }[] };
    expect(history.entries.map((e) => e.url).filter((u) => u.includes("token") || u.includes(minted.token))).toEqual(
      [],
    );
    expect(history.entries.at(-1)!.url).toBe(page.url());

    const [session] = await sessionsOf(event.id);
    expect(session).toMatchObject({
      active: true,
      role: "ATTENDEE",
      user: { externalId: user.id, name: "Ada Lovelace" },
    });
    await screenshot(page, "joined-attendee");
    await context.close();
  });

  it("follows the role live: added to the organizers, the page says Organizer without a new link", async () => {
    const event = await makeEvent(t, company, { name: "Role change" });
    const externalId = `u-promoted-${Date.now()}`;
    const minted = await mint(t, company, { eventId: event.id, user: { id: externalId, name: "Grace Hopper" } });
    const { context, page } = await newPage(b.browser);
    await page.goto(pageUrl(t, event.slug, { token: minted.token }));
    await waitForState(page, "joined");
    expect(await textOf(page, "#role")).toBe("Attendee");
    expect(await page.isVisible("#view-organizer")).toBe(false);

    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: externalId }]);
    // (Selectors, not waitForFunction: the page's CSP forbids the eval that a string predicate needs.)
    await page.waitForSelector(`#role:text-is("Organizer")`);
    expect(await textOf(page, "#status")).toBe("Your role is now Organizer.");
    // The organizer's panel: who is in (the organizer themself, for now).
    await page.waitForSelector("#participants li");
    expect(await textOf(page, "#participant-count")).toBe("1");
    expect(await textOf(page, "#participants li")).toContain("Grace Hopper (you)");
    await screenshot(page, "elevated-organizer");
    await context.close();
  });

  it("a second join elsewhere ends the first window's session, which says you signed in elsewhere", async () => {
    const event = await makeEvent(t, company, { name: "One seat each" });
    const url = await tokenUrl(t, company, event);
    const first = await newPage(b.browser);
    await first.page.goto(url);
    await waitForState(first.page, "joined");

    const second = await newPage(b.browser);
    await second.page.goto(url);
    await waitForState(second.page, "joined");

    await waitForState(first.page, "ended");
    expect(await textOf(first.page, "#ended-reason")).toContain("signed in elsewhere");
    expect(await textOf(first.page, "#status")).toContain("signed in elsewhere");
    // Focus follows the change, to the heading that says what happened.
    expect(await focusedId(first.page)).toBe("ended-title");
    expect(await textOf(second.page, "#role")).toBe("Attendee");
    const sessions = await sessionsOf(event.id);
    expect(sessions.map((s: { endReason: string | null }) => s.endReason).sort()).toEqual([null, "SUPERSEDED"].sort());
    await screenshot(first.page, "superseded");
    await first.context.close();
    await second.context.close();
  });

  it("Leave ends the session (LEFT) and says so", async () => {
    const event = await makeEvent(t, company);
    const { context, page } = await newPage(b.browser);
    await page.goto(await tokenUrl(t, company, event));
    await waitForState(page, "joined");
    await page.click("#leave");
    await waitForState(page, "ended");
    expect(await textOf(page, "#ended-reason")).toBe("You left the event.");
    const [session] = await sessionsOf(event.id);
    expect(session).toMatchObject({ active: false, endReason: "LEFT" });
    await context.close();
  });

  it("with an eject time, shows the time left, and says why when the time is up (ELAPSED, TOKEN_EXPIRED)", async () => {
    const event = await makeEvent(t, company);
    const { context, page } = await newPage(b.browser);
    await page.goto(await tokenUrl(t, company, event, { ejectAfterElapsedSeconds: 600 }));
    await waitForState(page, "joined");
    expect(await textOf(page, "#time-left")).toMatch(/^Time left: (10:00|9:5\d)$/);
    t.clock.advance(601);
    await waitForState(page, "ended");
    expect(await textOf(page, "#ended-reason")).toBe("Your time in this event is up.");
    expect(await page.isVisible("#time-left")).toBe(false);

    // A token that ejects at its expiry (TOKEN_EXPIRED).
    await page.goto(await tokenUrl(t, company, event, { ttlSeconds: 120, ejectAtTokenExpiry: true }));
    await waitForState(page, "joined");
    expect(await textOf(page, "#time-left")).toMatch(/^Time left: (2:00|1:5\d)$/);
    t.clock.advance(121);
    await waitForState(page, "ended");
    expect(await textOf(page, "#ended-reason")).toBe("Your access expired with your link.");
    await context.close();
  });

  it("an organizer's kick, the event's end, a revocation and the inactivity window each say why", async () => {
    const kicked = await makeEvent(t, company);
    const a = await newPage(b.browser);
    await a.page.goto(await tokenUrl(t, company, kicked));
    await waitForState(a.page, "joined");
    const [session] = await sessionsOf(kicked.id);
    ok(await t.gql(`mutation($id: ID!) { endSession(id: $id) { id } }`, { id: session.id }, { key: company.key }));
    await waitForState(a.page, "ended");
    expect(await textOf(a.page, "#ended-reason")).toBe("An organizer removed you from the event.");

    const ending = await makeEvent(t, company);
    await a.page.goto(await tokenUrl(t, company, ending));
    await waitForState(a.page, "joined");
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: ending.id }, { key: company.key }));
    await waitForState(a.page, "ended");
    expect(await textOf(a.page, "#ended-reason")).toBe("The event has ended.");

    // The credential revoked while in (REVOKED, at the next heartbeat).
    const revoked = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: revoked.id, user: { id: `u-rev-${Date.now()}` } });
    await a.page.goto(pageUrl(t, revoked.slug, { token: minted.token }));
    await waitForState(a.page, "joined");
    ok(await t.gql(`mutation($jti: ID!) { revokeToken(jti: $jti) }`, { jti: minted.jti }, { key: company.key }));
    await waitForState(a.page, "ended");
    expect(await textOf(a.page, "#ended-reason")).toBe("Your access to this event was revoked.");

    // A device that slept through the company's inactivity window (default 4 hours).
    const idle = await makeEvent(t, company);
    await a.page.goto(await tokenUrl(t, company, idle));
    await waitForState(a.page, "joined");
    t.clock.advance(4 * 3600 + 1);
    await waitForState(a.page, "ended");
    expect(await textOf(a.page, "#ended-reason")).toBe(
      "Your session expired because it was inactive for too long. Open your link again to rejoin.",
    );
    await a.context.close();
  });

  it("learns of a kick and a role change at once over the live push, not at the next heartbeat", async () => {
    const event = await makeEvent(t, company);
    const externalId = `u-pushed-${Date.now()}`;
    const minted = await mint(t, company, { eventId: event.id, user: { id: externalId, name: "Push Test" } });
    const { context, page } = await newPage(b.browser);
    // Heartbeats every 300 s (the longest the page allows): only the push can bring the changes in time.
    await page.goto(pageUrl(t, event.slug, { token: minted.token, heartbeat: "300" }));
    await waitForState(page, "joined");
    await addPrincipals(t, company, event.id, "PRESENTER", [{ userId: externalId }]);
    await page.waitForSelector(`#role:text-is("Presenter")`, { timeout: 10_000 });
    const [session] = await sessionsOf(event.id);
    ok(await t.gql(`mutation($id: ID!) { endSession(id: $id) { id } }`, { id: session.id }, { key: company.key }));
    await waitForState(page, "ended", 10_000);
    expect(await textOf(page, "#ended-reason")).toBe("An organizer removed you from the event.");
    await context.close();
  });

  it("a refused link says why in a sentence, keyed by the error code", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: event.id, user: { id: `u-revoked-${Date.now()}` } });
    ok(await t.gql(`mutation($jti: ID!) { revokeToken(jti: $jti) }`, { jti: minted.jti }, { key: company.key }));
    const { context, page } = await newPage(b.browser);
    await page.goto(pageUrl(t, event.slug, { token: minted.token }));
    await waitForState(page, "error");
    expect(await textOf(page, "#error-message")).toBe("This link was revoked. Ask whoever sent it for a new one.");
    expect(page.url()).not.toContain("token=");

    await page.goto(pageUrl(t, event.slug, { token: "not-a-token" }));
    await waitForState(page, "error");
    expect(await textOf(page, "#error-message")).toBe("This link is not valid. Ask whoever sent it for a new one.");

    // A private event opened without a credential and without knocking.
    await page.goto(pageUrl(t, event.slug));
    await waitForState(page, "error");
    expect(await textOf(page, "#error-message")).toBe("This event is private: open it with the link you were given.");
    // Its name is not shown to someone who only has its address.
    expect(await textOf(page, "#event-name")).toBe("Join the event");
    await context.close();
  });

  it("takes the credential from a #token= fragment, and a partner's ?code= as PARTNER_JWT; both leave the address", async () => {
    const event = await makeEvent(t, company, { name: "Fragment" });
    const minted = await mint(t, company, {
      eventId: event.id,
      user: { id: `u-frag-${Date.now()}`, name: "Fran Allen" },
    });
    const { context, page } = await newPage(b.browser);
    await page.goto(pageUrl(t, event.slug, {}, `#token=${minted.token}`));
    await waitForState(page, "joined");
    expect(await textOf(page, "#user-name")).toBe("Fran Allen");
    expect(page.url()).not.toContain("#");
    expect(page.url()).not.toContain(minted.token);

    // A slug two companies use, with the token in the fragment (never sent to the server): the
    // page joins by the slug and the token's company decides; without a token it says why not.
    const shared = `shared-${Date.now()}`;
    const [first, second] = [await makeCompany(t), await makeCompany(t)];
    await makeEvent(t, first, { slug: shared, name: "First's" });
    const theirs = await makeEvent(t, second, { slug: shared, name: "Second's" });
    const other = await mint(t, second, { eventId: theirs.id, user: { id: "u-shared", name: "Shared Slug" } });
    await page.goto(pageUrl(t, shared, {}, `#token=${other.token}`));
    await waitForState(page, "joined");
    expect(await textOf(page, "#event-name")).toBe("Second's");
    await page.goto(pageUrl(t, shared));
    await waitForState(page, "error");
    expect(await textOf(page, "#error-message")).toBe(
      "Several organizations use this address: open the full link you were given.",
    );

    const bodies: string[] = [];
    page.on("request", (request) => {
      if (request.url().endsWith("/graphql")) bodies.push(request.postData() ?? "");
    });
    await page.goto(pageUrl(t, event.slug, { code: "header.payload.signature" }));
    await waitForState(page, "error");
    const joinCall = JSON.parse(bodies.find((body) => body.includes("joinEvent"))!);
    expect(joinCall.variables.input).toEqual({
      event: event.id,
      credential: "header.payload.signature",
      credentialType: "PARTNER_JWT",
    });
    expect(page.url()).not.toContain("code=");

    // A real partner-signed JWT (HS256 with a partner secret, the kid naming it) joins.
    const partner = ok(
      await t.gql(
        `mutation { createPartnerSecret(input: { name: "CRM" }) { secret partnerSecret { id } } }`,
        {},
        { key: company.key },
      ),
    ).createPartnerSecret;
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const code = await new SignJWT({ user: { id: `crm-${Date.now()}`, name: "Partner Person" } })
      .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: partner.partnerSecret.id })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(partner.secret));
    await page.goto(pageUrl(t, event.slug, { code }));
    await waitForState(page, "joined");
    expect(await textOf(page, "#user-name")).toBe("Partner Person");
    expect(page.url()).not.toContain(code);
    await context.close();
  });

  it("a reload in the same tab keeps the session instead of losing it with the removed credential", async () => {
    const event = await makeEvent(t, company);
    const { context, page } = await newPage(b.browser);
    await page.goto(await tokenUrl(t, company, event));
    await waitForState(page, "joined");
    await page.reload();
    await waitForState(page, "joined");
    const sessions = await sessionsOf(event.id);
    expect(sessions).toHaveLength(1);
    expect(sessions[0].active).toBe(true);
    await context.close();
  });

  it("a one-time login link lands on the page already joined; when that session expires, the browser goes where the link said", async () => {
    const app = appOrigin(t);
    ok(
      await t.gql(
        `mutation($input: UpdateCompanySettingsInput!) { updateCompanySettings(input: $input) { id } }`,
        { input: { allowedRedirectOrigins: [app], sessionInactivityTimeoutSeconds: 600 } },
        { key: company.key },
      ),
    );
    const event = await makeEvent(t, company, { name: "Linked in" });
    const user = await makeUser(t, company, { name: "Linus Link", email: `linus-${Date.now()}@acme.test` });
    const link = ok(
      await t.gql(
        `mutation($input: CreateLoginLinkInput!) { createLoginLink(input: $input) { url } }`,
        { input: { userId: user.id, eventId: event.id, redirectOnExpiryUrl: `${app}/healthz` } },
        { key: company.key },
      ),
    ).createLoginLink;
    // The link's host is the test's PUBLIC_URL: open it against the app, then hand its cookie to the browser.
    const opened = await fetch(`${t.url}${new URL(link.url).pathname}`, { redirect: "manual" });
    const cookie = opened.headers.getSetCookie().find((c) => c.startsWith("admit_session="))!;
    const { context, page } = await newPage(b.browser);
    await context.addCookies([{ name: "admit_session", value: cookie.slice(14, cookie.indexOf(";")), url: app }]);
    await page.goto(pageUrl(t, event.slug));
    await waitForState(page, "joined");
    expect(await textOf(page, "#user-name")).toBe("Linus Link");
    expect(await textOf(page, "#event-name")).toBe("Linked in");

    t.clock.advance(601);
    await page.waitForURL(`${app}/healthz`);
    ok(
      await t.gql(
        `mutation($input: UpdateCompanySettingsInput!) { updateCompanySettings(input: $input) { id } }`,
        { input: { allowedRedirectOrigins: [], sessionInactivityTimeoutSeconds: 14_400 } },
        { key: company.key },
      ),
    );
    await context.close();
  });

  it("a PUBLIC event without a credential asks for a name and joins as a guest", async () => {
    const event = await makeEvent(t, company, { name: "Open house", privacy: "PUBLIC" });
    const { context, page } = await newPage(b.browser);
    await page.goto(pageUrl(t, event.slug));
    await waitForState(page, "guest");
    expect(await textOf(page, "#event-name")).toBe("Open house");
    // The field has a label, and has the focus.
    expect(await page.getByRole("textbox", { name: "Your name" }).count()).toBe(1);
    expect(await focusedId(page)).toBe("guest-name");
    await screenshot(page, "guest-name-prompt");

    await page.getByRole("textbox", { name: "Your name" }).fill("Curious Visitor");
    await page.getByRole("button", { name: "Join" }).click();
    await waitForState(page, "joined");
    expect(await textOf(page, "#user-name")).toBe("Curious Visitor");
    expect(await textOf(page, "#avatar")).toBe("CV");
    expect(await textOf(page, "#role")).toBe("Attendee");
    const [session] = await sessionsOf(event.id);
    expect(session).toMatchObject({ active: true, user: { externalId: null, name: "Curious Visitor" } });
    await context.close();
  });

  it("a guest name the server refuses is said next to the field, and the form stays", async () => {
    const event = await makeEvent(t, company, { privacy: "PUBLIC" });
    const { context, page } = await newPage(b.browser);
    await page.goto(pageUrl(t, event.slug));
    await waitForState(page, "guest");
    // maxlength stops typing at 100; a script-filled value shows the server's refusal.
    await page
      .locator("#guest-name")
      .evaluate((input, value) => ((input as unknown as { value: string }).value = value), "x".repeat(150));
    await page.getByRole("button", { name: "Join" }).click();
    await page.waitForSelector("#guest-error:not([hidden])");
    expect(await textOf(page, "#guest-error")).toBe("Please enter your name (at most 100 characters).");
    expect(await page.getAttribute("main", "data-state")).toBe("guest");
    expect(await sessionsOf(event.id)).toEqual([]);
    await context.close();
  });
});
