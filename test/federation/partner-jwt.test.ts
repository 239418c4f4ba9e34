import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent } from "../support/factories";
import { TestJwksServer } from "../support/jwks-server";
import { expectRefused, joinRaw } from "../join/join-helpers";
import {
  addProvider,
  companyIssuer,
  createSecret,
  CREATE_SECRET,
  END_SESSION,
  fresh,
  nowSeconds,
  PartnerSecret,
  partnerJoin,
  REVOKE_SECRET,
  seatsUsed,
  signPartner,
  signRawHs256,
  syntheticJtiOf,
  unsigned,
  userCount,
} from "./partner-helpers";

const t = useTestApp();
let company: TestCompany;
let event: TestEvent;
let secret: PartnerSecret;

beforeAll(async () => {
  company = await makeCompany(t);
  event = await makeEvent(t, company);
  secret = await createSecret(t, company);
});

const uid = () => Math.random().toString(36).slice(2, 10);

describe("partner secrets", () => {
  it("are 256 random bits shown once, listed without the secret, and stored encrypted", async () => {
    const created = ok(
      await t.gql(CREATE_SECRET, { input: { name: "  CRM  " } }, { key: company.key }),
    ).createPartnerSecret;
    expect(created.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(created.partnerSecret).toMatchObject({ name: "CRM", lastUsedAt: null, revokedAt: null });

    // Used once, so that every field is filled in.
    const token = await signPartner(
      { id: created.partnerSecret.id, secret: created.secret },
      fresh(t, { user: { id: `crm-${uid()}` } }),
    );
    ok(await partnerJoin(t, event.id, token));

    const listed = await t.gql(
      `query { company { partnerSecrets { id name createdAt lastUsedAt revokedAt } } }`,
      {},
      { key: company.key },
    );
    const mine = ok(listed).company.partnerSecrets.find((s: { id: string }) => s.id === created.partnerSecret.id);
    expect(mine).toMatchObject({ name: "CRM", revokedAt: null });
    expect(mine.lastUsedAt).not.toBeNull();
    const revoked = await t.gql(REVOKE_SECRET, { id: created.partnerSecret.id }, { key: company.key });
    for (const response of [listed, revoked]) expect(JSON.stringify(response)).not.toContain(created.secret);

    const [row] = await t.db.dataSource.query(`SELECT to_jsonb(p) AS row FROM partner_secrets p WHERE id = $1`, [
      created.partnerSecret.id,
    ]);
    expect(JSON.stringify(row.row)).not.toContain(created.secret);
    expect(row.row.secret_encrypted).toMatch(/^v1\./);
    expect(t.logs.join("\n")).not.toContain(created.secret);
  });

  it("need MANAGE_COMPANY", async () => {
    const minter = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "mint", scopes: [MINT_TOKENS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    expect(codeOf(await t.gql(CREATE_SECRET, { input: { name: "x" } }, { key: minter }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(`query { company { partnerSecrets { id } } }`, {}, { key: minter }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(CREATE_SECRET, { input: { name: " " } }, { key: company.key }))).toBe("BAD_USER_INPUT");
  });

  it("several can be active at once; a revoked one stops verifying, the others go on", async () => {
    const a = await createSecret(t, company, "a");
    const b = await createSecret(t, company, "b");
    ok(await partnerJoin(t, event.id, await signPartner(a, fresh(t, { user: { id: `a-${uid()}` } }))));
    ok(await partnerJoin(t, event.id, await signPartner(b, fresh(t, { user: { id: `b-${uid()}` } }))));

    const revoked = ok(await t.gql(REVOKE_SECRET, { id: a.id }, { key: company.key })).revokePartnerSecret;
    expect(revoked.revokedAt).not.toBeNull();
    // Idempotent: the first revocation time stays.
    t.clock.advance(5);
    expect(ok(await t.gql(REVOKE_SECRET, { id: a.id }, { key: company.key })).revokePartnerSecret.revokedAt).toBe(
      revoked.revokedAt,
    );

    const withRevoked = await signPartner(a, fresh(t, { user: { id: `a-${uid()}` } }));
    await expectRefused(t, () => partnerJoin(t, event.id, withRevoked), "TOKEN_INVALID");
    ok(await partnerJoin(t, event.id, await signPartner(b, fresh(t, { user: { id: `b-${uid()}` } }))));

    const other = await makeCompany(t);
    expect(codeOf(await t.gql(REVOKE_SECRET, { id: b.id }, { key: other.key }))).toBe("NOT_FOUND");
    expect(codeOf(await t.gql(REVOKE_SECRET, { id: "nope" }, { key: company.key }))).toBe("NOT_FOUND");
  });

  it("lastUsedAt moves at most once a minute", async () => {
    const s = await createSecret(t, company, "clock");
    const lastUsed = async () =>
      (await t.db.dataSource.query(`SELECT last_used_at FROM partner_secrets WHERE id = $1`, [s.id]))[0].last_used_at;
    expect(await lastUsed()).toBeNull();
    ok(await partnerJoin(t, event.id, await signPartner(s, fresh(t, { user: { id: `c-${uid()}` } }))));
    const first = await lastUsed();
    expect(first).not.toBeNull();
    t.clock.advance(30);
    ok(await partnerJoin(t, event.id, await signPartner(s, fresh(t, { user: { id: `c-${uid()}` } }))));
    expect(await lastUsed()).toEqual(first);
    t.clock.advance(31);
    ok(await partnerJoin(t, event.id, await signPartner(s, fresh(t, { user: { id: `c-${uid()}` } }))));
    expect((await lastUsed()).getTime()).toBeGreaterThan(first.getTime());
  });
});

describe("payload shapes", () => {
  it("{ user } creates the user just in time, with the extra keys as metadata, and refreshes it later", async () => {
    const id = `jit-${uid()}`;
    const seats = await seatsUsed(t, company);
    const token = await signPartner(
      secret,
      fresh(t, {
        jti: `jti-${uid()}`,
        role: "admin",
        metadata: { cohort: "beta" },
        user: {
          id,
          email: "Ada@Example.test",
          name: "Ada",
          avatarUrl: "https://cdn.example.test/ada.png",
          plan: "pro",
          team: { id: 7 },
        },
      }),
    );
    const joined = ok(await partnerJoin(t, event.id, token)).joinEvent;
    expect(joined.role).toBe("ORGANIZER");
    expect(joined.session).toMatchObject({
      credentialType: "PARTNER_JWT",
      metadata: { cohort: "beta" },
      user: {
        externalId: id,
        email: "Ada@Example.test",
        name: "Ada",
        avatarUrl: "https://cdn.example.test/ada.png",
        isGuest: false,
        metadata: { plan: "pro", team: { id: 7 } },
      },
    });
    expect(await seatsUsed(t, company)).toBe(seats + 1);

    // Same user, new name: refreshed, no new seat; absent fields are left as they were.
    const again = ok(
      await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { user: { id, name: "Ada L." } }))),
    ).joinEvent;
    expect(again.session.user).toMatchObject({
      id: joined.session.user.id,
      name: "Ada L.",
      email: "Ada@Example.test",
      metadata: { plan: "pro", team: { id: 7 } },
    });
    expect(again.role).toBe("ATTENDEE");
    expect(await seatsUsed(t, company)).toBe(seats + 1);
  });

  it("{ user } takes a numeric id, and sub as the id when user.id is absent", async () => {
    const numeric = Math.floor(Math.random() * 1e9);
    const a = ok(
      await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { user: { id: numeric } }))),
    ).joinEvent;
    expect(a.session.user.externalId).toBe(String(numeric));
    const id = `sub-${uid()}`;
    const b = ok(
      await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { sub: id, user: { name: "Bo" } }))),
    ).joinEvent;
    expect(b.session.user).toMatchObject({ externalId: id, name: "Bo" });
  });

  it("{ sub } and { email } name existing users; sub wins; unknown users are INVALID_CREDENTIALS", async () => {
    const email = `grace-${uid()}@example.test`;
    const older = await makeUser(t, company, { email, name: "Grace" });
    t.clock.advance(1);
    await makeUser(t, company, { email: email.toUpperCase() });
    const other = await makeUser(t, company, { email: `other-${uid()}@example.test` });

    const bySub = ok(
      await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { sub: other.externalId }))),
    ).joinEvent;
    expect(bySub.session.userId).toBe(other.id);
    // Case-insensitive, the oldest user with the email.
    const byEmail = ok(
      await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { email: email.toUpperCase() }))),
    ).joinEvent;
    expect(byEmail.session.userId).toBe(older.id);
    expect(byEmail.session.user.name).toBe("Grace");
    const both = ok(
      await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { sub: other.externalId, email }))),
    ).joinEvent;
    expect(both.session.userId).toBe(other.id);

    for (const claims of [
      { sub: `ghost-${uid()}` },
      { email: `ghost-${uid()}@example.test` },
      { sub: `ghost-${uid()}`, email },
    ]) {
      const token = await signPartner(secret, fresh(t, claims));
      await expectRefused(t, () => partnerJoin(t, event.id, token), "INVALID_CREDENTIALS");
    }
  });

  it("{ email } never matches a guest", async () => {
    const email = `guest-${uid()}@example.test`;
    const publicEvent = await makeEvent(t, company, { privacy: "PUBLIC" });
    ok(await joinRaw(t, { event: publicEvent.id, displayName: "Guest" }));
    await t.db.dataSource.query(
      `UPDATE users SET email = $1, email_normalized = $1 WHERE company_id = $2 AND is_guest AND email IS NULL`,
      [email, company.id],
    );
    const token = await signPartner(secret, fresh(t, { email }));
    await expectRefused(t, () => partnerJoin(t, event.id, token), "INVALID_CREDENTIALS");
  });

  it("without a jti: a ban refuses that very token (by its synthetic jti); another token of the user still joins", async () => {
    const id = `ban-${uid()}`;
    const token = await signPartner(secret, fresh(t, { user: { id } }));
    const joined = ok(await partnerJoin(t, event.id, token)).joinEvent;
    const [row] = await t.db.dataSource.query(`SELECT credential_jti FROM sessions WHERE id = $1`, [joined.session.id]);
    expect(row.credential_jti).toBe(syntheticJtiOf(token));
    expect(row.credential_jti).toHaveLength(71);
    expect(
      ok(await t.gql(END_SESSION, { id: joined.session.id, ban: true }, { key: company.key })).endSession,
    ).toMatchObject({ active: false, endReason: "KICKED" });
    await expectRefused(t, () => partnerJoin(t, event.id, token), "TOKEN_REVOKED");
    // The user is not banned, the token is: a new token (same claims, a later iat) lets them in.
    t.clock.advance(1);
    const again = ok(await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { user: { id } })))).joinEvent;
    expect(again.session.userId).toBe(joined.session.userId);
  });

  it("a ban of a voice-SDK ticket without vxi or jti refuses that ticket", async () => {
    const claims = fresh(t, {
      iss: "acme-voice-ban",
      vxa: "join",
      f: `sip:.acme-voice-ban.vx${uid()}.@voice.test`,
      t: `sip:confctl-g-acme-voice-ban.${event.slug}@voice.test`,
    });
    const token = await signPartner(secret, claims);
    const joined = ok(await partnerJoin(t, event.id, token)).joinEvent;
    ok(await t.gql(END_SESSION, { id: joined.session.id, ban: true }, { key: company.key }));
    await expectRefused(t, () => partnerJoin(t, event.id, token), "TOKEN_REVOKED");
  });

  it("a jti is kept on the session: revokeToken refuses the token afterwards", async () => {
    const jti = `revocable-${uid()}`;
    const token = await signPartner(secret, fresh(t, { jti, user: { id: `r-${uid()}` } }));
    ok(await partnerJoin(t, event.id, token));
    ok(await t.gql(`mutation($jti: ID!) { revokeToken(jti: $jti) }`, { jti }, { key: company.key }));
    await expectRefused(t, () => partnerJoin(t, event.id, token), "TOKEN_REVOKED");
  });
});

