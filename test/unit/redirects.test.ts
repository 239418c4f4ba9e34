import { checkRedirect, MAX_REDIRECT_URL_LENGTH, requireRedirect } from "../../src/auth/redirects";
import { ALLOWED, VECTORS } from "./redirect-cases";

/** Which redirect URLs a company's allow-list lets through, case by case, without a database. */

/** A URL on the allowed https origin, `length` characters long. */
const ofLength = (length: number): string => {
  const head = "https://app.acme.test/";
  return head + "a".repeat(length - head.length);
};

/** Accepted: [what it shows, the URL, what checkRedirect answers (the URL serialized again)]. */
const ACCEPTED: [string, string, string][] = [
  ["path, query and fragment as given", "https://app.acme.test/after?x=1#top", "https://app.acme.test/after?x=1#top"],
  ["the origin alone gains its slash", "https://app.acme.test", "https://app.acme.test/"],
  [
    "scheme and host in upper case, the default port: normalised",
    "HTTPS://APP.ACME.TEST:443/Path",
    "https://app.acme.test/Path",
  ],
  ["http with its port, where that origin is allowed", "http://localhost:3000/x", "http://localhost:3000/x"],
  // Characters after the authority are encoded, never read as another host.
  [
    "non-ASCII and angle brackets after the host are encoded",
    "https://app.acme.test/é?q=<x>",
    "https://app.acme.test/%C3%A9?q=%3Cx%3E",
  ],
  ["an @ in the fragment is not userinfo", "https://app.acme.test/#@evil.test", "https://app.acme.test/#@evil.test"],
  ["the longest URL accepted", ofLength(MAX_REDIRECT_URL_LENGTH), ofLength(MAX_REDIRECT_URL_LENGTH)],
];

describe("checkRedirect", () => {
  it.each(VECTORS)("refuses %j (%s)", (url) => {
    expect(checkRedirect(url, ALLOWED)).toBeNull();
  });

  it.each(ACCEPTED)("accepts %s", (_name, url, answer) => {
    expect(checkRedirect(url, ALLOWED)).toBe(answer);
  });

  it.each<[string, unknown, readonly string[]]>([
    ["one character over the limit", ofLength(MAX_REDIRECT_URL_LENGTH + 1), ALLOWED],
    ["an allowed-looking URL when nothing is allowed", "https://app.acme.test/", []],
    ["null", null, ALLOWED],
    ["undefined", undefined, ALLOWED],
    ["a number", 42, ALLOWED],
    ["an array holding an allowed URL", ["https://app.acme.test/"], ALLOWED],
    ["an object with an allowed href", { href: "https://app.acme.test/" }, ALLOWED],
  ])("refuses %s", (_name, value, allowed) => {
    expect(checkRedirect(value, allowed)).toBeNull();
  });
});

describe("requireRedirect", () => {
  it("answers the checked URL", () => {
    expect(requireRedirect("redirectOnExpiryUrl", "https://app.acme.test", ALLOWED)).toBe("https://app.acme.test/");
  });

  it("throws REDIRECT_NOT_ALLOWED naming the field, without echoing the URL", () => {
    expect.assertions(2);
    try {
      requireRedirect("redirectOnExpiryUrl", "https://evil.test/secret-path", ALLOWED);
    } catch (error) {
      expect(error).toMatchObject({ code: "REDIRECT_NOT_ALLOWED", field: "redirectOnExpiryUrl" });
      expect((error as Error).message).not.toContain("evil.test");
    }
  });
});
