import jwt from "jsonwebtoken";
import * as oauth from "openid-client";
import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent } from "../support/factories";
import { addPrincipals, expectRefused, joinRaw, mint, updateSettings } from "../join/join-helpers";
import { TestJwksServer } from "../support/jwks-server";
import {
  addProvider,
  createSecret,
  CREATE_SECRET,
  fresh,
  PartnerSecret,
  partnerJoin,
  REVOKE_SECRET,
} from "./partner-helpers";
import { browserGet, createLink, openLink, postLogout, sessionCookieOf, sessionRow } from "./login-link-helpers";

/*
 * Drop-in fidelity: an integration written for another vendor's scheme works unchanged —
 * partner JWTs as `jsonwebtoken` signs them, logout that follows the login link's redirect,
 * validateToken for every credential, company-wide links that lead somewhere, and a standard
 * OAuth client doing discovery and the token exchange with its default client authentication.
 */

const t = useTestApp();
let company: TestCompany;
let event: TestEvent;
let secret: PartnerSecret;
const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  company = await makeCompany(t);
  event = await makeEvent(t, company, { name: "Town hall" });
  secret = await createSecret(t, company);
  await updateSettings(t, company, { allowedRedirectOrigins: ["https://app.acme.test"] });
});

/** Exactly what an "external auth code" integrator's backend already runs (HS256, no kid). */
const integratorSign = (payload: object, key = secret.secret, options: jwt.SignOptions = { expiresIn: "7 days" }) =>
  jwt.sign(payload, key, options);