describe("refusals change nothing", () => {
  const refuse = async (token: string, code: string = "TOKEN_INVALID", eventRef: string = event.id) => {
    const response = await expectRefused(t, () => partnerJoin(t, eventRef, token), code);
    expect(JSON.stringify(response.errors)).not.toContain("INTERNAL");
  };
  const user = () => ({ user: { id: `refused-${uid()}` } });

  it("missing exp, alg none, wrong secret (with or without kid), HS512, HS384, exp beyond the company's 7 days", async () => {
    const { exp: _exp, ...noExp } = fresh(t, user());
    await refuse(await signPartner(secret, noExp));
    await refuse(unsigned(fresh(t, user()), { alg: "none", kid: secret.id, typ: "JWT" }));
    await refuse(await signPartner({ id: secret.id, secret: "A".repeat(43) }, fresh(t, user())));
    await refuse(await signPartner({ id: secret.id, secret: "A".repeat(43) }, fresh(t, user()), { omitKid: true }));
    await refuse(await signPartner(secret, fresh(t, user()), { alg: "HS512" }));
    await refuse(await signPartner(secret, fresh(t, user()), { alg: "HS384" }));
    await refuse(await signPartner(secret, { ...fresh(t, user()), exp: nowSeconds(t) + 7 * 86_400 + 120 }));
    // Just inside 7 days is fine, and so is a token without kid (every active secret is tried).
    ok(
      await partnerJoin(
        t,
        event.id,
        await signPartner(secret, { ...fresh(t, user()), exp: nowSeconds(t) + 7 * 86_400 }),
      ),
    );
    ok(await partnerJoin(t, event.id, await signPartner(secret, fresh(t, user()), { omitKid: true })));
  });

  it("a kid of another company, or one that exists nowhere", async () => {
    const other = await makeCompany(t);
    const theirs = await createSecret(t, other);
    await refuse(await signPartner(theirs, fresh(t, user())));
    await refuse(
      await signPartner({ id: "00000000-0000-4000-8000-000000000000", secret: secret.secret }, fresh(t, user())),
    );
    await refuse(await signPartner({ id: "not-a-uuid", secret: secret.secret }, fresh(t, user())));
    // Their secret does open their own events.
    ok(await partnerJoin(t, (await makeEvent(t, other)).id, await signPartner(theirs, fresh(t, user()))));
  });

  it("headers that pick keys or add rules: jku, x5u, jwk, x5c, crit", async () => {
    // The same hand-made token without them is accepted.
    ok(
      await partnerJoin(
        t,
        event.id,
        signRawHs256(secret, { alg: "HS256", typ: "JWT", kid: secret.id }, fresh(t, user())),
      ),
    );
    for (const header of [
      { jku: "https://evil.test/jwks" },
      { x5u: "https://evil.test/cert" },
      { jwk: { kty: "oct", k: "AAAA" } },
      { x5c: ["AAAA"] },
      { crit: ["exp"] },
    ]) {
      await refuse(signRawHs256(secret, { alg: "HS256", typ: "JWT", kid: secret.id, ...header }, fresh(t, user())));
    }
  });

  it("expired, not yet valid (beyond the 30 s skew), and within the skew", async () => {
    await refuse(await signPartner(secret, { ...fresh(t, user()), exp: nowSeconds(t) - 31 }), "TOKEN_EXPIRED");
    await refuse(await signPartner(secret, { ...fresh(t, user()), nbf: nowSeconds(t) + 60 }), "TOKEN_NOT_YET_VALID");
    ok(await partnerJoin(t, event.id, await signPartner(secret, { ...fresh(t, user()), nbf: nowSeconds(t) + 20 })));
  });

  it("claims of the wrong type or shape are TOKEN_INVALID, never INTERNAL", async () => {
    const bad: Record<string, unknown>[] = [
      { exp: "tomorrow" },
      { exp: nowSeconds(t) + 60, iat: "now" },
      { iat: nowSeconds(t) + 3600 },
      { user: "ada" },
      { user: { id: `x-${uid()}`, email: "not an email" } },
      { user: { id: `x-${uid()}`, email: 42 } },
      { user: { id: `x-${uid()}`, avatarUrl: "javascript:alert(1)" } },
      { user: { id: `x-${uid()}`, name: "x".repeat(201) } },
      { user: { id: `x-${uid()}`, metadata: [1, 2] } },
      { user: { id: { nested: true } } },
      { user: { id: "x\u0000y" } },
      { user: { name: "no id" } },
      { sub: "a", user: { id: "b" } },
      { sub: 42.5 },
      { sub: ["a"] },
      { email: "nobody" },
      { email: 7 },
      {},
      { ...user(), role: "king" },
      { ...user(), role: 3 },
      { ...user(), metadata: "x" },
      { ...user(), metadata: { blob: "x".repeat(1000) } },
      { ...user(), jti: 12 },
      { ...user(), jti: "j".repeat(129) },
    ];
    for (const claims of bad) await refuse(await signPartner(secret, { ...fresh(t, {}), ...claims }));
  });

  it("junk that is not a JWT at all", async () => {
    for (const junk of ["x", "a.b.c", "a.b", `${"e".repeat(9000)}`, "eyJhbGciOiJIUzI1NiJ9.e30.%%%"]) await refuse(junk);
    expect(
      codeOf(
        await t.gql(`mutation { joinEvent(input: { event: "${event.id}", credentialType: PARTNER_JWT }) { role } }`),
      ),
    ).toBe("BAD_USER_INPUT");
  });

  it("nothing is created by a refused token", async () => {
    const before = await userCount(t, company.id);
    const { exp: _exp, ...noExp } = fresh(t, user());
    expect(codeOf(await partnerJoin(t, event.id, await signPartner(secret, noExp)))).toBe("TOKEN_INVALID");
    expect(await userCount(t, company.id)).toBe(before);
  });
});

