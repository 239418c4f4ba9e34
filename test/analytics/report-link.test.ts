import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { HEADLINE, join, leave, mintToken, minuteAfter, register, tokenOf } from "./analytics-helpers";
import { REPORT_LINK_TTL_SECONDS } from "../../src/modules/analytics/report-link.service";

/*
 * Report links: a short-lived token that reads one event's report (eventAnalytics, its attendees,
 * the attendee CSV) and nothing else, made by an API key that reads analytics or by an organizer
 * of the event.
 */

const t = useTestApp();
let company: TestCompany;
let event: TestEvent;
let other: TestEvent;

const LINK = `mutation($id: ID!) { createReportLink(eventId: $id) { url expiresAt jti } }`;
const ATTENDEES = `query($id: ID!) { eventAnalytics(eventId: $id) {
  attendeeList(first: 10) { totalCount edges { node { user { name email } registrant { id } } } } } }`;
const reportToken = (url: string) => new URLSearchParams(new URL(url).hash.slice(1)).get("token")!;

async function makeLink(eventId: string, key: string = company.key) {
  return ok(await t.gql(LINK, { id: eventId }, { key })).createReportLink as {
    url: string;
    expiresAt: string;
    jti: string;
  };
}

beforeAll(async () => {
  company = await makeCompany(t);
  event = await makeEvent(t, company, { organizers: [{ email: "boss@example.com" }] });
  other = await makeEvent(t, company);
  const r1 = await register(t, company, event, "boss@example.com", { company: "Acme" });
  const r2 = await register(t, company, event, "ann@example.com", { company: "Globex" });
  t.clock.set(minuteAfter(t));
  const a = await join(t, event, tokenOf(r1.joinUrl));
  const b = await join(t, event, tokenOf(r2.joinUrl));
  t.clock.set(new Date(t.clock.now().getTime() + 90_000));
  await leave(t, b);
  await leave(t, a);
});

