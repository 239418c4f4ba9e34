import type { Page } from "playwright-core";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { join, leave, minuteAfter, register, tokenOf } from "../analytics/analytics-helpers";
import { addPrincipals, mint } from "../join/join-helpers";
import {
  appOrigin,
  describeInBrowser,
  pageUrl,
  recordRequests,
  screenshot,
  textOf,
  useBrowser,
  waitForState,
} from "./browser-helpers";

jest.setTimeout(90_000);

const t = useTestApp();
const b = useBrowser();
let company: TestCompany;
let event: TestEvent;

const NUMBERS = `query($id: ID!) { eventAnalytics(eventId: $id) {
  registrants attendees attendanceRate sessions totalAttendanceSeconds averageAttendanceSeconds peakConcurrentSessions
  breakdown(metadataKey: "company", first: 20) { value attendees }
  attendeeList(first: 20) { totalCount }
} }`;

/** The report page of the event, opened with a fresh report link (its token in the fragment). */
async function reportUrl(): Promise<string> {
  const link = ok(
    await t.gql(
      `mutation($id: ID!) { createReportLink(eventId: $id) { url } }`,
      { id: event.id },
      { key: company.key },
    ),
  ).createReportLink;
  const url = new URL(link.url);
  return `${appOrigin(t)}${url.pathname}${url.hash}`;
}

const cells = (page: Page, selector: string) => page.locator(selector).allTextContents();

beforeAll(async () => {
  company = await makeCompany(t);
  event = await makeEvent(t, company, { name: "Quarterly all-hands", maxSessionsPerUser: 3 });
  const firms = ["Acme", "Acme", "Acme", "Globex", "Globex", "Initech"];
  const regs = [];
  for (const [i, firm] of firms.entries())
    regs.push(await register(t, company, event, `person${i}@example.com`, { company: firm }));
  await register(t, company, event, "absent@example.com", { company: "Acme" });
  // Joins a minute apart, leaves staggered: a timeline with a shape.
  const T0 = minuteAfter(t);
  const joined = [];
  for (const [i, r] of regs.entries()) {
    t.clock.set(new Date(T0.getTime() + i * 60_000));
    joined.push(await join(t, event, tokenOf(r.joinUrl)));
  }
  for (const [i, j] of joined.entries()) {
    t.clock.set(new Date(T0.getTime() + (8 + i * 3) * 60_000));
    await leave(t, j);
  }
});

