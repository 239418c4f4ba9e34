import { createServer, IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import { SignJWT } from "jose";
import type { Page } from "playwright-core";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { mint, updateSettings } from "../join/join-helpers";
import { appOrigin, describeInBrowser, newPage, pageUrl, screenshot, useBrowser } from "./browser-helpers";

// /embed.js from a company's own page on another origin, under a strict CSP (no inline script
// but its nonce'd one, no eval, no inline style): the page receives the frame's admit:session
// messages, and nothing else that claims to be one.

jest.setTimeout(60_000);

const t = useTestApp();
const b = useBrowser();

/** A server on 127.0.0.1:<port> (the app is http://localhost:<port>): another origin. */
async function serve(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): Promise<{ server: Server; origin: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const NONCE = "host-nonce-1234";
const attr = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/**
 * The company's page. ?mode=mount: Admit.mount(…) from its own script; ?mode=tag: the script tag
 * alone. Every message the window receives is kept in window.raw, what the helper forwards in
 * window.received. Beside the helper's frame: a forger on a third origin posting fake
 * admit:session messages, and a second Admit join page the helper did not mount.
 */
let host: { server: Server; origin: string };
let forger: { server: Server; origin: string };
beforeAll(async () => {
  forger = await serve((_request, response) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(`<!doctype html><title>Forger</title><script>
setInterval(() => parent.postMessage({ type: "admit:session", state: "joined", role: "ORGANIZER", forged: true }, "*"), 100);
</script>`);
  });
  host = await serve((request, response) => {
    const query = new URL(request.url!, "http://x").searchParams;
    const app = query.get("app")!;
    const joinUrl = query.get("joinUrl")!;
    const code = query.get("code");
    const other = query.get("other");
    const record = `<script nonce="${NONCE}">
window.raw = []; window.received = [];
addEventListener("message", (e) => window.raw.push({ origin: e.origin, data: e.data }));
document.addEventListener("admit:session", (e) => window.received.push({ via: "event", data: e.detail }));
</script>`;
    const embed =
      query.get("mode") === "tag"
        ? `<script src="${app}/embed.js" data-join-url="${attr(joinUrl)}"${code ? ` data-external-auth-code="${attr(code)}"` : ""} data-height="420px"></script>`
        : `<div id="event"></div><script src="${app}/embed.js"></script><script nonce="${NONCE}">
window.mounted = Admit.mount(document.getElementById("event"), { joinUrl: ${JSON.stringify(joinUrl)}, onSession: (m) => window.received.push({ via: "callback", data: m }) });
</script>`;
    response.writeHead(200, {
      "content-type": "text/html; charset=utf-8",
      // Strict: scripts from Admit and this nonce only (no 'unsafe-eval', no 'unsafe-inline'),
      // no inline style, frames from Admit and the forger only.
      "content-security-policy": `default-src 'none'; script-src ${app} 'nonce-${NONCE}'; style-src 'none'; frame-src ${app} ${forger.origin}`,
    });
    response.end(`<!doctype html><title>Acme product</title>
<script nonce="${NONCE}">window.violations = []; document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective + " " + e.blockedURI));</script>
${record}<h1>Acme product</h1>${embed}
<iframe id="forger" title="ads" src="${forger.origin}/"></iframe>
${other ? `<iframe id="other" title="another Admit frame" src="${attr(other)}"></iframe>` : ""}`);
  });
});
afterAll(async () => {
  await new Promise((resolve) => host.server.close(resolve));
  await new Promise((resolve) => forger.server.close(resolve));
});

interface Message {
  origin: string;
  data: {
    type: string;
    state: string;
    role: string | null;
    forged?: boolean;
    user: { name: string } | null;
    event: { id: string } | null;
  };
}
const raw = (page: Page) => page.evaluate<Message[]>("window.raw");
const received = (page: Page) => page.evaluate<{ via: string; data: Message["data"] }[]>("window.received");

/** Polls an expression in the host page (waitForFunction would need eval, which its CSP forbids). */
async function until(page: Page, expression: string, timeout = 15_000): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!(await page.evaluate<boolean>(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
    await page.waitForTimeout(100);
  }
}

const hostUrl = (params: Record<string, string>) =>
  `${host.origin}/?${new URLSearchParams({ app: appOrigin(t), ...params })}`;

describe("GET /embed.js", () => {
  it("is JavaScript, cached for minutes and revalidated by ETag, loadable from any origin, a few KB", async () => {
    const response = await fetch(`${t.url}/embed.js`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(response.headers.get("cache-control")).toBe("public, max-age=300, must-revalidate");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
    const body = await response.text();
    expect(body).toContain("Admit.mount");
    expect(body).not.toMatch(/\beval\(|new Function/);
    const etag = response.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]{16}"$/);
    expect((await fetch(`${t.url}/embed.js`, { headers: { "if-none-match": etag } })).status).toBe(304);
    const gzip = await fetch(`${t.url}/embed.js`, { headers: { "accept-encoding": "gzip" } });
    expect(gzip.headers.get("content-encoding")).toBe("gzip");
    console.log(`[embed.js] ${Buffer.byteLength(body)} bytes; ${gzipSync(body, { level: 9 }).length} bytes gzipped`);
    expect(Buffer.byteLength(body)).toBeLessThan(8_000);
  });
});

describeInBrowser("the embed helper on a company's page on another origin, under a strict CSP", () => {
  let company: TestCompany;
  beforeAll(async () => {
    company = await makeCompany(t);
    await updateSettings(t, company, { allowedEmbedOrigins: [host.origin] });
  });

  it("Admit.mount: the frame asks for camera and microphone; the host gets the frame's messages and none forged", async () => {
    const event = await makeEvent(t, company, { name: "Embedded town hall" });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "u-mounted", name: "Katherine Johnson" } });
    // A second Admit join page on the same host page, not mounted by the helper: right origin,
    // wrong window. It stops at its guest form (a PUBLIC event, no credential).
    const open = await makeEvent(t, company, { name: "Open room", privacy: "PUBLIC" });
    const { context, page } = await newPage(b.browser);
    const logged: string[] = [];
    page.on("console", (m) => logged.push(m.text()));
    await page.goto(
      hostUrl({
        mode: "mount",
        joinUrl: pageUrl(t, event.slug, { token: minted.token }),
        other: pageUrl(t, open.slug),
      }),
    );
    await until(page, `window.received.some((m) => m.data.state === "joined")`);
    // Both kinds of message that must be ignored did reach the window meanwhile.
    await until(page, `window.raw.some((m) => m.data.forged) && window.raw.some((m) => m.data.state === "guest")`);
    await page.waitForTimeout(500);

    const frame = page.locator("#event iframe");
    expect(await frame.getAttribute("allow")).toBe(
      "camera; microphone; display-capture; fullscreen; autoplay; clipboard-write; picture-in-picture",
    );
    expect(await frame.getAttribute("title")).toBe("Live event");

    const all = await raw(page);
    expect(all.filter((m) => m.data.forged).every((m) => m.origin === forger.origin)).toBe(true);
    expect(all.some((m) => m.origin === appOrigin(t) && m.data.state === "guest")).toBe(true);

    const got = await received(page);
    expect(got.map((m) => `${m.via}:${m.data.state}`)).toEqual([
      "callback:loading",
      "event:loading",
      "callback:joined",
      "event:joined",
    ]);
    expect(got.some((m) => m.data.forged || m.data.state === "guest")).toBe(false);
    expect(got[2].data).toMatchObject({
      type: "admit:session",
      state: "joined",
      role: "ATTENDEE",
      user: { name: "Katherine Johnson" },
      event: { id: event.id },
    });
    expect(JSON.stringify(got)).not.toContain(minted.token);
    // The strict CSP held and was never in the way: no violation, no eval.
    expect(await page.evaluate<string[]>("window.violations")).toEqual([]);
    expect(logged.join("\n")).not.toMatch(/Content Security Policy/);

    // Leaving inside the frame is forwarded too; unmount stops the forwarding.
    await page.frameLocator("#event iframe").getByRole("button", { name: "Leave" }).click();
    await until(page, `window.received.some((m) => m.data.state === "ended")`);
    expect((await received(page)).at(-1)!.data).toMatchObject({ state: "ended", endReason: "LEFT", canRejoin: true });
    await screenshot(page, "embed-host-page");
    await page.evaluate("window.mounted.unmount()");
    expect(await page.locator("#event iframe").count()).toBe(0);
    await context.close();
  });

  it("the script tag alone, with data-external-auth-code: the partner's JWT joins, and the host hears it as events", async () => {
    const event = await makeEvent(t, company, { name: "Partner webinar" });
    const partner = ok(
      await t.gql(
        `mutation { createPartnerSecret(input: { name: "Embed" }) { secret partnerSecret { id } } }`,
        {},
        { key: company.key },
      ),
    ).createPartnerSecret;
    const now = Math.floor(t.clock.now().getTime() / 1000);
    const code = await new SignJWT({ user: { id: `crm-embed-${Date.now()}`, name: "Partner Embedded" } })
      .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: partner.partnerSecret.id })
      .setIssuedAt(now)
      .setExpirationTime(now + 600)
      .sign(new TextEncoder().encode(partner.secret));
    const { context, page } = await newPage(b.browser);
    const requested: string[] = [];
    context.on("request", (r) => requested.push(r.url()));
    await page.goto(hostUrl({ mode: "tag", joinUrl: `${appOrigin(t)}/j/${event.slug}`, code }));
    await until(page, `window.received.some((m) => m.data.state === "joined")`);

    const got = await received(page);
    expect(got.every((m) => m.via === "event")).toBe(true);
    expect(got.at(-1)!.data).toMatchObject({
      state: "joined",
      user: { name: "Partner Embedded" },
      event: { id: event.id },
    });
    expect(got.some((m) => m.data.forged)).toBe(false);
    // The JWT went in the frame's fragment: no request (so no server log) carried it.
    expect(requested.filter((u) => u.startsWith(appOrigin(t)) && u.includes(code))).toEqual([]);
    expect(await page.frameLocator("iframe[title='Live event']").locator("#role").textContent()).toBe("Attendee");
    expect(await page.evaluate<string[]>("window.violations")).toEqual([]);
    await context.close();
  });
});
