import type { LookupAddress } from "node:dns";
import { isIP } from "node:net";
import { codeOf, ok, startTestApp, TestApp, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent } from "../support/factories";
import { TestJwksServer } from "../support/jwks-server";
import { expectRefused } from "../join/join-helpers";
import {
  classifyAddress,
  guardedLookup,
  JWKS_UNAVAILABLE_MESSAGE,
  jwksFetch,
  refusedAddress,
} from "../../src/auth/external-tokens";
import {
  ADD_PROVIDER,
  addProvider,
  END_SESSION,
  fresh,
  nowSeconds,
  oidcJoin,
  syntheticJtiOf,
  userCount,
} from "./partner-helpers";

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
  (options.server ?? idp).sign(fresh(t, { iss: issuer, aud: AUDIENCE, sub: `oidc-${uid()}`, ...extra }), {
    kid: options.kid,
  });

/** The details of the "JWKS fetch failed" debug lines an app logged. */
const jwksFailures = (app: TestApp): string[] =>
  app.logs
    .flatMap((chunk) => chunk.split("\n"))
    .filter((line) => line.includes('"JWKS fetch failed"'))
    .map((line) => JSON.parse(line).detail as string);

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
    const added = await addProvider(t, company, {
      name: "Defaults",
      issuer: `https://login.example.test/${uid()}`,
      jwksUri: "https://login.example.test/jwks",
      audience: "x",
    });
    expect(added).toMatchObject({
      kind: "OIDC",
      algorithms: ["RS256", "ES256", "EdDSA"],
      claimMapping: { externalId: "sub", email: "email", name: "name" },
      jitEnabled: true,
      disabledAt: null,
    });
    const listed = ok(await t.gql(`query { company { identityProviders { id issuer } } }`, {}, { key: company.key }))
      .company.identityProviders;
    expect(listed.map((p: { id: string }) => p.id)).toContain(added.id);
  });

  it("refuses bad input with BAD_USER_INPUT and the field, and changes nothing", async () => {
    const base = {
      name: "Bad",
      issuer: `https://bad.example.test/${uid()}`,
      jwksUri: "https://bad.example.test/jwks",
      audience: "x",
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ jwksUri: "http://bad.example.test/jwks" }, "jwksUri"],
      [{ jwksUri: "ftp://bad.example.test/jwks" }, "jwksUri"],
      [{ jwksUri: "not a url" }, "jwksUri"],
      [{ jwksUri: "https://user:pass@bad.example.test/jwks" }, "jwksUri"],
      // Addresses inside a network, in any environment (loopback is allowed outside production).
      [{ jwksUri: "https://10.0.0.1/jwks" }, "jwksUri"],
      [{ jwksUri: "https://169.254.169.254/latest/jwks" }, "jwksUri"],
      [{ jwksUri: "https://[fd00::1]/jwks" }, "jwksUri"],
      [{ jwksUri: "https://[::ffff:192.168.0.1]/jwks" }, "jwksUri"],
      [{ jwksUri: "https://100.64.0.1/jwks" }, "jwksUri"],
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
      await expectRefused(
        t,
        () => t.gql(ADD_PROVIDER, { input: { ...base, ...override } }, { key: company.key }),
        "BAD_USER_INPUT",
        field,
      );
    }
    // PARTNER_KEYS needs no audience; a loopback http JWKS is fine outside production.
    await addProvider(t, company, {
      kind: "PARTNER_KEYS",
      name: "Keys",
      issuer: `partner-${uid()}`,
      jwksUri: "http://localhost:1/jwks",
    });
  });

  it("needs MANAGE_COMPANY", async () => {
    const reader = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "r", scopes: [READ_ANALYTICS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    const input = { name: "X", issuer: `https://x.test/${uid()}`, jwksUri: "https://x.test/jwks", audience: "x" };
    expect(codeOf(await t.gql(ADD_PROVIDER, { input }, { key: reader }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(ADD_PROVIDER, { input }))).toBe("UNAUTHENTICATED");
  });
});