describe("partner JWTs signed exactly as integrators already sign them", () => {
  it("jwt.sign({ user: { id, email } }, secret, { expiresIn: '7 days' }): created just in time, extra keys kept, a numeric id as text", async () => {
    const email = `ada-${uid()}@acme.test`;
    const id = Math.floor(Math.random() * 1e9);
    const token = integratorSign({ user: { id, email, name: "Ada", plan: "pro" } });
    expect(JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString())).toEqual({ alg: "HS256", typ: "JWT" });
    const joined = ok(await partnerJoin(t, event.id, token)).joinEvent;
    expect(joined.role).toBe("ATTENDEE");
    expect(joined.session.user).toMatchObject({
      externalId: String(id),
      email,
      name: "Ada",
      metadata: { plan: "pro" },
    });
  });

  it("{ id } names an existing user by Admit's id or the external id; { email } too; id wins over email", async () => {
    const bobEmail = `bob-${uid()}@acme.test`;
    const ada = await makeUser(t, company, { email: `ada-${uid()}@acme.test`, name: "Ada" });
    const bob = await makeUser(t, company, { email: bobEmail, name: "Bob" });
    for (const payload of [{ id: ada.id }, { id: ada.externalId }, { id: ada.externalId, email: bobEmail }]) {
      const joined = ok(await partnerJoin(t, event.id, integratorSign(payload))).joinEvent;
      expect(joined.session.user.externalId).toBe(ada.externalId);
    }
    const byEmail = ok(await partnerJoin(t, event.id, integratorSign({ email: bobEmail.toUpperCase() }))).joinEvent;
    expect(byEmail.session.user.externalId).toBe(bob.externalId);
    // Nobody: no user is created from an id or an email alone.
    expect(codeOf(await partnerJoin(t, event.id, integratorSign({ id: `nobody-${uid()}` })))).toBe(
      "INVALID_CREDENTIALS",
    );
  });

  it("without kid, every active secret is tried: a rotated-in secret works, a revoked one does not", async () => {
    const other = await makeCompany(t);
    const otherEvent = await makeEvent(t, other);
    const first = await createSecret(t, other, "first");
    const second = await createSecret(t, other, "second");
    ok(await partnerJoin(t, otherEvent.id, integratorSign({ user: { id: `a-${uid()}` } }, first.secret)));
    ok(await partnerJoin(t, otherEvent.id, integratorSign({ user: { id: `b-${uid()}` } }, second.secret)));
    // Another company's secret opens nothing here.
    expect(
      codeOf(await partnerJoin(t, otherEvent.id, integratorSign({ user: { id: `c-${uid()}` } }, secret.secret))),
    ).toBe("TOKEN_INVALID");
    ok(await t.gql(REVOKE_SECRET, { id: first.id }, { key: other.key }));
    expect(
      codeOf(await partnerJoin(t, otherEvent.id, integratorSign({ user: { id: `d-${uid()}` } }, first.secret))),
    ).toBe("TOKEN_INVALID");
    // At most five active secrets: the sixth is refused until one is revoked.
    for (let i = 0; i < 4; i++) await createSecret(t, other, `extra-${i}`);
    expect(codeOf(await t.gql(CREATE_SECRET, { input: { name: "sixth" } }, { key: other.key }))).toBe("BAD_USER_INPUT");
  });

  it("refuses a wrong secret, alg none, HS512 and a lifetime beyond the company's maximum with TOKEN_INVALID; expired is TOKEN_EXPIRED", async () => {
    const user = () => ({ user: { id: `r-${uid()}` } });
    const unsignedNone = `${Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url")}.${Buffer.from(
      JSON.stringify(fresh(t, user())),
    ).toString("base64url")}.`;
    for (const token of [
      integratorSign(user(), "not-the-secret-but-long-enough-to-sign-with-0123"),
      unsignedNone,
      integratorSign(user(), secret.secret, { expiresIn: "7 days", algorithm: "HS512" }),
      integratorSign(user(), secret.secret, { expiresIn: "8 days" }),
      integratorSign(user(), secret.secret, {}),
    ]) {
      await expectRefused(t, () => partnerJoin(t, event.id, token), "TOKEN_INVALID");
    }
    await expectRefused(
      t,
      () =>
        partnerJoin(
          t,
          event.id,
          integratorSign({ ...user(), exp: Math.floor(Date.now() / 1000) - 120 }, secret.secret, {}),
        ),
      "TOKEN_EXPIRED",
    );
  });

  it("partnerTokenMaxTtlSeconds: up to 30 days; a shorter limit refuses longer tokens", async () => {
    const SETTINGS = `mutation($input: UpdateCompanySettingsInput!) { updateCompanySettings(input: $input) { settings { partnerTokenMaxTtlSeconds } } }`;
    const other = await makeCompany(t);
    const otherEvent = await makeEvent(t, other);
    const key = await createSecret(t, other);
    const set = (value: number) => t.gql(SETTINGS, { input: { partnerTokenMaxTtlSeconds: value } }, { key: other.key });
    expect(
      ok(await t.gql(`query { company { settings { partnerTokenMaxTtlSeconds } } }`, {}, { key: other.key })).company
        .settings.partnerTokenMaxTtlSeconds,
    ).toBe(604_800);
    expect(codeOf(await set(30 * 86_400 + 1))).toBe("BAD_USER_INPUT");
    expect(ok(await set(30 * 86_400)).updateCompanySettings.settings.partnerTokenMaxTtlSeconds).toBe(2_592_000);
    ok(
      await partnerJoin(
        t,
        otherEvent.id,
        integratorSign({ user: { id: `l-${uid()}` } }, key.secret, { expiresIn: "20 days" }),
      ),
    );
    ok(await set(86_400));
    expect(
      codeOf(
        await partnerJoin(
          t,
          otherEvent.id,
          integratorSign({ user: { id: `l-${uid()}` } }, key.secret, { expiresIn: "2 days" }),
        ),
      ),
    ).toBe("TOKEN_INVALID");
  });
});

describe("logout follows the login link's redirect", () => {
  it("with no redirectTo (or one not allowed) it goes to redirectOnExpiryUrl; an allowed redirectTo wins; no redirect known: Admit's page", async () => {
    const user = await makeUser(t, company, { name: "Lin" });
    const open = async (redirectOnExpiryUrl?: string) => {
      const link = await createLink(t, company, {
        userId: user.id,
        eventId: event.id,
        ...(redirectOnExpiryUrl ? { redirectOnExpiryUrl } : {}),
      });
      const opened = await openLink(t, link.code);
      expect(opened.status).toBe(303);
      return sessionCookieOf(opened).value;
    };
    const withRedirect = await open("https://app.acme.test/signed-out");
    const out = await postLogout(t, "/logout", withRedirect);
    expect(out.status).toBe(303);
    expect(out.location).toBe("https://app.acme.test/signed-out");

    const notAllowed = await postLogout(
      t,
      `/logout?redirectTo=${encodeURIComponent("https://evil.test/")}`,
      await open("https://app.acme.test/bye"),
    );
    expect(notAllowed.location).toBe("https://app.acme.test/bye");

    const named = await postLogout(
      t,
      `/logout?redirectTo=${encodeURIComponent("https://app.acme.test/chosen")}`,
      await open("https://app.acme.test/bye"),
    );
    expect(named.location).toBe("https://app.acme.test/chosen");

    const plain = await postLogout(t, "/logout", await open());
    expect(plain.location).toBe("http://admit.test/logged-out");
  });

  it("the company-wide sign-in of a link without event goes there too", async () => {
    const user = await makeUser(t, company, { name: "Wide" });
    const link = await createLink(t, company, { userId: user.id, redirectOnExpiryUrl: "https://app.acme.test/wide" });
    const cookie = sessionCookieOf(await openLink(t, link.code)).value;
    expect((await postLogout(t, "/logout", cookie)).location).toBe("https://app.acme.test/wide");
  });
});

