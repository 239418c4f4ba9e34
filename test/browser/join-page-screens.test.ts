import type { Browser, Page, Route } from "playwright-core";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { addPrincipals, mint } from "../join/join-helpers";
import { appOrigin, describeInBrowser, pageUrl, screenshot, textOf, useBrowser, waitForState } from "./browser-helpers";

// Each state of the join page, and Admit's other pages, at a phone's width (390 px) and a
// desktop's (1280 px), saved as artifacts/screenshots/<state>-<width>.png (some in dark mode
// too); on the way: Rejoin after Leave, the lobby's clock and Cancel, zoned times on one line,
// 44 px touch targets, one style sheet for every page.

jest.setTimeout(120_000);

const t = useTestApp();
const b = useBrowser();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const WIDTHS = [390, 1280] as const;

async function open(browser: Browser, width: number, colorScheme: "light" | "dark" = "light") {
  const context = await browser.newContext({
    viewport: { width, height: 720 },
    locale: "en-US",
    timezoneId: "Europe/Paris",
    colorScheme,
  });
  return { context, page: await context.newPage() };
}

/** Every visible button, input and link-button is at least 44 × 44 CSS pixels. */
async function expectTouchTargets(page: Page): Promise<void> {
  const small = await page.evaluate<string[]>(`[...document.querySelectorAll("button, input, .button")]
    .filter((el) => el.offsetParent !== null)
    .map((el) => [el.id || el.textContent.trim(), el.getBoundingClientRect()])
    .filter(([, r]) => r.height < 44 || r.width < 44)
    .map(([name, r]) => name + " " + r.width + "x" + r.height)`);
  expect(small).toEqual([]);
}

/** The element's text sits on one line and is not cut. */
async function expectOneLine(page: Page, selector: string): Promise<void> {
  const box = await page.evaluate<{ lines: number; cut: boolean }>(`(() => {
    const el = document.querySelector(${JSON.stringify(selector)});
    const range = document.createRange();
    range.selectNodeContents(el);
    const rects = [...range.getClientRects()].filter((r) => r.width > 0);
    const height = Math.max(...rects.map((r) => r.bottom)) - Math.min(...rects.map((r) => r.top));
    return { lines: Math.round(height / parseFloat(getComputedStyle(el).lineHeight)), cut: el.scrollWidth > el.clientWidth };
  })()`);
  expect(box).toEqual({ lines: 1, cut: false });
}

const hour = 3600_000;
/** Today at 10:00 and 11:30 in Paris (UTC+1 in winter, +2 in summer: either way the same day). */
/** Times of an event live now that starts and ends on the same day in the reader's zone (Paris). */
function todayTimes() {
  const now = new Date(t.clock.now());
  const [h, m] = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Europe/Paris",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  })
    .format(now)
    .split(":")
    .map(Number);
  const sinceMidnight = h * 60 + m; // minutes, in Paris
  const before = Math.max(0, Math.min(30, sinceMidnight - 1));
  const after = Math.max(1, Math.min(60, 24 * 60 - sinceMidnight - 1));
  const minute = hour / 60;
  return {
    startsAt: new Date(now.getTime() - before * minute).toISOString(),
    endsAt: new Date(now.getTime() + after * minute).toISOString(),
  };
}

