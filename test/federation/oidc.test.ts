import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent } from "../support/factories";
import { TestJwksServer } from "../support/jwks-server";
import { expectRefused } from "../join/join-helpers";
import { ADD_PROVIDER, addProvider, fresh, nowSeconds, oidcJoin, userCount } from "./partner-helpers";

const t = useTestApp();
let company: TestCompany;
let event: TestEvent;
let idp: TestJwksServer;
let issuer: string;
const AUDIENCE = "admit-client-id";
const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  company = await makeCompany(t);
  event = await makeEvent(t, company);
  idp = await TestJwksServer.start("ES256");
  issuer = `${idp.baseUrl}/realms/acme`;
  await addProvider(t, company, { name: "Acme SSO", issuer, jwksUri: idp.jwksUri, audience: AUDIENCE });
});
afterAll(() => idp.stop());

/** An ID token of the provider: iss, aud, sub, iat and exp (10 minutes), plus `extra`. */
const idToken = (extra: Record<string, unknown> = {}, options: { kid?: string; server?: TestJwksServer } = {}) =>
  (options.server ?? idp).sign(fresh(t, { iss: issuer, aud: AUDIENCE, sub: `oidc-${uid()}`, ...extra }), { kid: options.kid });

/** Runs `work` with Date.now() 31 s ahead: past jose's 30 s refetch cooldown. */
async function afterCooldown<T>(work: () => Promise<T>): Promise<T> {
  const realNow = Date.now.bind(Date);
  const spy = jest.spyOn(Date, "now").mockImplementation(() => realNow() + 31_000);
  try {
    return await work();
  } finally {
    spy.mockRestore();
  }
}