describe("aud of an HS256 partner JWT", () => {
  const user = () => ({ user: { id: `aud-${uid()}` } });

  it("absent, the company's issuer, or an array holding only it: accepted", async () => {
    ok(await partnerJoin(t, event.id, await signPartner(secret, fresh(t, user()))));
    ok(await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { ...user(), aud: companyIssuer(company) }))));
    ok(
      await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { ...user(), aud: [companyIssuer(company)] }))),
    );
    // Other audiences beside ours only with azp naming us (as for the partner's own keys).
    const shared = [companyIssuer(company), "https://some-other-service.example"];
    ok(
      await partnerJoin(
        t,
        event.id,
        await signPartner(secret, fresh(t, { ...user(), aud: shared, azp: companyIssuer(company) })),
      ),
    );
  });

  it("another service, another company's issuer, or anything but ours: TOKEN_INVALID, and nothing is created", async () => {
    const other = await makeCompany(t);
    for (const aud of [
      "https://some-other-service.example",
      companyIssuer(other),
      `${companyIssuer(company)}/`,
      ["https://some-other-service.example"],
      [companyIssuer(company), "https://some-other-service.example"],
      [],
      "",
      null,
      42,
    ]) {
      const users = await userCount(t, company.id);
      const response = await expectRefused(t, () => partnerJoin(t, event.id, signPartnerWithAud(aud)), "TOKEN_INVALID");
      expect(response.errors?.[0]?.message).toBe("The token is meant for another audience.");
      expect(await userCount(t, company.id)).toBe(users);
    }
  });

  // jose will not sign an aud of the wrong type: these are signed by hand.
  const signPartnerWithAud = (aud: unknown) =>
    signRawHs256(secret, { alg: "HS256", typ: "JWT", kid: secret.id }, fresh(t, { ...user(), aud }));
});