describeInBrowser("the join page's states at 390 and 1280 px", () => {
  it("joining, then in session with a role (zoned times on one line), then ended with a reason", async () => {
    for (const width of WIDTHS) {
      const event = await makeEvent(t, company, { name: "Product launch: spring keynote", ...todayTimes() });
      const externalId = `u-presenter-${width}-${Date.now()}`;
      await addPrincipals(t, company, event.id, "PRESENTER", [{ userId: externalId }]);
      const minted = await mint(t, company, { eventId: event.id, user: { id: externalId, name: "Margaret Hamilton" } });
      const { context, page } = await open(b.browser, width);

      // Joining: the join call is held until the screenshot is taken.
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      await page.route("**/graphql", async (route: Route) => {
        if ((route.request().postData() ?? "").includes("joinEvent")) await held;
        await route.continue();
      });
      await page.goto(pageUrl(t, event.slug, { token: minted.token }));
      await page.waitForSelector("#view-loading:not([hidden])");
      expect(await textOf(page, "#view-loading")).toBe("Joining…");
      await screenshot(page, `joining-${width}`);
      release();

      await waitForState(page, "joined");
      expect(await textOf(page, "#role")).toBe("Presenter");
      // The reader's zone is named, and the day's range fits one line even on a phone.
      expect(await textOf(page, "#event-times")).toMatch(/GMT\+[12]|CES?T/);
      await expectOneLine(page, "#event-times");
      await expectTouchTargets(page);
      await screenshot(page, `in-session-presenter-${width}`);

      const [session] = ok(
        await t.gql(
          `query($id: ID!) { event(id: $id) { sessions { edges { node { id } } } } }`,
          { id: event.id },
          { key: company.key },
        ),
      ).event.sessions.edges;
      ok(
        await t.gql(`mutation($id: ID!) { endSession(id: $id) { id } }`, { id: session.node.id }, { key: company.key }),
      );
      await waitForState(page, "ended");
      expect(await textOf(page, "#ended-reason")).toBe("An organizer removed you from the event.");
      expect(await page.isVisible("#rejoin")).toBe(false); // removed: no way back in with the same link
      await screenshot(page, `ended-kicked-${width}`);
      await context.close();
    }
  });

  it("Leave, then Rejoin with the credential kept in memory (never in the address or storage)", async () => {
    for (const width of WIDTHS) {
      const event = await makeEvent(t, company, { name: "Weekly sync" });
      const minted = await mint(t, company, {
        eventId: event.id,
        user: { id: `u-rejoin-${width}-${Date.now()}`, name: "Alan Turing" },
      });
      const { context, page } = await open(b.browser, width);
      await page.goto(pageUrl(t, event.slug, { token: minted.token }));
      await waitForState(page, "joined");
      await page.getByRole("button", { name: "Leave" }).click();
      await waitForState(page, "ended");
      expect(await textOf(page, "#ended-reason")).toBe("You left the event.");
      expect(await page.isVisible("#rejoin")).toBe(true);
      await expectTouchTargets(page);
      await screenshot(page, `rejoin-available-${width}`);

      expect(page.url()).not.toContain(minted.token);
      const storage = await page.evaluate<string>(
        `JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])`,
      );
      expect(storage).not.toContain(minted.token);

      await page.getByRole("button", { name: "Rejoin" }).click();
      await waitForState(page, "joined");
      expect(await textOf(page, "#user-name")).toBe("Alan Turing");
      expect(await page.isEnabled("#leave")).toBe(true);
      const sessions = ok(
        await t.gql(
          `query($id: ID!) { event(id: $id) { sessions { edges { node { active endReason } } } } }`,
          { id: event.id },
          { key: company.key },
        ),
      ).event.sessions.edges.map((e: { node: unknown }) => e.node);
      expect(sessions).toEqual(
        expect.arrayContaining([
          { active: true, endReason: null },
          { active: false, endReason: "LEFT" },
        ]),
      );
      await context.close();
    }

    // A link that has expired meanwhile (by the server's clock) offers no Rejoin: it would only be refused.
    const event = await makeEvent(t, company, { name: "Short link" });
    const expiresAt = new Date(t.clock.now().getTime() + 120_000).toISOString();
    const minted = await mint(t, company, { eventId: event.id, user: { id: `u-short-${Date.now()}` }, expiresAt });
    const { context, page } = await open(b.browser, 390);
    await page.goto(pageUrl(t, event.slug, { token: minted.token }));
    await waitForState(page, "joined");
    t.clock.advance(121);
    await page.waitForTimeout(2500); // a heartbeat or two bring the server's time
    await page.getByRole("button", { name: "Leave" }).click();
    await waitForState(page, "ended");
    expect(await textOf(page, "#ended-reason")).toBe("You left the event.");
    expect(await page.isVisible("#rejoin")).toBe(false);
    await context.close();
  });

  it("the lobby shows it is alive (time waited) and Cancel stops waiting, saying the request stays", async () => {
    for (const width of WIDTHS) {
      const event = await makeEvent(t, company, { name: "Board meeting", privacy: "PRIVATE", knockingEnabled: true });
      const { context, page } = await open(b.browser, width);
      await page.goto(pageUrl(t, event.slug));
      await waitForState(page, "knock");
      await expectTouchTargets(page);
      await page.getByRole("textbox", { name: "Your name" }).fill("Ada Lovelace");
      await page.getByRole("button", { name: "Ask to join" }).click();
      await waitForState(page, "lobby");
      await page.waitForSelector(`#lobby-elapsed:text-matches("^0:0[2-9]$")`);
      await expectOneLine(page, ".waiting > span:last-child");
      await expectTouchTargets(page);
      await screenshot(page, `lobby-${width}`);

      await page.getByRole("button", { name: "Cancel" }).click();
      await waitForState(page, "knock");
      expect(await textOf(page, "#knock-note")).toContain("Your request cannot be withdrawn");
      // Polling stopped: no request to this page's GraphQL any more.
      const calls: string[] = [];
      page.on("request", (r) => calls.push(r.url()));
      await page.waitForTimeout(1500);
      expect(calls).toEqual([]);
      await screenshot(page, `lobby-cancelled-${width}`);
      await context.close();
    }
  });

  it("an error says why; Admit's other pages (a used sign-in link, signed out) share the style, light and dark", async () => {
    for (const width of WIDTHS) {
      const event = await makeEvent(t, company, { name: "Investor update" });
      for (const scheme of ["light", "dark"] as const) {
        const { context, page } = await open(b.browser, width, scheme);
        const suffix = scheme === "dark" ? `-dark-${width}` : `-${width}`;
        await page.goto(pageUrl(t, event.slug, { token: "not-a-token" }));
        await waitForState(page, "error");
        expect(await textOf(page, "#error-message")).toBe("This link is not valid. Ask whoever sent it for a new one.");
        await screenshot(page, `error${suffix}`);

        const gone = await page.goto(`${appOrigin(t)}/login/this-code-was-never-issued`);
        expect(gone!.status()).toBe(410);
        expect(await textOf(page, "h1")).toBe("This sign-in link can no longer be used");
        // The join page's style sheet, by its hashed address: one look for every page.
        const sheet = await page.getAttribute("link[rel=stylesheet]", "href");
        expect(sheet).toMatch(/^\/j\/_\/join\.[0-9a-f]{16}\.css$/);
        const background = await page.evaluate<string>(`getComputedStyle(document.body).backgroundColor`);
        expect(background).toBe(scheme === "dark" ? "rgb(23, 24, 27)" : "rgb(255, 255, 255)");
        await screenshot(page, `login-link-410${suffix}`);

        await page.goto(`${appOrigin(t)}/logged-out`);
        expect(await textOf(page, "h1")).toBe("You are signed out");
        await screenshot(page, `logged-out${suffix}`);
        await context.close();
      }
    }
  });
});