const VALIDATE = `query($token: String!, $type: CredentialType, $event: String) {
  validateToken(token: $token, credentialType: $type, event: $event) {
    valid errorCode tokenType claims expiresAt admits { role event { id } user { id externalId } }
  }
}`;
const VALIDATE_KEYLESS = `query($token: String!, $type: CredentialType, $event: String) {
  validateToken(token: $token, credentialType: $type, event: $event) { valid errorCode tokenType claims admits { role } }
}`;

describe("validateToken for every credential kind", () => {
  it("a partner JWT: its claims and whom it admits (role from the event's lists), for the holder without a key", async () => {
    const externalId = `org-${uid()}`;
    await addPrincipals(t, company, event.id, "ORGANIZER", [{ userId: externalId }]);
    const token = integratorSign({ user: { id: externalId, email: `${externalId}@acme.test` } });
    const keyless = ok(
      await t.gql(VALIDATE_KEYLESS, { token, type: "PARTNER_JWT", event: `${company.slug}/${event.slug}` }),
    ).validateToken;
    expect(keyless).toMatchObject({
      valid: true,
      errorCode: null,
      tokenType: "partner_jwt",
      admits: { role: "ORGANIZER" },
    });
    expect(keyless.claims.user).toEqual({ id: externalId, email: `${externalId}@acme.test` });
    // The user behind it is not the holder's to read without a key.
    const userless = await t.gql(
      `query($token: String!) { validateToken(token: $token, credentialType: PARTNER_JWT, event: "${event.id}") { admits { user { externalId } } } }`,
      { token },
    );
    expect(codeOf(userless)).toBe(undefined); // not created yet: null, nothing to refuse
    ok(await partnerJoin(t, event.id, token));
    const created = await t.gql(
      `query($token: String!) { validateToken(token: $token, credentialType: PARTNER_JWT, event: "${event.id}") { admits { user { externalId } } } }`,
      { token },
    );
    expect(codeOf(created)).toBe("FORBIDDEN");
    // With the company's key, everything; without an event, the key names the company and the role is unknown.
    const keyed = ok(await t.gql(VALIDATE, { token, type: "PARTNER_JWT" }, { key: company.key })).validateToken;
    expect(keyed).toMatchObject({ valid: true, admits: { role: null, event: null, user: { externalId } } });
    // Validating changed nothing and joined nobody twice.
    expect(
      ok(
        await t.gql(VALIDATE, {
          token: integratorSign({ user: { id: "x" } }, "wrong-secret-wrong-secret-wrong-secret"),
          type: "PARTNER_JWT",
          event: event.id,
        }),
      ).validateToken,
    ).toMatchObject({
      valid: false,
      errorCode: "TOKEN_INVALID",
      claims: null,
      admits: null,
    });
  });

  it("an OIDC ID token of a registered provider", async () => {
    const idp = await TestJwksServer.start("ES256");
    try {
      const issuer = `${idp.baseUrl}/realms/acme`;
      await addProvider(t, company, { name: "SSO", issuer, jwksUri: idp.jwksUri, audience: "admit" });
      const sub = `sso-${uid()}`;
      const idToken = await idp.sign(
        fresh(t, { iss: issuer, aud: "admit", sub, email: `${sub}@acme.test`, email_verified: true }),
      );
      const result = ok(
        await t.gql(VALIDATE, { token: idToken, type: "OIDC_ID_TOKEN", event: event.id }, { key: company.key }),
      ).validateToken;
      expect(result).toMatchObject({
        valid: true,
        tokenType: "oidc_id_token",
        claims: { sub, iss: issuer },
        admits: { role: "ATTENDEE", event: { id: event.id }, user: null },
      });
    } finally {
      await idp.stop();
    }
  });

  it("a login link's code is peeked at, never consumed; a used one says so and its session carries on", async () => {
    const user = await makeUser(t, company, { name: "Peek" });
    await addPrincipals(t, company, event.id, "PRESENTER", [{ userId: user.externalId }]);
    const link = await createLink(t, company, { userId: user.id, eventId: event.id });
    for (let i = 0; i < 2; i++) {
      const result = ok(await t.gql(VALIDATE_KEYLESS, { token: link.code, type: "LOGIN_LINK" })).validateToken;
      expect(result).toMatchObject({
        valid: true,
        tokenType: "login_link",
        claims: { jti: link.id, sub: user.externalId, evt: event.id },
        admits: { role: "PRESENTER" },
      });
    }
    const opened = await openLink(t, link.code);
    expect(opened.status).toBe(303);
    const used = ok(await t.gql(VALIDATE_KEYLESS, { token: link.code, type: "LOGIN_LINK" })).validateToken;
    expect(used).toMatchObject({ valid: false, errorCode: "LOGIN_LINK_USED", claims: null });
    const [session] = await t.db.dataSource.query("SELECT id FROM sessions WHERE credential_jti = $1", [link.id]);
    expect((await sessionRow(t, session.id)).ended_at).toBeNull();
  });

  it("Admit's own join token: whom it admits in the event it opens", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: `own-${uid()}` }, role: "PRESENTER" });
    const result = ok(await t.gql(VALIDATE, { token: minted.token }, { key: company.key })).validateToken;
    expect(result).toMatchObject({
      valid: true,
      tokenType: "join",
      admits: { role: "PRESENTER", event: { id: event.id }, user: null },
    });
  });
});

