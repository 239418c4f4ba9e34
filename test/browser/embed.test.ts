import { createServer, Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Page } from "playwright-core";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { addPrincipals, mint, updateSettings } from "../join/join-helpers";
import {
  appOrigin,
  describeInBrowser,
  newPage,
  pageUrl,
  recordRequests,
  useBrowser,
  waitForState,
} from "./browser-helpers";

jest.setTimeout(60_000);

const t = useTestApp();
const b = useBrowser();

/**
 * The company's own product: a page on another origin (http://127.0.0.1:<port>, while the app is
 * http://localhost:<port>) that frames the join page and keeps every message it receives.
 */
let parent: Server;
let parentOrigin = "";
beforeAll(async () => {
  parent = createServer((request, response) => {
    const src = new URL(request.url!, "http://x").searchParams.get("src") ?? "";
    const attr = src.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(`<!doctype html><title>Product</title>
<script>window.messages = []; addEventListener("message", (e) => window.messages.push({ origin: e.origin, data: e.data }));</script>
<iframe id="admit" title="Live event" src="${attr}" width="480" height="480"></iframe>`);
  });
  await new Promise<void>((resolve) => parent.listen(0, "127.0.0.1", resolve));
  parentOrigin = `http://127.0.0.1:${(parent.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => parent.close(resolve));
});

interface Received {
  origin: string;
  data: {
    type: string;
    state: string;
    role: string | null;
    endReason: string | null;
    user: { id: string; name: string } | null;
    event: { id: string; name: string | null } | null;
  };
}
const messagesOf = (page: Page): Promise<Received[]> => page.evaluate<Received[]>("window.messages");
const framed = (src: string) => `${parentOrigin}/?src=${encodeURIComponent(src)}`;

describeInBrowser("the join page embedded in a company's product", () => {
  let company: TestCompany;
  beforeAll(async () => {
    company = await makeCompany(t);
    await updateSettings(t, company, { allowedEmbedOrigins: ["https://app.acme.test", parentOrigin] });
  });

  it("framed on an allowed origin, it posts every state change to the parent, never the token", async () => {
    const event = await makeEvent(t, company, { name: "Embedded webinar" });
    const minted = await mint(t, company, { eventId: event.id, user: { id: "u-embed", name: "Mary Jackson" } });
    const { context, page } = await newPage(b.browser);
    await page.goto(framed(pageUrl(t, event.slug, { token: minted.token })));
    await page.waitForFunction(`window.messages.some((m) => m.data.state === "joined")`);

    const messages = await messagesOf(page);
    expect(messages.every((m) => m.origin === appOrigin(t) && m.data.type === "admit:session")).toBe(true);
    expect(messages.map((m) => m.data.state)).toEqual(["loading", "joined"]);
    const user = ok(await t.gql(`query { user(externalId: "u-embed") { id } }`, {}, { key: company.key })).user;
    expect(messages[1].data).toMatchObject({
      type: "admit:session",
      state: "joined",
      role: "ATTENDEE",
      endReason: null,
      user: { id: user.id, name: "Mary Jackson" },
      event: { id: event.id, name: "Embedded webinar" },
    });
    expect(JSON.stringify(messages)).not.toContain(minted.token);
    expect(JSON.stringify(messages)).not.toMatch(/eyJ/); // no JWT of any kind, session tokens included

    // A live role change is a state change too.
    await addPrincipals(t, company, event.id, "PRESENTER", [{ userId: "u-embed" }]);
    await page.waitForFunction(`window.messages.some((m) => m.data.role === "PRESENTER")`);

    // So is leaving, from inside the frame.
    await page.frameLocator("#admit").getByRole("button", { name: "Leave" }).click();
    await page.waitForFunction(`window.messages.some((m) => m.data.state === "ended")`);
    expect((await messagesOf(page)).at(-1)!.data).toMatchObject({ state: "ended", endReason: "LEFT", role: null });
    await context.close();
  });

  it("framed on an origin the company does not allow, the browser refuses to show it: it never runs", async () => {
    const other = await makeCompany(t);
    await updateSettings(t, other, { allowedEmbedOrigins: ["https://app.other.test"] });
    const strict = await makeCompany(t); // no embed origin at all: frame-ancestors 'none'
    for (const owner of [other, strict]) {
      const event = await makeEvent(t, owner);
      const minted = await mint(t, owner, { eventId: event.id, user: { id: "u-framed" } });
      const { context, page } = await newPage(b.browser);
      const logged: string[] = [];
      page.on("console", (message) => logged.push(message.text()));
      const graphql: string[] = [];
      context.on("request", (request) => {
        if (request.url().endsWith("/graphql")) graphql.push(request.url());
      });
      await page.goto(framed(pageUrl(t, event.slug, { token: minted.token })));
      await page.waitForTimeout(1500);

      const frame = page.frames().find((f) => f !== page.mainFrame())!;
      expect(frame.url()).not.toContain("/j/");
      expect(await frame.evaluate(`document.getElementById("admit-config")`).catch(() => null)).toBeNull();
      expect(await messagesOf(page)).toEqual([]);
      expect(graphql).toEqual([]);
      expect(logged.join("\n")).toMatch(/frame-ancestors/);
      const sessions = ok(
        await t.gql(
          `query($id: ID!) { event(id: $id) { sessions { edges { node { id } } } } }`,
          { id: event.id },
          { key: owner.key },
        ),
      );
      expect(sessions.event.sessions.edges).toEqual([]);
      await context.close();
    }
  });

  it("makes no third-party request (a Gravatar avatar shows as initials); prints its size and time to joined", async () => {
    const event = await makeEvent(t, company, { name: "Size and speed" });
    const minted = await mint(t, company, {
      eventId: event.id,
      user: { id: "u-gravatar", name: "Dorothy Vaughan", email: "dorothy@acme.test" },
    });
    const { context, page } = await newPage(b.browser);
    const urls = recordRequests(context);
    const sizes: { url: string; body: number; transferred: number }[] = [];
    page.on("requestfinished", async (request) => {
      const response = await request.response();
      const body = response ? (await response.body().catch(() => Buffer.alloc(0))).length : 0;
      // A heartbeat that finishes as the context closes (a loaded machine) is not measured.
      const measured = await request.sizes().catch(() => null);
      if (!measured) return;
      sizes.push({ url: request.url(), body, transferred: measured.responseBodySize + measured.responseHeadersSize });
    });
    await page.goto(pageUrl(t, event.slug, { token: minted.token }));
    await waitForState(page, "joined");
    const joinedAtMs = await page.evaluate<number>(`performance.getEntriesByName("admit:joined")[0].startTime`);
    await page.waitForTimeout(300); // the last requestfinished handlers

    const origins = [...new Set(urls.map((u) => new URL(u).origin))];
    expect(origins).toEqual([appOrigin(t)]);
    expect(await page.locator("#avatar img").count()).toBe(0);
    expect((await page.textContent("#avatar"))!.trim()).toBe("DV");

    const pageLoad = sizes.filter((s) => !s.url.endsWith("/graphql"));
    const sum = (list: typeof sizes, key: "body" | "transferred") => list.reduce((n, s) => n + s[key], 0);
    console.log(
      [
        `[join page] requests until joined: ${sizes.length} (${pageLoad.length} page files + ${sizes.length - pageLoad.length} GraphQL)`,
        `[join page] page files (HTML + JS + CSS), response bodies: ${sum(pageLoad, "body")} bytes; on the wire with headers (gzip): ${sum(pageLoad, "transferred")} bytes`,
        `[join page] everything until joined, response bodies: ${sum(sizes, "body")} bytes; on the wire: ${sum(sizes, "transferred")} bytes`,
        `[join page] time from navigation to joined on localhost: ${joinedAtMs.toFixed(1)} ms`,
        ...sizes.map(
          (s) =>
            `[join page]   ${s.url.replace(appOrigin(t), "").replace(/token=[^&]+/, "token=…")}: ${s.body} bytes (${s.transferred} on the wire)`,
        ),
      ].join("\n"),
    );
    expect(sum(pageLoad, "body")).toBeLessThan(40_000);
    expect(joinedAtMs).toBeLessThan(5_000);

    // An avatar on the page's own origin is shown as an image.
    const own = await mint(t, company, {
      eventId: event.id,
      user: { id: "u-own-avatar", name: "Own Avatar", avatarUrl: `${appOrigin(t)}/avatars/own.png` },
    });
    await page.goto(pageUrl(t, event.slug, { token: own.token }));
    await waitForState(page, "joined");
    expect(await page.locator("#avatar img").getAttribute("src")).toBe(`${appOrigin(t)}/avatars/own.png`);
    expect([...new Set(urls.map((u) => new URL(u).origin))]).toEqual([appOrigin(t)]);
    await context.close();
  });
});