describeInBrowser("the event report page in a real browser", () => {
  it("shows eventAnalytics's numbers, both charts with their tables, the attendees, and asks nothing of another origin", async () => {
    const expected = ok(await t.gql(NUMBERS, { id: event.id }, { key: company.key })).eventAnalytics;
    const context = await b.browser.newContext({
      viewport: { width: 1280, height: 900 },
      colorScheme: "light",
      acceptDownloads: true,
    });
    const requests = recordRequests(context);
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    const url = await reportUrl();
    await page.goto(url);
    await page.waitForSelector(`main[data-state="ready"]`, { timeout: 20_000 });

    expect(await textOf(page, "#event-name")).toBe("Quarterly all-hands: report");
    for (const name of [
      "registrants",
      "attendees",
      "attendanceRate",
      "sessions",
      "totalAttendanceSeconds",
      "averageAttendanceSeconds",
      "peakConcurrentSessions",
    ]) {
      expect([name, await page.getAttribute(`dd[data-metric="${name}"]`, "data-value")]).toEqual([
        name,
        String(expected[name]),
      ]);
    }
    expect(await textOf(page, `dd[data-metric="attendees"]`)).toBe("6");
    expect(await textOf(page, `dd[data-metric="attendanceRate"]`)).toBe(
      `${Math.round(expected.attendanceRate * 1000) / 10} %`,
    );

    // The timeline: an SVG with a text alternative, and the table behind it.
    expect(await page.locator("#timeline-chart svg[role=img] title").count()).toBe(1);
    const active = (await cells(page, "#timeline-table tbody td:nth-child(2)")).map(Number);
    expect(Math.max(...active)).toBe(expected.peakConcurrentSessions);
    expect((await cells(page, "#timeline-table tbody td:nth-child(3)")).map(Number).reduce((a, n) => a + n, 0)).toBe(
      expected.sessions,
    );
    // The breakdown by company, chosen from the attendees' metadata: bars and table as the API says.
    expect(await page.inputValue("#breakdown-key")).toBe("company");
    expect(await cells(page, "#breakdown-table tbody td:nth-child(1)")).toEqual(
      expected.breakdown.map((r: { value: string }) => r.value),
    );
    expect((await cells(page, "#breakdown-table tbody td:nth-child(2)")).map(Number)).toEqual(
      expected.breakdown.map((r: { attendees: number }) => r.attendees),
    );
    expect(await page.locator("#breakdown-chart rect.bar").count()).toBe(expected.breakdown.length);
    // The attendees.
    expect(await textOf(page, "#attendee-count")).toBe(String(expected.attendeeList.totalCount));
    expect(await page.locator("#attendee-table tbody tr").count()).toBe(6);
    expect(await textOf(page, "#attendee-table tbody tr:first-child td:nth-child(2)")).toBe("person0@example.com");

    // The token left the address bar at once.
    expect(page.url()).not.toContain("token");
    // The CSV, with the same authority.
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download-csv")]);
    expect(download.suggestedFilename()).toBe(`${event.slug}-attendees.csv`);

    await screenshot(page, "report-1280-light");
    // Light and dark follow the system's preference.
    const background = () => page.evaluate<string>(`getComputedStyle(document.body).backgroundColor`);
    expect(await background()).toBe("rgb(255, 255, 255)");
    await page.emulateMedia({ colorScheme: "dark" });
    expect(await background()).toBe("rgb(23, 24, 27)");
    await screenshot(page, "report-1280-dark");
    expect(
      requests.filter((r) => !r.startsWith(appOrigin(t)) && !r.startsWith("blob:") && !r.startsWith("data:")),
    ).toEqual([]);
    expect(errors).toEqual([]);
    await context.close();
  });

  it("pages through the attendees, 20 at a time", async () => {
    for (let i = 0; i < 16; i++) {
      const r = await register(t, company, event, `late${i}@example.com`, { company: "Umbrella" });
      await leave(t, await join(t, event, tokenOf(r.joinUrl)));
    }
    const context = await b.browser.newContext({
      viewport: { width: 390, height: 844 },
      colorScheme: "dark",
      isMobile: true,
    });
    const page = await context.newPage();
    await page.goto(await reportUrl());
    await page.waitForSelector(`main[data-state="ready"]`, { timeout: 20_000 });
    expect(await page.locator("#attendee-table tbody tr").count()).toBe(20);
    expect(await textOf(page, "#page-label")).toBe("1–20 of 22");
    await screenshot(page, "report-390-dark");
    await page.emulateMedia({ colorScheme: "light" });
    await screenshot(page, "report-390-light");
    await page.click("#next-page");
    await page.waitForSelector(`#page-label:text-is("21–22 of 22")`);
    expect(await page.locator("#attendee-table tbody tr").count()).toBe(2);
    expect(await page.isDisabled("#next-page")).toBe(true);
    await page.click("#prev-page");
    await page.waitForSelector(`#page-label:text-is("1–20 of 22")`);
    await context.close();
  });

  it("opens from the join page's organizer view, with the organizer's own session", async () => {
    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: "host" }]);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "host", name: "Hedy Host" } });
    const context = await b.browser.newContext({ viewport: { width: 480, height: 800 } });
    const page = await context.newPage();
    await page.goto(pageUrl(t, event.slug, { token: minted.token }));
    await waitForState(page, "joined");
    await page.waitForSelector("#report-link");
    const [report] = await Promise.all([context.waitForEvent("page"), page.click("#report-link")]);
    await report.waitForSelector(`main[data-state="ready"]`, { timeout: 20_000 });
    expect(await textOf(report, "#event-name")).toBe("Quarterly all-hands: report");
    expect(report.url()).not.toContain("session=");
    await context.close();
  });

  it("an expired or missing link says so", async () => {
    const context = await b.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${appOrigin(t)}/c/${company.slug}/events/${event.id}/report#token=eyJhbGciOiJFZERTQSJ9.e30.c2ln`);
    await page.waitForSelector(`main[data-state="error"]`);
    expect(await textOf(page, "#error-message")).toContain("expired or is not valid");
    await context.close();
  });
});
