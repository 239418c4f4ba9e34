import { createHmac, createPublicKey, generateKeyPairSync, randomBytes, verify as cryptoVerify } from "node:crypto";
import type { JsonWebKey } from "node:crypto";
import { SignJWT } from "jose";
import { signToken } from "../../src/auth/tokens";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { b64json, BEAT, decodePart, epoch, expectRefused, join, joinRaw, mint, VALIDATE } from "./join-helpers";

const t = useTestApp();
let company: TestCompany;
let event: TestEvent;
let rival: TestCompany;
let rivalEvent: TestEvent;
beforeAll(async () => {
  company = await makeCompany(t);
  event = await makeEvent(t, company);
  rival = await makeCompany(t);
  rivalEvent = await makeEvent(t, rival);
});

const issuerOf = (c: TestCompany) => `http://admit.test/c/${c.slug}`;
const LEAVE = `mutation($t: String!) { leaveEvent(sessionToken: $t) { id endReason } }`;
const END_SESSION = `mutation($id: ID!) { endSession(id: $id) { id endReason } }`;

/** A registration token as the registration module signs it (jti = registrant id). */
async function registrationToken(c: TestCompany, e: TestEvent): Promise<string> {
  const registered = ok(
    await t.gql(
      `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { id joinUrl } }`,
      { input: { eventId: e.id, name: "Reg Istrant", email: `reg-${randomBytes(3).toString("hex")}@example.com` } },
      { key: c.key },
    ),
  ).registerForEvent;
  return new URL(registered.joinUrl).searchParams.get("token")!;
}

/**
 * Signs a join-token-shaped JWT with the company's own current key, with any header and claims
 * (raw WebCrypto: jose itself refuses to sign some of the headers tried here).
 */
