import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, Browser, BrowserContext, Page } from "playwright-core";
import type { TestApp } from "../support/harness";
import type { TestCompany } from "../support/factories";
import { mint } from "../join/join-helpers";

/** Chromium from CHROMIUM_PATH, the usual Debian/Ubuntu paths, or `which chromium`; null when none. */
export function findChromium(): string | null {
  const candidates = [
    process.env.CHROMIUM_PATH,
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ];
  for (const path of candidates) if (path && existsSync(path)) return path;
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      const path = execFileSync("which", [name], { encoding: "utf8" }).trim();
      if (path) return path;
    } catch {
      // not on PATH
    }
  }
  return null;
}

export const CHROMIUM = findChromium();

/**
 * `describe` when a Chromium is installed, otherwise a skipped block that says why. Browser
 * tests never download a browser (no `playwright install`): CI has Debian's chromium.
 */
export function describeInBrowser(name: string, body: () => void): void {
  if (CHROMIUM) return describe(name, body);
  // CI sets this: there, a missing browser is a failure, not a skip.
  if (process.env.ADMIT_REQUIRE_BROWSER === "1") {
    return describe(name, () => {
      it("needs Chromium", () => {
        throw new Error(
          "ADMIT_REQUIRE_BROWSER=1 but no Chromium was found (apt-get install chromium, or set CHROMIUM_PATH).",
        );
      });
    });
  }
  console.warn(
    `Browser tests skipped: no Chromium found (set CHROMIUM_PATH, or apt-get install chromium). Skipped: ${name}`,
  );
  describe.skip(`${name} [skipped: no Chromium found]`, body);
}

/** Launches Chromium once for the file's tests and closes it after them. */
export function useBrowser(): { readonly browser: Browser } {
  let browser: Browser | null = null;
  beforeAll(async () => {
    if (!CHROMIUM) return;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });
  return {
    get browser(): Browser {
      if (!browser) throw new Error("The browser is not launched yet: use it inside tests and hooks.");
      return browser;
    },
  };
}

/**
 * The app's origin as the browser sees it: http://localhost:<port>. The app listens on
 * 127.0.0.1, so http://127.0.0.1:<other port> is a different origin on the same machine.
 */
export const appOrigin = (t: TestApp): string => t.url.replace("127.0.0.1", "localhost");

/** The join page of an event, with query parameters (heartbeat: 1 s unless given). */
export function pageUrl(t: TestApp, ref: string, params: Record<string, string> = {}, fragment = ""): string {
  const query = new URLSearchParams({ heartbeat: "1", ...params });
  return `${appOrigin(t)}/j/${ref}?${query}${fragment}`;
}

/** Mints a join token for a user and returns the join page URL carrying it. */
export async function tokenUrl(
  t: TestApp,
  company: TestCompany,
  event: { id: string; slug: string },
  input: Record<string, unknown> = {},
): Promise<string> {
  const user = {
    id: `u-${Math.random().toString(36).slice(2, 10)}`,
    name: "Ada Lovelace",
    email: `ada-${Date.now()}@acme.test`,
  };
  const minted = await mint(t, company, { eventId: event.id, user, ...input });
  return pageUrl(t, event.slug, { token: minted.token });
}

/** Waits until the page's <main> says it is in this state (loading, guest, knock, lobby, joined, ended, error). */
export async function waitForState(page: Page, state: string, timeout = 15_000): Promise<void> {
  await page.waitForSelector(`main[data-state="${state}"]`, { timeout });
}

/** The id of the element that has the focus ("" for none). */
export async function focusedId(page: Page): Promise<string> {
  // A string, not a function: the tests are compiled without the DOM's types.
  return page.evaluate<string>(`document.activeElement ? document.activeElement.id : ""`);
}

export async function textOf(page: Page, selector: string): Promise<string> {
  return ((await page.textContent(selector)) ?? "").trim();
}

const SCREENSHOTS = join(__dirname, "..", "..", "artifacts", "screenshots");

/** Saves a full-page screenshot as artifacts/screenshots/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Every URL the context requests, frames and workers included. */
export function recordRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on("request", (request) => urls.push(request.url()));
  return urls;
}

/** A new context (its own cookies and storage, like another device) and a page in it. */
export async function newPage(browser: Browser): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 480, height: 640 } });
  return { context, page: await context.newPage() };
}