describe("createReportLink", () => {
  it("gives a URL on the company's issuer, the token in its fragment, expiring in minutes", async () => {
    const before = t.clock.now().getTime();
    const link = await makeLink(event.id);
    const url = new URL(link.url);
    expect(url.pathname).toBe(`/c/${company.slug}/events/${event.id}/report`);
    expect(url.search).toBe("");
    expect(link.url).not.toContain("adm_");
    expect(new Date(link.expiresAt).getTime() - before).toBeLessThanOrEqual(REPORT_LINK_TTL_SECONDS * 1000);
    expect(new Date(link.expiresAt).getTime() - before).toBeGreaterThan((REPORT_LINK_TTL_SECONDS - 2) * 1000);
    const validation = ok(
      await t.gql(`query($t: String!) { validateToken(token: $t) { valid tokenType } }`, { t: reportToken(link.url) }),
    );
    // Not a credential to join with.
    expect(validation.validateToken.valid).toBe(false);
  });

  it("needs READ_ANALYTICS, and is refused to nobody's and to another company's key", async () => {
    const narrow = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "n", scopes: [MINT_TOKENS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    expect(codeOf(await t.gql(LINK, { id: event.id }, { key: narrow }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(LINK, { id: event.id }, { key: null }))).toBe("UNAUTHENTICATED");
    const stranger = await makeCompany(t);
    expect(codeOf(await t.gql(LINK, { id: event.id }, { key: stranger.key }))).toBe("NOT_FOUND");
  });

  it("an organizer session of the event makes one; an attendee's session and another event's organizer cannot", async () => {
    const boss = await join(
      t,
      event,
      await mintToken(t, company, { eventId: event.id, user: { id: "boss", email: "boss@example.com" } }),
    );
    const link = await makeLink(event.id, boss.sessionToken);
    expect(link.url).toContain(`/events/${event.id}/report#token=`);
    expect(codeOf(await t.gql(LINK, { id: other.id }, { key: boss.sessionToken }))).toBe("FORBIDDEN");
    const ann = await join(
      t,
      event,
      await mintToken(t, company, { eventId: event.id, user: { id: "ann", email: "ann@example.com" } }),
    );
    expect(codeOf(await t.gql(LINK, { id: event.id }, { key: ann.sessionToken }))).toBe("FORBIDDEN");
    await leave(t, ann);
    await leave(t, boss);
  });
});

describe("the report token as bearer", () => {
  it("reads its event's analytics exactly as the API key does, attendees' names and emails included", async () => {
    const bearer = reportToken((await makeLink(event.id)).url);
    const byKey = ok(await t.gql(HEADLINE, { id: event.id }, { key: company.key })).eventAnalytics;
    const byLink = ok(await t.gql(HEADLINE, { id: event.id }, { key: bearer })).eventAnalytics;
    expect(byLink).toEqual(byKey);
    expect(byLink.attendees).toBeGreaterThanOrEqual(2);
    const page = await t.gql(
      `query($id: ID!) { eventAnalytics(eventId: $id) { attendeeList(first: 10) { totalCount edges { node { user { name email } } } } } }`,
      { id: event.id },
      { key: bearer },
    );
    expect(ok(page).eventAnalytics.attendeeList.edges.map((e: any) => e.node.user.email)).toEqual(
      expect.arrayContaining(["ann@example.com", "boss@example.com"]),
    );
    // The registrant records stay behind the company's key.
    expect(codeOf(await t.gql(ATTENDEES, { id: event.id }, { key: bearer }))).toBe("FORBIDDEN");
  });

  it("reads no other event, does nothing an API key does, and cannot make itself a new link", async () => {
    const bearer = reportToken((await makeLink(event.id)).url);
    expect(codeOf(await t.gql(HEADLINE, { id: other.id }, { key: bearer }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(`query($id: ID!) { event(id: $id) { name } }`, { id: event.id }, { key: bearer }))).toBe(
      "FORBIDDEN",
    );
    expect(
      codeOf(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: event.id }, { key: bearer })),
    ).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(LINK, { id: event.id }, { key: bearer }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(`query { companyAnalytics { totals { events } } }`, {}, { key: bearer }))).toBe(
      "FORBIDDEN",
    );
    const readsEvent = ok(
      await t.gql(
        `query($id: ID!) { eventAnalytics(eventId: $id) { event { id registrants(first: 1) { totalCount } } } }`,
        { id: event.id },
        { key: company.key },
      ),
    );
    expect(readsEvent.eventAnalytics.event.id).toBe(event.id);
    expect(
      codeOf(
        await t.gql(
          `query($id: ID!) { eventAnalytics(eventId: $id) { event { registrants(first: 1) { totalCount } } } }`,
          { id: event.id },
          { key: bearer },
        ),
      ),
    ).toBe("FORBIDDEN");
  });

  it("stops working when the link expires", async () => {
    const bearer = reportToken((await makeLink(event.id)).url);
    t.clock.set(new Date(t.clock.now().getTime() + (REPORT_LINK_TTL_SECONDS + 60) * 1000));
    expect(codeOf(await t.gql(HEADLINE, { id: event.id }, { key: bearer }))).toBe("UNAUTHENTICATED");
  });

  it("stops working once revoked by its jti", async () => {
    const link = await makeLink(event.id);
    const bearer = reportToken(link.url);
    ok(await t.gql(HEADLINE, { id: event.id }, { key: bearer }));
    ok(await t.gql(`mutation($jti: ID!) { revokeToken(jti: $jti) }`, { jti: link.jti }, { key: company.key }));
    expect(codeOf(await t.gql(HEADLINE, { id: event.id }, { key: bearer }))).toBe("UNAUTHENTICATED");
  });

  it("downloads the attendee CSV of its event (the same file as the key's), and of no other", async () => {
    const bearer = reportToken((await makeLink(event.id)).url);
    const csv = (id: string, auth: string) =>
      fetch(`${t.url}/c/${company.slug}/events/${id}/attendees.csv`, { headers: { authorization: `Bearer ${auth}` } });
    const byLink = await csv(event.id, bearer);
    expect(byLink.status).toBe(200);
    const text = await byLink.text();
    expect(text).toBe(await (await csv(event.id, company.key)).text());
    expect(text).toContain("ann@example.com");
    expect((await csv(other.id, bearer)).status).toBe(404);
    expect((await csv(event.id, "not.a.token")).status).toBe(401);
  });
});

describe("GET /c/<companySlug>/events/<id>/report", () => {
  it("serves the page shell under the join page's CSP, with no data in it", async () => {
    const res = await fetch(`${t.url}/c/${company.slug}/events/${event.id}/report`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    const html = await res.text();
    expect(html).not.toContain("ann@example.com");
    expect(html).not.toMatch(/<script>|<style>|style="/);
    for (const [, asset] of html.matchAll(/(?:href|src)="(\/report\/_\/[^"]+)"/g)) {
      expect((await fetch(`${t.url}${asset}`)).status).toBe(200);
    }
    expect((await fetch(`${t.url}/c/${company.slug}/events/not-an-id/report`)).status).toBe(404);
  });
});