async function signWithCompanyKey(
  c: TestCompany,
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
): Promise<string> {
  const key = await t.app.services.signingKeys.currentKey(c.id);
  const now = epoch(t.clock.now());
  const input = `${b64json({ alg: key.alg, kid: key.kid, typ: "join+jwt", ...header })}.${b64json({
    iss: issuerOf(c),
    aud: "admit:join",
    sub: "forged",
    jti: randomBytes(8).toString("hex"),
    iat: now,
    exp: now + 600,
    ...claims,
  })}`;
  const signature = await globalThis.crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString("base64url")}`;
}

/** Every place a credential is taken must refuse `token` with TOKEN_INVALID and change nothing. */
async function expectInvalidEverywhere(token: string, eventRef = event.id) {
  for (const credentialType of [undefined, "JOIN_TOKEN", "REGISTRATION_TOKEN"]) {
    await expectRefused(
      t,
      () => joinRaw(t, { event: eventRef, credential: token, ...(credentialType ? { credentialType } : {}) }),
      "TOKEN_INVALID",
    );
  }
  await expectRefused(t, () => t.gql(BEAT, { t: token }), "TOKEN_INVALID");
  await expectRefused(t, () => t.gql(LEAVE, { t: token }), "TOKEN_INVALID");
  const validation = ok(await t.gql(VALIDATE, { token })).validateToken;
  expect(validation).toMatchObject({ valid: false, errorCode: "TOKEN_INVALID", claims: null, expiresAt: null });
}

describe("a token of one kind is refused as every other kind", () => {
  it("a join token as a registration token, as a session token (heartbeat, leaveEvent) and as a bearer", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: "kinds-join" } });
    await expectRefused(
      t,
      () => joinRaw(t, { event: event.id, credential: minted.token, credentialType: "REGISTRATION_TOKEN" }),
      "TOKEN_INVALID",
    );
    await expectRefused(t, () => t.gql(BEAT, { t: minted.token }), "TOKEN_INVALID");
    await expectRefused(t, () => t.gql(LEAVE, { t: minted.token }), "TOKEN_INVALID");
    const victim = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "kinds-victim" } })).token,
    );
    await expectRefused(
      t,
      () => t.gql(END_SESSION, { id: victim.session.id }, { key: minted.token }),
      "UNAUTHENTICATED",
    );
    // The same token is fine where it belongs.
    expect((await join(t, event.id, minted.token)).session.active).toBe(true);
  });

  it("a session token passed to joinEvent, typed or not", async () => {
    const joined = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "kinds-session" } })).token,
    );
    for (const credentialType of [undefined, "JOIN_TOKEN", "REGISTRATION_TOKEN"]) {
      await expectRefused(
        t,
        () =>
          joinRaw(t, {
            event: event.id,
            credential: joined.sessionToken,
            ...(credentialType ? { credentialType } : {}),
          }),
        "TOKEN_INVALID",
      );
    }
    expect((await ok(await t.gql(BEAT, { t: joined.sessionToken }))).heartbeat.active).toBe(true);
  });

  it("a registration token as a join token and as a session token", async () => {
    const token = await registrationToken(company, event);
    expect(decodePart(token, 0).typ).toBe("registration+jwt");
    await expectRefused(
      t,
      () => joinRaw(t, { event: event.id, credential: token, credentialType: "JOIN_TOKEN" }),
      "TOKEN_INVALID",
    );
    await expectRefused(t, () => t.gql(BEAT, { t: token }), "TOKEN_INVALID");
    expect(ok(await t.gql(VALIDATE, { token })).validateToken).toMatchObject({
      valid: true,
      tokenType: "registration",
    });
  });

  it("a token whose typ and aud name different kinds", async () => {
    const token = await signWithCompanyKey(company, { typ: "join+jwt" }, { aud: "admit:session" });
    await expectInvalidEverywhere(token);
    const other = await signWithCompanyKey(company, { typ: "session+jwt" }, { aud: "admit:join" });
    await expectInvalidEverywhere(other);
  });
});

describe("forged and tampered tokens are TOKEN_INVALID, never INTERNAL", () => {
  it("a tampered signature", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: "tamper-sig" } });
    const [h, p, s] = minted.token.split(".");
    const flipped = `${s.slice(0, 10)}${s[10] === "A" ? "B" : "A"}${s.slice(11)}`;
    await expectInvalidEverywhere(`${h}.${p}.${flipped}`);
    await expectInvalidEverywhere(`${h}.${p}.${Buffer.from(randomBytes(64)).toString("base64url")}`);
    await expectInvalidEverywhere(`${h}.${p}.`);
  });

  it("a tampered payload (a self-granted ORGANIZER role, another user) under the original signature", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: "tamper-payload" } });
    const [h, , s] = minted.token.split(".");
    const claims = decodePart(minted.token, 1);
    await expectInvalidEverywhere(`${h}.${b64json({ ...claims, role: "ORGANIZER" })}.${s}`);
    await expectInvalidEverywhere(`${h}.${b64json({ ...claims, sub: "someone-else" })}.${s}`);
  });

  it("alg none, and an HMAC token keyed with anything", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: "alg-none" } });
    const header = decodePart(minted.token, 0);
    const payload = minted.token.split(".")[1];
    const none = b64json({ ...header, alg: "none" });
    await expectInvalidEverywhere(`${none}.${payload}.`);
    await expectInvalidEverywhere(`${none}.${payload}.${minted.token.split(".")[2]}`);
    const hs = b64json({ ...header, alg: "HS256" });
    const mac = createHmac("sha256", "guessed").update(`${hs}.${payload}`).digest("base64url");
    await expectInvalidEverywhere(`${hs}.${payload}.${mac}`);
  });

  it("an unknown kid, a missing kid, and a kid that is not even text the database could hold", async () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const now = epoch(t.clock.now());
    const claims = {
      iss: issuerOf(company),
      aud: "admit:join",
      sub: "kidless",
      jti: "j-1",
      iat: now,
      exp: now + 600,
      evt: event.id,
    };
    for (const kid of [
      randomBytes(16).toString("base64url"),
      "x".repeat(200),
      "kid\u0000nul",
      "../../etc/passwd",
      undefined,
    ]) {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: "EdDSA", typ: "join+jwt", ...(kid === undefined ? {} : { kid }) })
        .sign(privateKey);
      await expectInvalidEverywhere(token);
    }
  });

  it("a token signed with company A's key under company B's issuer (either way round)", async () => {
    const forA = await signToken({
      kind: "join",
      key: await t.app.services.signingKeys.currentKey(company.id),
      issuer: issuerOf(rival),
      subject: "cross-tenant",
      jti: "cross-1",
      issuedAt: t.clock.now(),
      expiresAt: new Date(t.clock.now().getTime() + 600_000),
      claims: { evt: rivalEvent.id },
    });
    await expectInvalidEverywhere(forA, rivalEvent.id);
    await expectInvalidEverywhere(forA, event.id);

    const forB = await signToken({
      kind: "join",
      key: await t.app.services.signingKeys.currentKey(rival.id),
      issuer: issuerOf(company),
      subject: "cross-tenant",
      jti: "cross-2",
      issuedAt: t.clock.now(),
      expiresAt: new Date(t.clock.now().getTime() + 600_000),
    });
    await expectInvalidEverywhere(forB);
    await expectInvalidEverywhere(forB, rivalEvent.id);
  });

  it("a session token signed by another company's key cannot act as a bearer", async () => {
    const victim = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "bearer-victim" } })).token,
    );
    const forged = await signToken({
      kind: "session",
      key: await t.app.services.signingKeys.currentKey(rival.id),
      issuer: issuerOf(company),
      subject: victim.session.id,
      jti: "forged-session",
      issuedAt: t.clock.now(),
      expiresAt: new Date(t.clock.now().getTime() + 600_000),
      claims: { evt: event.id },
    });
    await expectRefused(t, () => t.gql(END_SESSION, { id: victim.session.id }, { key: forged }), "UNAUTHENTICATED");
    await expectRefused(t, () => t.gql(BEAT, { t: forged }), "TOKEN_INVALID");
  });

  it("headers that pick their own key or add rules (jwk, jku, x5u, x5c, crit) on an otherwise good token", async () => {
    const good = await signWithCompanyKey(company, {}, { evt: event.id });
    expect((await join(t, event.id, good)).session.active).toBe(true);
    const { publicKey } = generateKeyPairSync("ed25519");
    const jwk = publicKey.export({ format: "jwk" });
    await expectInvalidEverywhere(await signWithCompanyKey(company, { jwk }, { evt: event.id }));
    await expectInvalidEverywhere(
      await signWithCompanyKey(company, { jku: "https://evil.example/jwks.json" }, { evt: event.id }),
    );
    await expectInvalidEverywhere(
      await signWithCompanyKey(company, { x5u: "https://evil.example/cert.pem" }, { evt: event.id }),
    );
    await expectInvalidEverywhere(await signWithCompanyKey(company, { crit: ["exp"] }, { evt: event.id }));
    await expectInvalidEverywhere(await signWithCompanyKey(company, { crit: ["b64"], b64: true }, { evt: event.id }));
  });

  it("claims of the wrong type in a correctly signed token", async () => {
    const wrong = [
      { role: "SUPERUSER" },
      { usr: "not-an-object" },
      { usr: { email: "not-an-email" } },
      { usr: { name: 42 } },
      { md: [1, 2] },
      { ejs: -5 },
      { eje: "yes" },
      { evt: 42 },
      { sub: 7 },
      { sub: "" },
      { iat: "yesterday" },
      { exp: "later" },
    ];
    for (const claims of wrong) {
      await expectInvalidEverywhere(await signWithCompanyKey(company, {}, { evt: event.id, ...claims }));
    }
  });
});

describe("garbage credentials are TOKEN_INVALID", () => {
  const garbage = [
    "abc",
    "a.b.c",
    "....",
    "not a token at all",
    "eyJhbGciOiJFZERTQSJ9",
    "eyJhbGciOiJFZERTQSJ9.e30",
    `${b64json({ alg: "EdDSA", typ: "join+jwt" })}.${Buffer.from("not json").toString("base64url")}.AAAA`,
    `${b64json([1, 2, 3])}.${b64json({})}.AAAA`,
    `${b64json({ alg: "EdDSA", typ: "join+jwt", kid: "k" })}.${b64json("a string")}.AAAA`,
    "\u0000\u0000.\u0000.\u0000",
    "🎟️.🎟️.🎟️",
    `${"A".repeat(50_000)}.${"B".repeat(50_000)}.${"C".repeat(50_000)}`,
  ];

  it.each(garbage.map((g) => [g.length > 60 ? `${g.slice(0, 40)}… (${g.length} chars)` : JSON.stringify(g), g]))(
    "%s",
    async (_name, token) => {
      await expectInvalidEverywhere(token);
      const validation = ok(await t.gql(VALIDATE, { token })).validateToken;
      expect(validation.tokenType).toBeNull();
    },
  );

  it("a bearer that is garbage is UNAUTHENTICATED, not INTERNAL", async () => {
    const victim = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "garbage-victim" } })).token,
    );
    for (const bearer of ["a.b.c", "....x", `${b64json({ alg: "none" })}.e30.`]) {
      await expectRefused(t, () => t.gql(END_SESSION, { id: victim.session.id }, { key: bearer }), "UNAUTHENTICATED");
    }
  });
});

describe("the JWKS", () => {
  it("verifies a minted token with an independent implementation, and holds public members only", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: "jwks-check" } });
    const response = await fetch(`${t.url}/c/${company.slug}/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    const jwks = (await response.json()) as { keys: (JsonWebKey & { kid: string; alg: string; use: string })[] };
    expect(jwks.keys).toHaveLength(1);
    const [jwk] = jwks.keys;
    expect(Object.keys(jwk).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x"]);
    expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    expect(JSON.stringify(jwks)).not.toMatch(/"d"|private/i);

    const [header, payload, signature] = minted.token.split(".");
    expect(decodePart(minted.token, 0).kid).toBe(jwk.kid);
    const publicKey = createPublicKey({ key: jwk, format: "jwk" });
    expect(
      cryptoVerify(null, Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, "base64url")),
    ).toBe(true);
    const altered = b64json({ ...decodePart(minted.token, 1), sub: "admin" });
    expect(
      cryptoVerify(null, Buffer.from(`${header}.${altered}`), publicKey, Buffer.from(signature, "base64url")),
    ).toBe(false);

    // The rival's JWKS does not verify our token.
    const rivalJwks = (await (await fetch(`${t.url}/c/${rival.slug}/.well-known/jwks.json`)).json()) as {
      keys: JsonWebKey[];
    };
    const rivalKey = createPublicKey({ key: rivalJwks.keys[0], format: "jwk" });
    expect(cryptoVerify(null, Buffer.from(`${header}.${payload}`), rivalKey, Buffer.from(signature, "base64url"))).toBe(
      false,
    );
  });

  it("session tokens verify against the same JWKS", async () => {
    const joined = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "jwks-session" } })).token,
    );
    const jwks = (await (await fetch(`${t.url}/c/${company.slug}/.well-known/jwks.json`)).json()) as {
      keys: (JsonWebKey & { kid: string })[];
    };
    const [header, payload, signature] = joined.sessionToken.split(".");
    const jwk = jwks.keys.find((k) => k.kid === decodePart(joined.sessionToken, 0).kid)!;
    expect(
      cryptoVerify(
        null,
        Buffer.from(`${header}.${payload}`),
        createPublicKey({ key: jwk, format: "jwk" }),
        Buffer.from(signature, "base64url"),
      ),
    ).toBe(true);
    expect(decodePart(joined.sessionToken, 0).typ).toBe("session+jwt");
    expect(decodePart(joined.sessionToken, 1)).toMatchObject({
      aud: issuerOf(company),
      iss: issuerOf(company),
      sub: joined.session.id,
    });
  });

  it("is 404 for an unknown company and never leaks another company's keys", async () => {
    expect((await fetch(`${t.url}/c/no-such-company-here/.well-known/jwks.json`)).status).toBe(404);
    expect((await fetch(`${t.url}/c/${encodeURIComponent("../x")}/.well-known/jwks.json`)).status).toBe(404);
    const ours = (await (await fetch(`${t.url}/c/${company.slug}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    const theirs = (await (await fetch(`${t.url}/c/${rival.slug}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    expect(ours.keys.map((k) => k.kid)).not.toEqual(expect.arrayContaining(theirs.keys.map((k) => k.kid)));
  });
});
