import { useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser } from "../support/factories";
import { expectRefused, updateSettings } from "../join/join-helpers";
import { ALLOWED, VECTORS } from "../unit/redirect-cases";
import { createLink, createLinkRaw, openLink, postLogout, sessionCookieOf } from "./login-link-helpers";

// The rule itself, case by case, is test/unit/redirects.test.ts; here every refused vector goes
// through the API as well.
describe("redirects through the API", () => {
  const t = useTestApp();

  it("createLoginLink refuses every vector with REDIRECT_NOT_ALLOWED and changes nothing", async () => {
    const company = await makeCompany(t);
    await updateSettings(t, company, { allowedRedirectOrigins: ALLOWED });
    const user = await makeUser(t, company);
    const event = await makeEvent(t, company);
    for (const [url, why] of VECTORS) {
      if (url.length > 2048) {
        await expectRefused(
          t,
          () => createLinkRaw(t, company, { userId: user.id, eventId: event.id, redirectOnExpiryUrl: url }),
          "BAD_USER_INPUT",
          "redirectOnExpiryUrl",
        );
        continue;
      }
      const response = await createLinkRaw(t, company, {
        userId: user.id,
        eventId: event.id,
        redirectOnExpiryUrl: url,
      });
      expect([why, response.errors?.[0]?.extensions?.code, response.data ?? null]).toEqual([
        why,
        "REDIRECT_NOT_ALLOWED",
        null,
      ]);
    }
    await expectRefused(
      t,
      () => createLinkRaw(t, company, { userId: user.id, redirectOnExpiryUrl: "https://evil.test%2F@app.acme.test" }),
      "REDIRECT_NOT_ALLOWED",
    );
    const stored = await createLink(t, company, {
      userId: user.id,
      eventId: event.id,
      redirectOnExpiryUrl: "HTTPS://App.Acme.Test/back",
    });
    expect(stored.redirectOnExpiryUrl).toBe("https://app.acme.test/back");
  });

  it("a company with no allowed origins accepts no redirect at all", async () => {
    const company = await makeCompany(t);
    const user = await makeUser(t, company);
    await expectRefused(
      t,
      () => createLinkRaw(t, company, { userId: user.id, redirectOnExpiryUrl: "https://app.acme.test/" }),
      "REDIRECT_NOT_ALLOWED",
    );
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
    const twice = await postLogout(
      t,
      `/logout?redirectTo=${encodeURIComponent("https://app.acme.test/")}&redirectTo=x`,
      cookie,
    );
    expect(twice.location).toBe("http://admit.test/logged-out");
  });
});