describe("addIdentityProvider", () => {
  it("has defaults and is listed on the company", async () => {
    const added = await addProvider(t, company, { name: "Defaults", issuer: `https://login.example.test/${uid()}`, jwksUri: "https://login.example.test/jwks", audience: "x" });
    expect(added).toMatchObject({
      kind: "OIDC",
      algorithms: ["RS256", "ES256", "EdDSA"],
      claimMapping: { externalId: "sub", email: "email", name: "name" },
      jitEnabled: true,
      disabledAt: null,
    });
    const listed = ok(await t.gql(`query { company { identityProviders { id issuer } } }`, {}, { key: company.key })).company.identityProviders;
    expect(listed.map((p: { id: string }) => p.id)).toContain(added.id);
  });

  it("refuses bad input with BAD_USER_INPUT and the field, and changes nothing", async () => {
    const base = { name: "Bad", issuer: `https://bad.example.test/${uid()}`, jwksUri: "https://bad.example.test/jwks", audience: "x" };
    const cases: [Record<string, unknown>, string][] = [
      [{ jwksUri: "http://bad.example.test/jwks" }, "jwksUri"],
      [{ jwksUri: "ftp://bad.example.test/jwks" }, "jwksUri"],
      [{ jwksUri: "not a url" }, "jwksUri"],
      [{ jwksUri: "https://user:pass@bad.example.test/jwks" }, "jwksUri"],
      [{ audience: undefined }, "audience"],
      [{ algorithms: ["HS256"] }, "algorithms"],
      [{ algorithms: ["none"] }, "algorithms"],
      [{ algorithms: [] }, "algorithms"],
      [{ issuer: "" }, "issuer"],
      [{ issuer: " https://spaced.test" }, "issuer"],
      [{ name: "" }, "name"],
      [{ claimMapping: { externalId: "" } }, "claimMapping.externalId"],
      [{ issuer }, "issuer"], // the provider of beforeAll
    ];
    for (const [override, field] of cases) {
      await expectRefused(t, () => t.gql(ADD_PROVIDER, { input: { ...base, ...override } }, { key: company.key }), "BAD_USER_INPUT", field);
    }
    // PARTNER_KEYS needs no audience; a loopback http JWKS is fine outside production.
    await addProvider(t, company, { kind: "PARTNER_KEYS", name: "Keys", issuer: `partner-${uid()}`, jwksUri: "http://localhost:1/jwks" });
  });

  it("needs MANAGE_COMPANY", async () => {
    const reader = ok(await t.gql(`mutation { createApiKey(input: { name: "r", scopes: [READ_ANALYTICS] }) { secret } }`, {}, { key: company.key })).createApiKey.secret;
    const input = { name: "X", issuer: `https://x.test/${uid()}`, jwksUri: "https://x.test/jwks", audience: "x" };
    expect(codeOf(await t.gql(ADD_PROVIDER, { input }, { key: reader }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(ADD_PROVIDER, { input }))).toBe("UNAUTHENTICATED");
  });
});

describe("OIDC_ID_TOKEN", () => {
  it("an ID token of the registered provider joins, creating the user from the mapped claims", async () => {
    const sub = `oidc-${uid()}`;
    const joined = ok(await oidcJoin(t, event.id, await idToken({ sub, email: "Lin@Acme.test", name: "Lin" }))).joinEvent;
    expect(joined.session).toMatchObject({
      credentialType: "OIDC_ID_TOKEN",
      user: { externalId: sub, email: "Lin@Acme.test", name: "Lin", isGuest: false },
    });
    // Again with a new name: the same user, refreshed.
    const again = ok(await oidcJoin(t, event.slug, await idToken({ sub, name: "Lin Q." }))).joinEvent;
    expect(again.session.user).toMatchObject({ id: joined.session.user.id, name: "Lin Q.", email: "Lin@Acme.test" });
  });

  it("an aud array holding ours is accepted when azp names us", async () => {
    ok(await oidcJoin(t, event.id, await idToken({ aud: [AUDIENCE, "other"], azp: AUDIENCE })));
    await expectRefused(t, async () => oidcJoin(t, event.id, await idToken({ aud: [AUDIENCE, "other"] })), "TOKEN_INVALID");
  });

  it("refused, changing nothing: another issuer, another audience, no exp, expired, no sub, an algorithm outside the list", async () => {
    const { exp: _exp, ...noExp } = fresh(t, { iss: issuer, aud: AUDIENCE, sub: `oidc-${uid()}` });
    const { sub: _sub, ...noSub } = fresh(t, { iss: issuer, aud: AUDIENCE });
    const cases: [() => Promise<string>, string][] = [
      [() => idToken({ iss: "https://evil.example.test" }), "TOKEN_INVALID"],
      [() => idToken({ iss: `${issuer}/` }), "TOKEN_INVALID"],
      [() => idToken({ aud: "someone-else" }), "TOKEN_INVALID"],
      [() => idToken({ aud: [] }), "TOKEN_INVALID"],
      [() => idp.sign(noExp), "TOKEN_INVALID"],
      [() => idp.sign(noSub), "TOKEN_INVALID"],
      [() => idToken({ sub: { id: 1 } }), "TOKEN_INVALID"],
      [() => idToken({ email: "not-an-email" }), "TOKEN_INVALID"],
      [() => idToken({ exp: nowSeconds(t) - 60 }), "TOKEN_EXPIRED"],
      [() => idToken({ nbf: nowSeconds(t) + 120 }), "TOKEN_NOT_YET_VALID"],
      [async () => `${(await idToken()).slice(0, -4)}AAAA`, "TOKEN_INVALID"],
      [() => idp.sign(fresh(t, { iss: issuer, aud: AUDIENCE, sub: `oidc-${uid()}` }), { header: { kid: "unknown-kid" } }), "TOKEN_INVALID"],
    ];
    for (const [make, code] of cases) {
      const token = await make();
      await expectRefused(t, () => oidcJoin(t, event.id, token), code);
    }
  });

  it("algorithms are pinned to the provider's list", async () => {
    const other = await TestJwksServer.start("EdDSA");
    try {
      const pinned = `${other.baseUrl}/pinned`;
      await addProvider(t, company, { name: "Pinned", issuer: pinned, jwksUri: other.jwksUri, audience: AUDIENCE, algorithms: ["ES256"] });
      const token = await other.sign(fresh(t, { iss: pinned, aud: AUDIENCE, sub: `p-${uid()}` }));
      await expectRefused(t, () => oidcJoin(t, event.id, token), "TOKEN_INVALID");
    } finally {
      await other.stop();
    }
  });

  it("another company's provider does not vouch for this company's events", async () => {
    const other = await makeCompany(t);
    const theirEvent = await makeEvent(t, other);
    const token = await idToken();
    await expectRefused(t, () => oidcJoin(t, theirEvent.id, token), "TOKEN_INVALID");
  });

  it("an unverified email is not taken (it could match an organizer list)", async () => {
    const board = await makeEvent(t, company, { organizers: [{ email: "ceo@acme.test" }] });
    const joined = ok(await oidcJoin(t, board.id, await idToken({ email: "CEO@acme.test", email_verified: false }))).joinEvent;
    expect(joined.session.user.email).toBeNull();
    expect(joined.role).toBe("ATTENDEE");
    const verified = ok(await oidcJoin(t, board.id, await idToken({ email: "CEO@acme.test", email_verified: true }))).joinEvent;
    expect(verified.role).toBe("ORGANIZER");
  });

  it("a custom claim mapping", async () => {
    const server = await TestJwksServer.start("RS256");
    try {
      const mapped = `${server.baseUrl}/mapped`;
      await addProvider(t, company, {
        name: "Mapped",
        issuer: mapped,
        jwksUri: server.jwksUri,
        audience: AUDIENCE,
        algorithms: ["RS256"],
        claimMapping: { externalId: "employee_id", email: "mail", name: "display_name" },
      });
      const token = await server.sign(fresh(t, { iss: mapped, aud: AUDIENCE, sub: "ignored", employee_id: 4711, mail: "emp@acme.test", display_name: "Emp" }));
      const joined = ok(await oidcJoin(t, event.id, token)).joinEvent;
      expect(joined.session.user).toMatchObject({ externalId: "4711", email: "emp@acme.test", name: "Emp" });
    } finally {
      await server.stop();
    }
  });

  it("jitEnabled false: only existing users, by external id", async () => {
    const server = await TestJwksServer.start();
    try {
      const strict = `${server.baseUrl}/strict`;
      await addProvider(t, company, { name: "Strict", issuer: strict, jwksUri: server.jwksUri, audience: AUDIENCE, jitEnabled: false });
      const known = await makeUser(t, company, { externalId: `known-${uid()}`, name: "Known" });
      const token = (sub: string) => server.sign(fresh(t, { iss: strict, aud: AUDIENCE, sub, name: "Renamed" }));
      const joined = ok(await oidcJoin(t, event.id, await token(known.externalId))).joinEvent;
      // The user is let in as it is: nothing is created or changed.
      expect(joined.session.user).toMatchObject({ id: known.id, name: "Known" });
      const unknown = await token(`stranger-${uid()}`);
      await expectRefused(t, () => oidcJoin(t, event.id, unknown), "INVALID_CREDENTIALS");
    } finally {
      await server.stop();
    }
  });

  it("removeIdentityProvider: its tokens are refused at once; the issuer may be registered again", async () => {
    const server = await TestJwksServer.start();
    try {
      const removable = `${server.baseUrl}/removable`;
      const provider = await addProvider(t, company, { name: "Removable", issuer: removable, jwksUri: server.jwksUri, audience: AUDIENCE });
      const token = () => server.sign(fresh(t, { iss: removable, aud: AUDIENCE, sub: `rm-${uid()}` }));
      ok(await oidcJoin(t, event.id, await token()));
      const removed = ok(await t.gql(`mutation($id: ID!) { removeIdentityProvider(id: $id) { id disabledAt } }`, { id: provider.id }, { key: company.key }));
      expect(removed.removeIdentityProvider.disabledAt).not.toBeNull();
      const refused = await token();
      await expectRefused(t, () => oidcJoin(t, event.id, refused), "TOKEN_INVALID");
      const again = await addProvider(t, company, { name: "Back", issuer: removable, jwksUri: server.jwksUri, audience: AUDIENCE });
      expect(again.id).not.toBe(provider.id);
      ok(await oidcJoin(t, event.id, await token()));
    } finally {
      await server.stop();
    }
  });
});

describe("the provider's JWKS", () => {
  it("a key rotation at the provider is picked up (an unknown kid refetches after the cooldown)", async () => {
    const server = await TestJwksServer.start();
    try {
      const rotating = `${server.baseUrl}/rotating`;
      await addProvider(t, company, { name: "Rotating", issuer: rotating, jwksUri: server.jwksUri, audience: AUDIENCE });
      const token = () => server.sign(fresh(t, { iss: rotating, aud: AUDIENCE, sub: `rot-${uid()}` }));
      const oldKid = server.key().kid;
      ok(await oidcJoin(t, event.id, await token()));
      ok(await oidcJoin(t, event.id, await token()));
      expect(server.fetches).toBe(1); // cached

      await server.rotate();
      const signedWithNew = await token();
      const joined = await afterCooldown(() => oidcJoin(t, event.id, signedWithNew));
      expect(ok(joined).joinEvent.session.credentialType).toBe("OIDC_ID_TOKEN");
      expect(server.fetches).toBe(2);
      expect(server.key().kid).not.toBe(oldKid);
    } finally {
      await server.stop();
    }
  });

  it("a token of the old key is refused once the provider has dropped it", async () => {
    const server = await TestJwksServer.start();
    try {
      const dropping = `${server.baseUrl}/dropping`;
      await addProvider(t, company, { name: "Dropping", issuer: dropping, jwksUri: server.jwksUri, audience: AUDIENCE });
      const oldToken = await server.sign(fresh(t, { iss: dropping, aud: AUDIENCE, sub: `old-${uid()}` }));
      await server.rotate();
      const newToken = await server.sign(fresh(t, { iss: dropping, aud: AUDIENCE, sub: `new-${uid()}` }));
      ok(await oidcJoin(t, event.id, newToken));
      await expectRefused(t, () => afterCooldown(() => oidcJoin(t, event.id, oldToken)), "TOKEN_INVALID");
    } finally {
      await server.stop();
    }
  });

  it("a provider that is down, failing or too slow is TOKEN_INVALID with a clear message, never INTERNAL", async () => {
    const server = await TestJwksServer.start();
    const tokenFor = async (name: string) => {
      const iss = `${server.baseUrl}/${name}`;
      await addProvider(t, company, { name, issuer: iss, jwksUri: server.jwksUri, audience: AUDIENCE });
      return server.sign(fresh(t, { iss, aud: AUDIENCE, sub: `${name}-${uid()}` }));
    };
    const failing = await tokenFor("failing");
    const slow = await tokenFor("slow");
    const down = await tokenFor("down");
    const users = await userCount(t, company.id);

    server.mode = "error";
    let response = await oidcJoin(t, event.id, failing);
    expect(codeOf(response)).toBe("TOKEN_INVALID");
    expect(response.errors![0].message).toMatch(/JWKS/);

    server.mode = "hang";
    const started = Date.now();
    response = await oidcJoin(t, event.id, slow);
    expect(codeOf(response)).toBe("TOKEN_INVALID");
    expect(response.errors![0].message).toMatch(/in time/);
    expect(Date.now() - started).toBeLessThan(10_000);

    await server.stop();
    response = await oidcJoin(t, event.id, down);
    expect(codeOf(response)).toBe("TOKEN_INVALID");
    expect(response.errors![0].message).toMatch(/could not be fetched/);
    expect(await userCount(t, company.id)).toBe(users);
  });
});