describe("OIDC_ID_TOKEN", () => {
  it("an ID token of the registered provider joins, creating the user from the mapped claims", async () => {
    const sub = `oidc-${uid()}`;
    const joined = ok(
      await oidcJoin(t, event.id, await idToken({ sub, email: "Lin@Acme.test", email_verified: true, name: "Lin" })),
    ).joinEvent;
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
    await expectRefused(
      t,
      async () => oidcJoin(t, event.id, await idToken({ aud: [AUDIENCE, "other"] })),
      "TOKEN_INVALID",
    );
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
      [() => idToken({ email: "not-an-email", email_verified: true }), "TOKEN_INVALID"],
      [() => idToken({ exp: nowSeconds(t) - 60 }), "TOKEN_EXPIRED"],
      [() => idToken({ nbf: nowSeconds(t) + 120 }), "TOKEN_NOT_YET_VALID"],
      [async () => `${(await idToken()).slice(0, -4)}AAAA`, "TOKEN_INVALID"],
      [
        () =>
          idp.sign(fresh(t, { iss: issuer, aud: AUDIENCE, sub: `oidc-${uid()}` }), { header: { kid: "unknown-kid" } }),
        "TOKEN_INVALID",
      ],
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
      await addProvider(t, company, {
        name: "Pinned",
        issuer: pinned,
        jwksUri: other.jwksUri,
        audience: AUDIENCE,
        algorithms: ["ES256"],
      });
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

  it("the email is taken only when email_verified is the boolean true (else it could match an organizer list)", async () => {
    const board = await makeEvent(t, company, { organizers: [{ email: "ceo@acme.test" }] });
    // Absent, false, and strings or numbers that look like booleans: not verified.
    for (const claims of [
      {},
      { email_verified: false },
      { email_verified: "false" },
      { email_verified: "true" },
      { email_verified: 1 },
    ]) {
      const joined = ok(await oidcJoin(t, board.id, await idToken({ email: "CEO@acme.test", ...claims }))).joinEvent;
      expect({ claims, email: joined.session.user.email, role: joined.role }).toEqual({
        claims,
        email: null,
        role: "ATTENDEE",
      });
    }
    const verified = ok(
      await oidcJoin(t, board.id, await idToken({ email: "CEO@acme.test", email_verified: true })),
    ).joinEvent;
    expect(verified.session.user.email).toBe("CEO@acme.test");
    expect(verified.role).toBe("ORGANIZER");
  });

  it("an unverified email leaves an existing user's email as it is", async () => {
    const board = await makeEvent(t, company, { organizers: [{ email: "cfo@acme.test" }] });
    const sub = `oidc-${uid()}`;
    const first = ok(
      await oidcJoin(t, board.id, await idToken({ sub, email: "me@acme.test", email_verified: true })),
    ).joinEvent;
    expect(first.role).toBe("ATTENDEE");
    for (const claims of [{}, { email_verified: "false" }]) {
      const again = ok(
        await oidcJoin(t, board.id, await idToken({ sub, email: "cfo@acme.test", ...claims })),
      ).joinEvent;
      expect(again.session.user).toMatchObject({ id: first.session.user.id, email: "me@acme.test" });
      expect(again.role).toBe("ATTENDEE");
    }
  });

  it("an ID token without jti: a ban refuses that very token; another token of the user still joins", async () => {
    const sub = `ban-${uid()}`;
    const token = await idToken({ sub });
    const joined = ok(await oidcJoin(t, event.id, token)).joinEvent;
    const [row] = await t.db.dataSource.query(`SELECT credential_jti FROM sessions WHERE id = $1`, [joined.session.id]);
    expect(row.credential_jti).toBe(syntheticJtiOf(token));
    ok(await t.gql(END_SESSION, { id: joined.session.id, ban: true }, { key: company.key }));
    await expectRefused(t, () => oidcJoin(t, event.id, token), "TOKEN_REVOKED");
    const other = ok(await oidcJoin(t, event.id, await idToken({ sub, nonce: uid() }))).joinEvent;
    expect(other.session.user.id).toBe(joined.session.user.id);
  });

  it("a custom claim mapping (a mapped email claim is never taken: email_verified speaks of email only)", async () => {
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
      const board = await makeEvent(t, company, { organizers: [{ email: "emp@acme.test" }] });
      const claims = {
        iss: mapped,
        aud: AUDIENCE,
        sub: "ignored",
        employee_id: 4711,
        mail: "emp@acme.test",
        email_verified: true,
        display_name: "Emp",
      };
      const joined = ok(await oidcJoin(t, board.id, await server.sign(fresh(t, claims)))).joinEvent;
      expect(joined.session.user).toMatchObject({ externalId: "4711", email: null, name: "Emp" });
      expect(joined.role).toBe("ATTENDEE");
    } finally {
      await server.stop();
    }
  });

  it("jitEnabled false: only existing users, by external id", async () => {
    const server = await TestJwksServer.start();
    try {
      const strict = `${server.baseUrl}/strict`;
      await addProvider(t, company, {
        name: "Strict",
        issuer: strict,
        jwksUri: server.jwksUri,
        audience: AUDIENCE,
        jitEnabled: false,
      });
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
      const provider = await addProvider(t, company, {
        name: "Removable",
        issuer: removable,
        jwksUri: server.jwksUri,
        audience: AUDIENCE,
      });
      const token = () => server.sign(fresh(t, { iss: removable, aud: AUDIENCE, sub: `rm-${uid()}` }));
      ok(await oidcJoin(t, event.id, await token()));
      const removed = ok(
        await t.gql(
          `mutation($id: ID!) { removeIdentityProvider(id: $id) { id disabledAt } }`,
          { id: provider.id },
          { key: company.key },
        ),
      );
      expect(removed.removeIdentityProvider.disabledAt).not.toBeNull();
      const refused = await token();
      await expectRefused(t, () => oidcJoin(t, event.id, refused), "TOKEN_INVALID");
      const again = await addProvider(t, company, {
        name: "Back",
        issuer: removable,
        jwksUri: server.jwksUri,
        audience: AUDIENCE,
      });
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
      await addProvider(t, company, {
        name: "Rotating",
        issuer: rotating,
        jwksUri: server.jwksUri,
        audience: AUDIENCE,
      });
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
      await addProvider(t, company, {
        name: "Dropping",
        issuer: dropping,
        jwksUri: server.jwksUri,
        audience: AUDIENCE,
      });
      const oldToken = await server.sign(fresh(t, { iss: dropping, aud: AUDIENCE, sub: `old-${uid()}` }));
      await server.rotate();
      const newToken = await server.sign(fresh(t, { iss: dropping, aud: AUDIENCE, sub: `new-${uid()}` }));
      ok(await oidcJoin(t, event.id, newToken));
      await expectRefused(t, () => afterCooldown(() => oidcJoin(t, event.id, oldToken)), "TOKEN_INVALID");
    } finally {
      await server.stop();
    }
  });

  it("a provider that is down, failing, too slow, redirecting or serving junk is TOKEN_INVALID with one message (no port-scan oracle), never INTERNAL", async () => {
    const server = await TestJwksServer.start();
    const tokenFor = async (name: string) => {
      const iss = `${server.baseUrl}/${name}`;
      await addProvider(t, company, { name, issuer: iss, jwksUri: server.jwksUri, audience: AUDIENCE });
      return server.sign(fresh(t, { iss, aud: AUDIENCE, sub: `${name}-${uid()}` }));
    };
    const modes = ["error", "junk", "redirect", "huge", "hang"] as const;
    const tokens = new Map<string, string>();
    for (const mode of [...modes, "down"]) tokens.set(mode, await tokenFor(mode));
    const users = await userCount(t, company.id);
    const messages = new Set<string>();

    for (const mode of modes) {
      server.mode = mode;
      const started = Date.now();
      const response = await oidcJoin(t, event.id, tokens.get(mode)!);
      expect({ mode, code: codeOf(response) }).toEqual({ mode, code: "TOKEN_INVALID" });
      messages.add(response.errors![0].message);
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    await server.stop();
    const response = await oidcJoin(t, event.id, tokens.get("down")!);
    expect(codeOf(response)).toBe("TOKEN_INVALID");
    messages.add(response.errors![0].message);

    expect([...messages]).toEqual([JWKS_UNAVAILABLE_MESSAGE]);
    // The reason is in the debug log (for the operator), without the token.
    const details = jwksFailures(t).join("\n");
    for (const reason of [/HTTP 500/, /HTTP 302/, /JSON/, /too large/, /abandoned/, /ECONNREFUSED/])
      expect(details).toMatch(reason);
    expect(t.logs.join("\n")).not.toContain(tokens.get("down")!.split(".")[2]);
    expect(await userCount(t, company.id)).toBe(users);
  });
});

// -------------------------------------------------------------------------------------------------
// SSRF: the JWKS host may only resolve to public addresses (loopback too outside production).

describe("JWKS fetches cannot reach the inside of the network", () => {
  it("classifies addresses, IPv4-mapped and other embedding forms by the address they carry", () => {
    const table: [string, string][] = [
      ["8.8.8.8", "public"],
      ["172.15.255.255", "public"],
      ["172.32.0.1", "public"],
      ["100.63.255.255", "public"],
      ["100.128.0.1", "public"],
      ["192.169.0.1", "public"],
      ["127.0.0.1", "loopback"],
      ["127.255.255.254", "loopback"],
      ["10.0.0.1", "private"],
      ["172.16.0.1", "private"],
      ["172.31.255.255", "private"],
      ["192.168.1.1", "private"],
      ["169.254.169.254", "link-local"],
      ["100.64.0.1", "shared"],
      ["100.127.255.255", "shared"],
      ["0.0.0.0", "unspecified"],
      ["0.1.2.3", "unspecified"],
      ["224.0.0.1", "multicast"],
      ["239.255.255.255", "multicast"],
      ["240.0.0.1", "reserved"],
      ["255.255.255.255", "reserved"],
      ["::", "unspecified"],
      ["::1", "loopback"],
      ["0:0:0:0:0:0:0:1", "loopback"],
      ["::ffff:127.0.0.1", "loopback"],
      ["::ffff:7f00:1", "loopback"],
      ["::ffff:10.1.2.3", "private"],
      ["0:0:0:0:0:ffff:c0a8:0101", "private"],
      ["::ffff:169.254.169.254", "link-local"],
      ["::ffff:100.64.0.1", "shared"],
      ["::ffff:8.8.8.8", "public"],
      ["::10.0.0.1", "reserved"],
      ["::ffff:0:10.0.0.1", "reserved"],
      ["64:ff9b::a00:1", "nat64"],
      ["64:ff9b::8.8.8.8", "nat64"],
      ["64:ff9b:1::1", "nat64"],
      ["fc00::1", "unique-local"],
      ["fd12:3456::1", "unique-local"],
      ["fe80::1", "link-local"],
      ["febf::1", "link-local"],
      ["fec0::1", "private"],
      ["ff02::1", "multicast"],
      ["2002:7f00:1::1", "loopback"],
      ["2002:a00:1::1", "private"],
      ["2002:808:808::1", "public"],
      ["2001:db8::1", "reserved"],
      ["2606:4700:4700::1111", "public"],
      ["2001:4860:4860::8888", "public"],
      ["localhost", "invalid"],
      ["idp.example.test", "invalid"],
    ];
    expect(table.map(([address]) => [address, classifyAddress(address)])).toEqual(table);
    // Loopback only when the policy allows it; the rest never.
    expect(refusedAddress("127.0.0.1", { allowLoopback: true })).toBeNull();
    expect(refusedAddress("::ffff:127.0.0.1", { allowLoopback: true })).toBeNull();
    expect(refusedAddress("127.0.0.1", { allowLoopback: false })).toBe("loopback address");
    expect(refusedAddress("10.0.0.1", { allowLoopback: true })).toBe("private address");
    expect(refusedAddress("8.8.8.8", { allowLoopback: false })).toBeNull();
  });

  /** A resolver that answers from a table (no DNS), for guardedLookup and jwksFetch. */
  const fakeResolver =
    (answers: Record<string, string[]>) =>
    async (hostname: string): Promise<LookupAddress[]> =>
      (answers[hostname] ?? []).map((address) => ({ address, family: isIP(address) }));
  const answers = {
    "public.test": ["93.184.216.34", "2606:2800:220:1::1"],
    "internal.test": ["10.0.0.5"],
    "mixed.test": ["93.184.216.34", "192.168.0.7"],
    "loop.test": ["127.0.0.1"],
    "mapped.test": ["::ffff:172.20.0.1"],
    "metadata.test": ["169.254.169.254"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],
  };

  it("the lookup refuses a host when any of its addresses is refused", async () => {
    const run = (hostname: string, allowLoopback: boolean, all = true) =>
      new Promise<{ error: string | null; address: unknown }>((resolve) =>
        guardedLookup({ allowLoopback }, fakeResolver(answers))(hostname, { all }, (error, address) =>
          resolve({ error: error?.message ?? null, address }),
        ),
      );
    expect(await run("public.test", false)).toEqual({
      error: null,
      address: [
        { address: "93.184.216.34", family: 4 },
        { address: "2606:2800:220:1::1", family: 6 },
      ],
    });
    expect(await run("public.test", false, false)).toEqual({ error: null, address: "93.184.216.34" });
    expect((await run("loop.test", true)).error).toBeNull();
    for (const [hostname, allowLoopback] of [
      ["internal.test", true],
      ["mixed.test", true],
      ["mapped.test", true],
      ["metadata.test", true],
      ["nat64.test", true],
      ["loop.test", false],
      ["unknown.test", true],
    ] as const) {
      const result = await run(hostname, allowLoopback);
      expect({ hostname, refused: result.error !== null }).toEqual({ hostname, refused: true });
    }
  });

  it("the fetch connects only to the addresses it checked", async () => {
    const server = await TestJwksServer.start();
    try {
      const port = new URL(server.baseUrl).port;
      const get = (host: string, allowLoopback: boolean, resolve: Record<string, string[]>) =>
        jwksFetch({ allowLoopback }, fakeResolver(resolve))(`http://${host}:${port}/jwks.json`, {
          method: "GET",
          headers: new Headers({ accept: "application/json" }),
          redirect: "manual",
          signal: AbortSignal.timeout(3_000),
        });
      // A name that resolves to loopback reaches the test JWKS when loopback is allowed...
      const response = await get("idp.partner.test", true, { "idp.partner.test": ["127.0.0.1"] });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { keys: unknown[] }).keys).toHaveLength(1);
      expect(server.fetches).toBe(1);
      // ...and is refused, before any connection, when it is not (production), as are private addresses always.
      await expect(get("idp.partner.test", false, { "idp.partner.test": ["127.0.0.1"] })).rejects.toThrow(
        /loopback address/,
      );
      await expect(get("idp.partner.test", true, { "idp.partner.test": ["10.1.2.3"] })).rejects.toThrow(
        /private address/,
      );
      await expect(get("127.0.0.1", false, {})).rejects.toThrow(/loopback address/);
      await expect(get("[::ffff:127.0.0.1]", false, {})).rejects.toThrow(/loopback address/);
      await expect(get("169.254.169.254", true, {})).rejects.toThrow(/link-local address/);
      // https resolves through the same lookup.
      const secure = jwksFetch({ allowLoopback: true }, fakeResolver({ "idp.partner.test": ["10.1.2.3"] }));
      const init = {
        method: "GET" as const,
        headers: new Headers(),
        redirect: "manual" as const,
        signal: AbortSignal.timeout(3_000),
      };
      await expect(secure(`https://idp.partner.test:${port}/jwks.json`, init)).rejects.toThrow(/private address/);
      expect(server.fetches).toBe(1);
    } finally {
      await server.stop();
    }
  });

  describe("in production", () => {
    let prod: TestApp;
    let server: TestJwksServer;
    beforeAll(async () => {
      prod = await startTestApp({ nodeEnv: "production" });
      server = await TestJwksServer.start();
    });
    afterAll(async () => {
      await server?.stop();
      await prod?.close();
    });

    it("loopback hosts are refused at registration, with or without the final dot", async () => {
      const owner = await makeCompany(prod);
      for (const jwksUri of [
        "https://localhost/jwks",
        "https://localhost./jwks",
        "https://LOCALHOST./jwks",
        "https://idp.localhost/jwks",
        "https://127.0.0.1/jwks",
        "https://[::1]/jwks",
        "https://[::ffff:127.0.0.1]/jwks",
        "https://10.0.0.1/jwks",
        `${server.jwksUri}`,
      ]) {
        const input = { kind: "PARTNER_KEYS", name: "Local", issuer: `https://local-${uid()}.test`, jwksUri };
        await expectRefused(
          prod,
          () => prod.gql(ADD_PROVIDER, { input }, { key: owner.key }),
          "BAD_USER_INPUT",
          "jwksUri",
        );
      }
    });

    it("a JWKS host that resolves to a loopback address is refused at the fetch, with the one generic message", async () => {
      const owner = await makeCompany(prod);
      const ownEvent = await makeEvent(prod, owner);
      const iss = `https://idp-${uid()}.example.test`;
      const provider = ok(
        await prod.gql(
          ADD_PROVIDER,
          { input: { name: "Rebound", issuer: iss, jwksUri: "https://jwks.partner.example/keys", audience: AUDIENCE } },
          { key: owner.key },
        ),
      ).addIdentityProvider;
      // The registered name now resolves to loopback (DNS changed, or rebinding): the host name
      // "localhost" stands for it here, on the port of a JWKS that would verify the token.
      await prod.db.dataSource.query(`UPDATE identity_providers SET jwks_uri = $1 WHERE id = $2`, [
        `http://localhost:${new URL(server.baseUrl).port}/jwks.json`,
        provider.id,
      ]);
      const token = await server.sign(fresh(prod, { iss, aud: AUDIENCE, sub: `rb-${uid()}` }));
      const response = await expectRefused(
        prod,
        () =>
          prod.gql(`mutation($input: JoinEventInput!) { joinEvent(input: $input) { role } }`, {
            input: { event: ownEvent.id, credential: token, credentialType: "OIDC_ID_TOKEN" },
          }),
        "TOKEN_INVALID",
      );
      expect(response.errors![0].message).toBe(JWKS_UNAVAILABLE_MESSAGE);
      expect(server.fetches).toBe(0);
      expect(jwksFailures(prod)).toEqual([expect.stringMatching(/resolves to a loopback address/)]);
    });
  });
});