describe("a company-wide link leads somewhere", () => {
  it("its joinUrl opens the company page, which lists live and upcoming events, not ended ones", async () => {
    const other = await makeCompany(t, { name: "Globex" });
    const live = await makeEvent(t, other, { name: "Live one" });
    const later = await makeEvent(t, other, {
      name: "Later one",
      startsAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const over = await makeEvent(t, other, { name: "Over one" });
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: over.id }, { key: other.key }));
    const minted = await mint(t, other, { eventSpecific: false, user: { id: `wide-${uid()}` } });
    expect(minted.joinUrl).toBe(`http://admit.test/c/${other.slug}/?token=${minted.token}`);
    const page = await browserGet(t, new URL(minted.joinUrl).pathname + new URL(minted.joinUrl).search);
    expect(page.status).toBe(200);
    expect(page.body).toContain("Live one");
    expect(page.body).toContain("Later one");
    expect(page.body).not.toContain("Over one");
    expect(page.body).toContain(`/j/${other.slug}/${live.slug}#token=`);
    expect(page.body).toContain(`/j/${other.slug}/${later.slug}#token=`);
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    // A partner JWT opens it too; a bad one is said plainly.
    const key = await createSecret(t, other);
    const code = integratorSign({ user: { id: `p-${uid()}` } }, key.secret);
    const byCode = await browserGet(t, `/c/${other.slug}/?externalAuthCode=${code}`);
    expect(byCode.body).toContain(`/j/${other.slug}/${live.slug}#externalAuthCode=`);
    const bad = await browserGet(t, `/c/${other.slug}/?token=${minted.token}x`);
    expect(bad.status).toBe(400);
    expect(bad.body).not.toContain("Live one");
  });

  it("every place that takes an event accepts its id, its slug and companySlug/eventSlug", async () => {
    const other = await makeCompany(t);
    const target = await makeEvent(t, other, { privacy: "PRIVATE", knockingEnabled: true });
    const minted = await mint(t, other, { eventSpecific: false, user: { id: `refs-${uid()}` } });
    for (const ref of [target.id, target.slug, `${other.slug}/${target.slug}`]) {
      ok(await joinRaw(t, { event: ref, credential: minted.token }));
      ok(
        await t.gql(`mutation($input: RequestToJoinInput!) { requestToJoin(input: $input) { secret } }`, {
          input: { event: ref, name: "Knocker" },
        }),
      );
      const csv = await fetch(
        `${t.url}/c/${other.slug}/events/${encodeURIComponent(ref.includes("/") ? target.slug : ref)}/attendees.csv`,
        {
          headers: { authorization: `Bearer ${other.key}` },
        },
      );
      expect(csv.status).toBe(200);
    }
    // Another company's slug in front of the event is no way in.
    expect(codeOf(await joinRaw(t, { event: `${company.slug}/${target.slug}`, credential: minted.token }))).toBe(
      "NOT_FOUND",
    );
  });
});

