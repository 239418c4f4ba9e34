import { checkRedirect, requireRedirect } from "../../src/auth/redirects";
import { useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser } from "../support/factories";
import { expectRefused, updateSettings } from "../join/join-helpers";
import { createLink, createLinkRaw, openLink, postLogout, sessionCookieOf } from "./login-link-helpers";

const ALLOWED = ["https://app.acme.test", "http://localhost:3000"];

/** Each is refused; the comment says which trick it is. */
const VECTORS: [string, string][] = [
  ["//evil.test", "protocol-relative"],
  ["//app.acme.test", "protocol-relative, even to the allowed host"],
  ["/\\evil.test", "slash-backslash, read as //evil by browsers"],
  ["\\\\evil.test", "double backslash"],
  ["/relative/path", "relative"],
  ["https://app.acme.test@evil.test", "allowed host as userinfo"],
  ["https://evil.test%2F@app.acme.test", "encoded slash in userinfo"],
  ["https://evil.test\\@app.acme.test", "backslash before @"],
  ["https://user:pass@app.acme.test/", "userinfo on the allowed origin"],
  ["https://@app.acme.test/", "empty userinfo"],
  ["https://app.acme.test%2eevil.test/", "percent-encoded host"],
  ["https:\\\\app.acme.test", "backslashes for slashes"],
  ["https:/app.acme.test", "one slash (WHATWG would still parse it)"],
  ["https:app.acme.test", "no slash"],
  ["\thttps://app.acme.test/", "leading tab"],
  ["https://app.acme.test\t.evil.test/", "tab inside the host"],
  ["https://app.acme\n.test/", "newline inside the host (stripped by parsers)"],
  ["https://app.acme.test/\r\nSet-Cookie: x=1", "header injection"],
  [" https://app.acme.test/", "leading space"],
  ["https://app.acme.test/ ", "trailing space"],
  ["https://app.acme.test/\u0000", "NUL"],
  ["https://app.acme.test/\u00a0", "no-break space"],
  ["https://app.acme.test/\u2028", "line separator"],
  ["javascript:alert(1)//https://app.acme.test", "javascript:"],
  ["JavaScript://app.acme.test/%0aalert(1)", "javascript: with slashes"],
  ["data:text/html,<script>alert(1)</script>", "data:"],
  ["ftp://app.acme.test/", "other scheme"],
  ["http://app.acme.test/", "http where https is allowed"],
  ["https://localhost:3000/", "https where http is allowed"],
  ["https://app.acme.test:8443/", "other port"],
  ["http://localhost:3001/", "other port"],
  ["http://localhost/", "default port where 3000 is allowed"],
  ["https://evil.test/https://app.acme.test", "allowed origin in the path"],
  ["https://app.acme.test.evil.test/", "allowed host as a prefix"],
  ["https://evilapp.acme.test/", "suffix match"],
  ["https://acme.test/", "parent domain"],
  ["https://app.acme.test./", "trailing dot"],
  ["https://аpp.acme.test/", "Cyrillic homograph"],
  ["https://[::1]/", "IP literal not allowed"],
  ["", "empty"],
  [`https://app.acme.test/${"a".repeat(2100)}`, "too long"],
];

describe("checkRedirect", () => {
  it.each(VECTORS)("refuses %j (%s)", (url) => {
    expect(checkRedirect(url, ALLOWED)).toBeNull();
  });

  it("accepts an absolute URL on an allowed origin and answers it serialized", () => {
    expect(checkRedirect("https://app.acme.test/after?x=1#top", ALLOWED)).toBe("https://app.acme.test/after?x=1#top");
    expect(checkRedirect("https://app.acme.test", ALLOWED)).toBe("https://app.acme.test/");
    expect(checkRedirect("HTTPS://APP.ACME.TEST:443/Path", ALLOWED)).toBe("https://app.acme.test/Path");
    expect(checkRedirect("http://localhost:3000/x", ALLOWED)).toBe("http://localhost:3000/x");
    // Characters after the authority are encoded, never interpreted as another host.
    expect(checkRedirect("https://app.acme.test/é?q=<x>", ALLOWED)).toBe("https://app.acme.test/%C3%A9?q=%3Cx%3E");
    expect(checkRedirect("https://app.acme.test/#@evil.test", ALLOWED)).toBe("https://app.acme.test/#@evil.test");
  });

  it("refuses everything when nothing is allowed, and anything that is not a string", () => {
    expect(checkRedirect("https://app.acme.test/", [])).toBeNull();
    for (const value of [null, undefined, 42, ["https://app.acme.test/"], { href: "https://app.acme.test/" }]) {
      expect(checkRedirect(value, ALLOWED)).toBeNull();
    }
  });

  it("requireRedirect throws REDIRECT_NOT_ALLOWED naming the field, without echoing the URL", () => {
    try {
      requireRedirect("redirectOnExpiryUrl", "https://evil.test/secret-path", ALLOWED);
      throw new Error("not refused");
    } catch (error) {
      expect(error).toMatchObject({ code: "REDIRECT_NOT_ALLOWED", field: "redirectOnExpiryUrl" });
      expect((error as Error).message).not.toContain("evil.test");
    }
  });
});

