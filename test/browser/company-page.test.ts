import jwt from "jsonwebtoken";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { mint } from "../join/join-helpers";
import { createSecret } from "../federation/partner-helpers";
import {
  appOrigin,
  describeInBrowser,
  newPage,
  recordRequests,
  textOf,
  useBrowser,
  waitForState,
} from "./browser-helpers";

jest.setTimeout(60_000);

const t = useTestApp();
const b = useBrowser();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t, { name: "Initech" });
});

const SESSIONS = `query($id: ID!) { event(id: $id) { sessions(first: 10) { edges { node { active credentialType user { externalId } } } } } }`;
const sessionsOf = async (eventId: string) =>
  ok(await t.gql(SESSIONS, { id: eventId }, { key: company.key })).event.sessions.edges.map(
    (e: { node: unknown }) => e.node,
  );

/** The address a joinUrl names, on the app's origin as the browser reaches it. */
const inBrowser = (url: string) => url.replace("http://admit.test", appOrigin(t));

describeInBrowser("the company page a company-wide link opens", () => {
  it("lists the live and upcoming events, and joins the one chosen; the token leaves the address bar", async () => {
    const live = await makeEvent(t, company, { name: "Morning stand-up" });
    const later = await makeEvent(t, company, {
      name: "Offsite planning",
      startsAt: new Date(Date.now() + 3 * 86_400_000).toISOString(),
    });
    const externalId = `wide-${Date.now()}`;
    const minted = await mint(t, company, { eventSpecific: false, user: { id: externalId, name: "Peter Gibbons" } });
    expect(minted.joinUrl).toContain(`/c/${company.slug}/?token=`);

    const { context, page } = await newPage(b.browser);
    const requests = recordRequests(context);
    await page.goto(inBrowser(minted.joinUrl));
    const names = await page.locator("#events li a").allTextContents();
    expect(names).toEqual(expect.arrayContaining(["Morning stand-up", "Offsite planning"]));
    expect(await page.locator(`li[data-event-id="${later.id}"] .status`).textContent()).toBe("Upcoming");
    expect(page.url()).not.toContain("token=");

    await page.click(`li[data-event-id="${live.id}"] a`);
    await waitForState(page, "joined");
    expect(await textOf(page, "#user-name")).toBe("Peter Gibbons");
    expect(page.url()).not.toContain(minted.token);
    // The token went to the join page in the fragment: no request carried it in its address.
    expect(requests.filter((url) => url.includes(minted.token) && !url.includes(`/c/${company.slug}/`))).toEqual([]);
    expect(await sessionsOf(live.id)).toEqual([{ active: true, credentialType: "JOIN_TOKEN", user: { externalId } }]);
    await context.close();
  });

  it("takes a partner JWT as ?externalAuthCode=, on the company page and on the join page alike", async () => {
    const secret = await createSecret(t, company);
    const event = await makeEvent(t, company, { name: "Partner hour" });
    const id = `p-${Date.now()}`;
    const code = jwt.sign({ user: { id, email: `${id}@initech.test`, name: "Milton" } }, secret.secret, {
      expiresIn: "7 days",
    });

    const { context, page } = await newPage(b.browser);
    await page.goto(`${appOrigin(t)}/c/${company.slug}/?externalAuthCode=${code}`);
    await page.click(`li[data-event-id="${event.id}"] a`);
    await waitForState(page, "joined");
    expect(await textOf(page, "#user-name")).toBe("Milton");
    expect(page.url()).not.toContain(code);

    const direct = await makeEvent(t, company, { name: "Direct" });
    await page.goto(`${appOrigin(t)}/j/${direct.slug}?externalAuthCode=${code}&heartbeat=1`);
    await waitForState(page, "joined");
    expect(page.url()).not.toContain("externalAuthCode");
    expect((await sessionsOf(direct.id))[0]).toMatchObject({
      active: true,
      credentialType: "PARTNER_JWT",
      user: { externalId: id },
    });
    await context.close();
  });
});