describe("a standard OAuth client (openid-client) works unchanged", () => {
  it("discovers the issuer's RFC 8414 metadata and exchanges a partner JWT with its default client_secret_post", async () => {
    const issuer = `http://admit.test/c/${company.slug}`;
    const asked: string[] = [];
    // The issuer's host is admit.test; the app listens on loopback: only the address is rewritten.
    const loopback: typeof fetch = (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      asked.push(url);
      return fetch(url.replace("http://admit.test", t.url), init);
    };
    const config = await oauth.discovery(new URL(issuer), company.slug, company.key, undefined, {
      algorithm: "oauth2",
      execute: [oauth.allowInsecureRequests],
      [oauth.customFetch]: loopback,
    });
    expect(asked[0]).toBe(`http://admit.test/.well-known/oauth-authorization-server/c/${company.slug}`);
    const metadata = config.serverMetadata();
    expect(metadata).toMatchObject({
      issuer,
      token_endpoint: "http://admit.test/oauth/token",
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      grant_types_supported: ["urn:ietf:params:oauth:grant-type:token-exchange"],
      token_endpoint_auth_methods_supported: expect.arrayContaining(["client_secret_basic", "client_secret_post"]),
    });
    // The form the issue names answers the same document.
    const atIssuer = await fetch(`${t.url}/c/${company.slug}/.well-known/oauth-authorization-server`);
    expect(await atIssuer.json()).toEqual(metadata);

    const subject = integratorSign({ user: { id: `oauth-${uid()}`, name: "Via OAuth" } });
    const answer = await oauth.genericGrantRequest(config, "urn:ietf:params:oauth:grant-type:token-exchange", {
      subject_token: subject,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      audience: event.slug,
    });
    expect(answer.token_type).toBe("n_a");
    expect(answer.issued_token_type).toBe("urn:ietf:params:oauth:token-type:jwt");
    const joined = ok(await joinRaw(t, { event: event.id, credential: answer.access_token })).joinEvent;
    expect(joined.role).toBe("ATTENDEE");

    // The same client told to use HTTP Basic still works; a wrong secret is a 401 (invalid_client) either way.
    const basic = await oauth.discovery(
      new URL(issuer),
      company.slug,
      undefined,
      oauth.ClientSecretBasic(company.key),
      {
        algorithm: "oauth2",
        execute: [oauth.allowInsecureRequests],
        [oauth.customFetch]: loopback,
      },
    );
    const viaBasic = await oauth.genericGrantRequest(basic, "urn:ietf:params:oauth:grant-type:token-exchange", {
      subject_token: integratorSign({ user: { id: `oauth-${uid()}` } }),
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
    });
    expect(viaBasic.access_token).toBeTruthy();
    const wrong = await oauth.discovery(new URL(issuer), company.slug, "adm_wrong", undefined, {
      algorithm: "oauth2",
      execute: [oauth.allowInsecureRequests],
      [oauth.customFetch]: loopback,
    });
    await expect(
      oauth.genericGrantRequest(wrong, "urn:ietf:params:oauth:grant-type:token-exchange", {
        subject_token: subject,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      }),
    ).rejects.toMatchObject({ status: 401 });
  });

  it("client_secret_post with another company's slug as client_id, or two methods at once, is refused", async () => {
    const other = await makeCompany(t);
    const form = (fields: Record<string, string>) =>
      new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: integratorSign({ user: { id: `f-${uid()}` } }),
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        ...fields,
      }).toString();
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${t.url}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
        body,
      });
    expect((await post(form({ client_id: company.slug, client_secret: company.key }))).status).toBe(200);
    const mismatch = await post(form({ client_id: other.slug, client_secret: company.key }));
    expect(mismatch.status).toBe(401);
    expect(((await mismatch.json()) as { error: string }).error).toBe("invalid_client");
    const both = await post(form({ client_id: company.slug, client_secret: company.key }), {
      authorization: `Bearer ${company.key}`,
    });
    expect(both.status).toBe(400);
    expect(((await both.json()) as { error: string }).error).toBe("invalid_request");
  });
});