/**
 * A voice-SDK ticket (Vivox access-token claims), signed with a partner secret:
 * `f` names the user, `t` the channel, which must be the event's slug.
 */
describe("voice-SDK tickets", () => {
  const issuer = "acme-voice-dev";
  const domain = "mt1s.vivox.com";
  const ticket = (userId: string, channel: string, extra: Record<string, unknown> = {}) =>
    fresh(t, {
      iss: issuer,
      vxa: "join",
      vxi: Math.floor(Math.random() * 1e9),
      f: `sip:.${issuer}.${userId}.@${domain}`,
      t: `sip:confctl-g-${issuer}.${channel}@${domain}`,
      ...extra,
    });

  it("joins the user of f to the event named by t, creating it just in time", async () => {
    const userId = `vx${uid()}`;
    const claims = ticket(userId, event.slug);
    const joined = ok(await partnerJoin(t, event.id, await signPartner(secret, claims))).joinEvent;
    expect(joined.session.user).toMatchObject({ externalId: userId, isGuest: false });
    expect(joined.session.credentialType).toBe("PARTNER_JWT");
    const [row] = await t.db.dataSource.query(`SELECT credential_jti FROM sessions WHERE id = $1`, [joined.session.id]);
    expect(row.credential_jti).toBe(`vxi:${issuer}:${claims.vxi as number}`);
    // The same user again: found, not created twice.
    const again = ok(await partnerJoin(t, event.slug, await signPartner(secret, ticket(userId, event.slug)))).joinEvent;
    expect(again.session.userId).toBe(joined.session.userId);
  });

  it("a ticket for another channel is TOKEN_WRONG_EVENT", async () => {
    const other = await makeEvent(t, company);
    const token = await signPartner(secret, ticket(`vx${uid()}`, other.slug));
    await expectRefused(t, () => partnerJoin(t, event.id, token), "TOKEN_WRONG_EVENT");
  });

  it("only join tickets, with f and t of the ticket's issuer", async () => {
    const refusals: Record<string, unknown>[] = [
      ticket(`vx${uid()}`, event.slug, { vxa: "kick" }),
      ticket(`vx${uid()}`, event.slug, { vxa: "login" }),
      ticket(`vx${uid()}`, event.slug, { iss: "someone-else" }),
      ticket(`vx${uid()}`, event.slug, { f: `sip:${uid()}@${domain}` }),
      ticket(`vx${uid()}`, event.slug, { t: `sip:confctl-g-other.${event.slug}@${domain}` }),
      ticket(`vx${uid()}`, event.slug, { t: `sip:confctl-g-${issuer}.${event.slug}@elsewhere.test` }),
      ticket(`vx${uid()}`, event.slug, { vxi: "1" }),
      ticket(`vx${uid()}`, event.slug, { f: 7 }),
    ];
    const { iss: _iss, ...noIss } = ticket(`vx${uid()}`, event.slug);
    refusals.push(noIss);
    for (const claims of refusals) {
      const token = await signPartner(secret, claims);
      await expectRefused(t, () => partnerJoin(t, event.id, token), "TOKEN_INVALID");
    }
  });
});

