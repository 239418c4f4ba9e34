import { createPrivateKey, createPublicKey } from "node:crypto";
import type { JsonWebKey } from "node:crypto";
import { createLocalJWKSet, decodeProtectedHeader, generateKeyPair, jwtVerify, SignJWT } from "jose";
import type { JSONWebKeySet, JWTPayload } from "jose";
import { generateSigningKeyPair, importPublicKey } from "../../src/auth/signing-keys";
import { signToken, verifyToken } from "../../src/auth/tokens";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { join, mint, VALIDATE } from "../join/join-helpers";

/**
 * Admit signs and verifies its own tokens with fast-jwt; partners verify them with whatever they
 * use against the JWKS we publish, and jose is the reference here. Both directions, both
 * algorithms, through the running app.
 */
const t = useTestApp();

const ALGS = ["EdDSA", "ES256"] as const;

interface Company {
  company: TestCompany;
  event: TestEvent;
  issuer: string;
  jwks: ReturnType<typeof createLocalJWKSet>;
}

async function companyWith(alg: (typeof ALGS)[number]): Promise<Company> {
  const company = await makeCompany(t);
  const event = await makeEvent(t, company);
  if (alg === "ES256") ok(await t.gql(`mutation { rotateSigningKey(alg: ES256) { kid } }`, {}, { key: company.key }));
  const response = await fetch(`${t.url}/c/${company.slug}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  const jwks = createLocalJWKSet((await response.json()) as JSONWebKeySet);
  return { company, event, issuer: `http://admit.test/c/${company.slug}`, jwks };
}

const validate = async (token: string) => ok(await t.gql(VALIDATE, { token })).validateToken;

const payloadOf = (token: string): JWTPayload => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

describe.each(ALGS)("%s tokens", (alg) => {
  let c: Company;
  beforeAll(async () => {
    c = await companyWith(alg);
  });

  it("Admit's join and session tokens verify with jose against the published JWKS", async () => {
    const minted = await mint(t, c.company, { eventId: c.event.id, user: { id: `interop-${alg}` } });
    const joined = await join(t, c.event.id, minted.token);

    for (const [token, kind, sub] of [
      [minted.token, "join", `interop-${alg}`],
      [joined.sessionToken, "session", joined.session.id],
    ]) {
      const { payload, protectedHeader } = await jwtVerify(token, c.jwks, {
        algorithms: [alg],
        issuer: c.issuer,
        // A session token's audience is the company's issuer (or its sessionTokenAudience), for media servers.
        audience: kind === "session" ? c.issuer : `admit:${kind}`,
        typ: `${kind}+jwt`,
        currentDate: t.clock.now(),
        requiredClaims: ["exp", "iat", "jti"],
      });
      expect(protectedHeader).toEqual({ alg, kid: expect.any(String), typ: `${kind}+jwt` });
      expect(payload.sub).toBe(sub);
    }
    // JWS signatures are raw: Ed25519's 64 bytes, and ES256's r||s in 64 bytes, not DER.
    expect(Buffer.from(minted.token.split(".")[2], "base64url")).toHaveLength(64);

    const [header, , signature] = minted.token.split(".");
    const tampered = `${header}.${b64json({ ...payloadOf(minted.token), sub: "admin" })}.${signature}`;
    await expect(jwtVerify(tampered, c.jwks, { algorithms: [alg], currentDate: t.clock.now() })).rejects.toThrow(
      /signature/,
    );
  });

  it("a token jose signs with the company's key, in the same shape, is accepted by Admit", async () => {
    const minted = await mint(t, c.company, { eventId: c.event.id, user: { id: `shape-${alg}` } });
    const header = decodeProtectedHeader(minted.token);
    const key = await t.app.services.signingKeys.currentKey(c.company.id);
    expect(header).toEqual({ alg, kid: key.kid, typ: "join+jwt" });

    const claims = { ...payloadOf(minted.token), sub: `jose-${alg}`, jti: `jose-${alg}-jti` };
    const signed = await new SignJWT(claims)
      .setProtectedHeader({ alg, kid: key.kid, typ: "join+jwt" })
      .sign(key.privateKey);

    const v = await validate(signed);
    expect(v).toMatchObject({ valid: true, errorCode: null, tokenType: "join" });
    expect(v.claims).toMatchObject({ sub: `jose-${alg}`, jti: `jose-${alg}-jti`, iss: c.issuer, aud: "admit:join" });
    const joined = await join(t, c.event.id, signed);
    expect(joined.session.user.externalId).toBe(`jose-${alg}`);

    // The same from another key under the company's kid is refused: the acceptance above is the signature's.
    const { privateKey: stranger } = await generateKeyPair(alg);
    const forged = await new SignJWT({ ...claims, jti: `forged-${alg}` })
      .setProtectedHeader({ alg, kid: key.kid, typ: "join+jwt" })
      .sign(stranger);
    expect(await validate(forged)).toMatchObject({ valid: false, errorCode: "TOKEN_INVALID" });
  });
});

describe.each(ALGS)("%s keys as node:crypto KeyObjects", (alg) => {
  it("sign and verify like the WebCrypto keys the app caches, and across the two", async () => {
    const { publicJwk, privateJwk } = await generateSigningKeyPair(alg);
    const privateKey = createPrivateKey({ key: privateJwk as JsonWebKey, format: "jwk" });
    const publicKey = createPublicKey({ key: publicJwk as JsonWebKey, format: "jwk" });
    const issuer = "https://admit.example/c/keys";
    const now = new Date("2030-01-01T00:00:00Z");
    const token = await signToken({
      kind: "session",
      key: { kid: "kid-1", alg, privateKey },
      issuer,
      subject: "user-1",
      jti: "jti-1",
      issuedAt: now,
      expiresAt: new Date(now.getTime() + 60_000),
    });
    for (const key of [publicKey, await importPublicKey(publicJwk, alg)]) {
      const verified = await verifyToken(token, {
        kinds: ["session"],
        issuer,
        now,
        resolveKey: async () => ({ alg, publicKey: key }),
      });
      expect(verified).toMatchObject({
        kind: "session",
        header: { alg, kid: "kid-1", typ: "session+jwt" },
        payload: { sub: "user-1" },
        expired: false,
      });
    }
    const other = await generateSigningKeyPair(alg);
    const wrongKey = createPublicKey({ key: other.publicJwk as JsonWebKey, format: "jwk" });
    await expect(
      verifyToken(token, { kinds: ["session"], issuer, now, resolveKey: async () => ({ alg, publicKey: wrongKey }) }),
    ).rejects.toMatchObject({
      code: "TOKEN_INVALID",
    });
  });
});