describe("redirects through the API", () => {
  const t = useTestApp();

  it("createLoginLink refuses every vector with REDIRECT_NOT_ALLOWED and changes nothing", async () => {
    const company = await makeCompany(t);
    await updateSettings(t, company, { allowedRedirectOrigins: ALLOWED });
    const user = await makeUser(t, company);
    const event = await makeEvent(t, company);
    for (const [url, why] of VECTORS) {
      if (url.length > 2048) {
        await expectRefused(t, () => createLinkRaw(t, company, { userId: user.id, eventId: event.id, redirectOnExpiryUrl: url }), "BAD_USER_INPUT", "redirectOnExpiryUrl");
        continue;
      }
      const response = await createLinkRaw(t, company, { userId: user.id, eventId: event.id, redirectOnExpiryUrl: url });
      expect([why, response.errors?.[0]?.extensions?.code, response.data ?? null]).toEqual([why, "REDIRECT_NOT_ALLOWED", null]);
    }
    await expectRefused(
      t,
      () => createLinkRaw(t, company, { userId: user.id, redirectOnExpiryUrl: "https://evil.test%2F@app.acme.test" }),
      "REDIRECT_NOT_ALLOWED",
    );
    const stored = await createLink(t, company, { userId: user.id, eventId: event.id, redirectOnExpiryUrl: "HTTPS://App.Acme.Test/back" });
    expect(stored.redirectOnExpiryUrl).toBe("https://app.acme.test/back");
  });

  it("a company with no allowed origins accepts no redirect at all", async () => {
    const company = await makeCompany(t);
    const user = await makeUser(t, company);
    await expectRefused(t, () => createLinkRaw(t, company, { userId: user.id, redirectOnExpiryUrl: "https://app.acme.test/" }), "REDIRECT_NOT_ALLOWED");
  });

  it("/logout redirects to an allowed origin only; every vector lands on the local page", async () => {
    const company = await makeCompany(t);
    await updateSettings(t, company, { allowedRedirectOrigins: ALLOWED });
    const user = await makeUser(t, company);
    const event = await makeEvent(t, company);

    const logoutTo = async (redirectTo: string) => {
      // A fresh live session each time: logout ends it.
      const link = await createLink(t, company, { userId: user.id, eventId: event.id });
      const cookie = sessionCookieOf(await openLink(t, link.code)).value;
      return postLogout(t, `/logout?redirectTo=${encodeURIComponent(redirectTo)}`, cookie);
    };

    for (const [url, why] of VECTORS) {
      const out = await logoutTo(url);
      expect([why, out.status, out.location]).toEqual([why, 303, "http://admit.test/logged-out"]);
    }
    const allowed = await logoutTo("http://localhost:3000/signed-out?from=admit");
    expect([allowed.status, allowed.location]).toEqual([303, "http://localhost:3000/signed-out?from=admit"]);

    // A repeated parameter is not a URL.
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    const cookie = sessionCookieOf(await openLink(t, link.code)).value;
    const twice = await postLogout(t, `/logout?redirectTo=${encodeURIComponent("https://app.acme.test/")}&redirectTo=x`, cookie);
    expect(twice.location).toBe("http://admit.test/logged-out");
  });
});