describe("asymmetric partner keys (PARTNER_KEYS)", () => {
  let idp: TestJwksServer;
  let esKid: string;
  let edKid: string;
  let rsKid: string;
  const issuer = `https://partner-${uid()}.example.test`;
  beforeAll(async () => {
    idp = await TestJwksServer.start("ES256");
    esKid = idp.key().kid;
    // Published before the first fetch: an unknown kid refetches only after a 30 s cooldown.
    edKid = await idp.addKey("EdDSA");
    rsKid = await idp.addKey("RS256");
    await addProvider(t, company, {
      kind: "PARTNER_KEYS",
      name: "Partner",
      issuer,
      jwksUri: idp.jwksUri,
      algorithms: ["ES256", "EdDSA"],
    });
  });
  afterAll(() => idp.stop());

  it("a JWT signed with the partner's registered key, named by iss, for this company (aud)", async () => {
    const token = await idp.sign(
      fresh(t, { iss: issuer, aud: companyIssuer(company), user: { id: `pk-${uid()}`, name: "Key" } }),
      { kid: esKid },
    );
    const joined = ok(await partnerJoin(t, event.id, token)).joinEvent;
    expect(joined.session.user.name).toBe("Key");
    expect(joined.session.credentialType).toBe("PARTNER_JWT");
  });

  it("refused: an unregistered issuer, another company's issuer, an algorithm outside the provider's list, no exp", async () => {
    const user = () => ({ aud: companyIssuer(company), user: { id: `pk-${uid()}` } });
    await expectRefused(
      t,
      async () =>
        partnerJoin(t, event.id, await idp.sign(fresh(t, { iss: "https://nobody.test", ...user() }), { kid: esKid })),
      "TOKEN_INVALID",
    );
    const other = await makeCompany(t);
    const otherEvent = await makeEvent(t, other);
    await expectRefused(
      t,
      async () => partnerJoin(t, otherEvent.id, await idp.sign(fresh(t, { iss: issuer, ...user() }), { kid: esKid })),
      "TOKEN_INVALID",
    );
    await expectRefused(
      t,
      async () => partnerJoin(t, event.id, await idp.sign(fresh(t, { iss: issuer, ...user() }), { kid: rsKid })),
      "TOKEN_INVALID",
    );
    const { exp: _exp, ...noExp } = fresh(t, { iss: issuer, ...user() });
    await expectRefused(
      t,
      async () => partnerJoin(t, event.id, await idp.sign(noExp, { kid: esKid })),
      "TOKEN_INVALID",
    );
    // An EdDSA key the provider publishes is accepted (EdDSA is in its list).
    ok(await partnerJoin(t, event.id, await idp.sign(fresh(t, { iss: issuer, ...user() }), { kid: edKid })));
  });

  it("without a configured audience, aud must be the company's Admit issuer: a token for company A does not open B's events", async () => {
    // The same partner, with the same keys and issuer, serves another company too.
    const other = await makeCompany(t);
    const otherEvent = await makeEvent(t, other);
    await addProvider(t, other, {
      kind: "PARTNER_KEYS",
      name: "Partner",
      issuer,
      jwksUri: idp.jwksUri,
      algorithms: ["ES256", "EdDSA"],
    });
    const sign = (aud: unknown) =>
      idp.sign(fresh(t, { iss: issuer, ...(aud === undefined ? {} : { aud }), user: { id: `pk-${uid()}` } }), {
        kid: esKid,
      });

    const forA = await sign(companyIssuer(company));
    await expectRefused(t, () => partnerJoin(t, otherEvent.id, forA), "TOKEN_INVALID");
    for (const aud of [
      undefined,
      companyIssuer(other).toUpperCase(),
      `${companyIssuer(other)}/`,
      [],
      [companyIssuer(company), companyIssuer(other)],
      "admit",
    ]) {
      const token = await sign(aud);
      await expectRefused(t, () => partnerJoin(t, otherEvent.id, token), "TOKEN_INVALID");
    }
    ok(await partnerJoin(t, event.id, forA));
    ok(await partnerJoin(t, otherEvent.id, await sign(companyIssuer(other))));
    ok(await partnerJoin(t, otherEvent.id, await sign([companyIssuer(other)])));
  });

  it("with a configured audience, aud must be exactly it (the company's issuer is not enough)", async () => {
    const keyed = `https://partner-aud-${uid()}.example.test`;
    await addProvider(t, company, {
      kind: "PARTNER_KEYS",
      name: "Aud",
      issuer: keyed,
      jwksUri: idp.jwksUri,
      audience: "partner-aud",
    });
    const sign = (aud?: string) =>
      idp.sign(fresh(t, { iss: keyed, ...(aud === undefined ? {} : { aud }), user: { id: `pk-${uid()}` } }), {
        kid: esKid,
      });
    ok(await partnerJoin(t, event.id, await sign("partner-aud")));
    for (const aud of [undefined, companyIssuer(company), "partner-aud2"]) {
      const token = await sign(aud);
      await expectRefused(t, () => partnerJoin(t, event.id, token), "TOKEN_INVALID");
    }
  });
});
