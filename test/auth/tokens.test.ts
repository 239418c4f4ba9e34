import { createPublicKey, randomBytes, verify as cryptoVerify } from "node:crypto";
import type { JsonWebKey } from "node:crypto";
import { SignJWT } from "jose";
import type { CryptoKey, JWK, JWTHeaderParameters } from "jose";
import jsonwebtoken from "jsonwebtoken";
import { AppError } from "../../src/errors";
import {
  SIGNING_ALGS,
  SigningAlg,
  generateSigningKeyPair,
  importPrivateKey,
  importPublicKey,
  toPublicJwks,
} from "../../src/auth/signing-keys";
import {
  TOKEN_AUDIENCE,
  TOKEN_TYP,
  TokenKind,
  VerifyTokenOptions,
  peekToken,
  signToken,
  verifyToken,
} from "../../src/auth/tokens";

const ISSUER = "https://admit.example/c/acme";
const KINDS: TokenKind[] = ["join", "registration", "session", "report"];
const T0 = new Date("2030-01-01T00:00:00Z");
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

interface TestKey {
  kid: string;
  alg: SigningAlg;
  publicJwk: JWK;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

async function makeKey(alg: SigningAlg, kid: string): Promise<TestKey> {
  const { publicJwk, privateJwk } = await generateSigningKeyPair(alg);
  return {
    kid,
    alg,
    publicJwk,
    privateKey: await importPrivateKey(privateJwk, alg),
    publicKey: await importPublicKey(publicJwk, alg),
  };
}

const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Resolves the error a promise rejects with, or fails the test when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

async function expectTokenError(promise: Promise<unknown>, code: string, token?: string): Promise<void> {
  const error = await rejection(promise);
  expect(error).toBeInstanceOf(AppError);
  expect((error as AppError).code).toBe(code);
  // Messages are for people: no token, no jose jargon.
  if (token) expect((error as AppError).message).not.toContain(token);
  expect((error as AppError).message).not.toMatch(/JWS|JWT|ERR_/);
}

describe("Admit tokens", () => {
  let ed: TestKey;
  let es: TestKey;
  let keys: Map<string, TestKey>;

  beforeAll(async () => {
    ed = await makeKey("EdDSA", "kid-ed");
    es = await makeKey("ES256", "kid-es");
    keys = new Map([
      [ed.kid, ed],
      [es.kid, es],
    ]);
  });

  const resolveKey: VerifyTokenOptions["resolveKey"] = async (kid) => {
    const key = keys.get(kid);
    return key ? { alg: key.alg, publicKey: key.publicKey } : null;
  };

  const options = (overrides: Partial<VerifyTokenOptions> = {}): VerifyTokenOptions => ({
    kinds: ["session"],
    issuer: ISSUER,
    resolveKey,
    now: at(10),
    ...overrides,
  });

  const sign = (overrides: Partial<Parameters<typeof signToken>[0]> & { signer?: TestKey } = {}): Promise<string> => {
    const { signer = ed, ...rest } = overrides;
    return signToken({
      kind: "session",
      key: { kid: signer.kid, alg: signer.alg, privateKey: signer.privateKey },
      issuer: ISSUER,
      subject: "user-1",
      jti: "jti-1",
      issuedAt: T0,
      expiresAt: at(60),
      ...rest,
    });
  };

  /** Signs with jose directly, for headers and claims signToken would never produce. */
  const signRaw = (
    header: Partial<JWTHeaderParameters>,
    payload: Record<string, unknown> = {},
    signer: TestKey = ed,
    critOption?: Record<string, boolean>,
  ): Promise<string> =>
    new SignJWT({
      iss: ISSUER,
      aud: TOKEN_AUDIENCE.session,
      sub: "user-1",
      jti: "jti-1",
      iat: Math.floor(T0.getTime() / 1000),
      exp: Math.floor(at(60).getTime() / 1000),
      ...payload,
    })
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: TOKEN_TYP.session, ...header })
      .sign(signer.privateKey, critOption ? { crit: critOption } : undefined);

  describe("sign and verify", () => {
    it.each(SIGNING_ALGS)("round-trips with %s", async (alg) => {
      const signer = alg === "EdDSA" ? ed : es;
      const token = await sign({ signer, claims: { eventId: "ev-1", role: "attendee" }, notBefore: T0 });
      const result = await verifyToken(token, options());

      expect(result.kind).toBe("session");
      expect(result.header).toEqual({ alg, kid: signer.kid, typ: "session+jwt" });
      expect(result.payload).toEqual({
        eventId: "ev-1",
        role: "attendee",
        iss: ISSUER,
        aud: "admit:session",
        sub: "user-1",
        jti: "jti-1",
        iat: Math.floor(T0.getTime() / 1000),
        nbf: Math.floor(T0.getTime() / 1000),
        exp: Math.floor(at(60).getTime() / 1000),
      });
    });

    it.each(KINDS)("signs %s tokens with their own typ and audience", async (kind) => {
      const token = await sign({ kind });
      expect(peekToken(token)).toEqual({ kind, kid: ed.kid, issuer: ISSUER });
      const result = await verifyToken(token, options({ kinds: [kind] }));
      expect(result.kind).toBe(kind);
      expect(result.header.typ).toBe(TOKEN_TYP[kind]);
      expect(result.payload.aud).toBe(TOKEN_AUDIENCE[kind]);
    });

    it("accepts a token of any of the listed kinds and reports which", async () => {
      const token = await sign({ kind: "registration" });
      const result = await verifyToken(token, options({ kinds: ["join", "registration"] }));
      expect(result.kind).toBe("registration");
    });

    it("does not let extra claims override the registered ones", async () => {
      const token = await sign({
        expiresAt: null,
        claims: {
          iss: "https://evil",
          aud: "admit:join",
          sub: "admin",
          jti: "x",
          iat: 1,
          exp: 9999999999,
          nbf: 1,
          extra: 1,
        },
      });
      const { payload } = await verifyToken(token, options({ requireExp: false }));
      expect(payload).toEqual({
        extra: 1,
        iss: ISSUER,
        aud: "admit:session",
        sub: "user-1",
        jti: "jti-1",
        iat: Math.floor(T0.getTime() / 1000),
      });
    });
  });

  describe("time", () => {
    it("accepts a token up to 30 s past exp and refuses it after (TOKEN_EXPIRED)", async () => {
      const token = await sign({ expiresAt: at(60) });
      await expect(verifyToken(token, options({ now: at(59) }))).resolves.toBeDefined();
      await expect(verifyToken(token, options({ now: at(80) }))).resolves.toBeDefined();
      await expectTokenError(verifyToken(token, options({ now: at(100) })), "TOKEN_EXPIRED", token);
    });

    it("refuses a token whose nbf is in the future (TOKEN_NOT_YET_VALID), within the same skew", async () => {
      const token = await sign({ notBefore: at(120), expiresAt: at(600) });
      await expectTokenError(verifyToken(token, options({ now: at(0) })), "TOKEN_NOT_YET_VALID", token);
      await expectTokenError(verifyToken(token, options({ now: at(80) })), "TOKEN_NOT_YET_VALID", token);
      await expect(verifyToken(token, options({ now: at(100) }))).resolves.toBeDefined();
    });

    it("requires exp by default and accepts its absence only when told", async () => {
      const token = await sign({ expiresAt: null });
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
      await expectTokenError(verifyToken(token, options({ requireExp: true })), "TOKEN_INVALID", token);
      const result = await verifyToken(token, options({ requireExp: false }));
      expect(result.payload.exp).toBeUndefined();
    });

    it("refuses an nbf or exp that is not a number as invalid, not as a time error", async () => {
      await expectTokenError(verifyToken(await signRaw({}, { nbf: "soon" }), options()), "TOKEN_INVALID");
      await expectTokenError(verifyToken(await signRaw({}, { exp: "later" }), options()), "TOKEN_INVALID");
      await expectTokenError(verifyToken(await signRaw({}, { iat: "then" }), options()), "TOKEN_INVALID");
    });
  });

  describe("kind, issuer and key", () => {
    const pairs = KINDS.flatMap((actual) => KINDS.filter((k) => k !== actual).map((expected) => [actual, expected]));

    it.each(pairs)("refuses a %s token where a %s token is expected", async (actual, expected) => {
      const token = await sign({ kind: actual });
      await expectTokenError(verifyToken(token, options({ kinds: [expected] })), "TOKEN_INVALID", token);
    });

    it("refuses a token whose typ and audience name different kinds", async () => {
      const token = await signRaw({ typ: TOKEN_TYP.session }, { aud: TOKEN_AUDIENCE.join });
      await expectTokenError(verifyToken(token, options({ kinds: ["session", "join"] })), "TOKEN_INVALID", token);
      const listed = await signRaw({ typ: TOKEN_TYP.session }, { aud: [TOKEN_AUDIENCE.session, TOKEN_AUDIENCE.join] });
      await expectTokenError(verifyToken(listed, options()), "TOKEN_INVALID", listed);
    });

    it("refuses an unknown or missing typ", async () => {
      await expectTokenError(verifyToken(await signRaw({ typ: "JWT" }), options()), "TOKEN_INVALID");
      await expectTokenError(verifyToken(await signRaw({ typ: undefined }), options()), "TOKEN_INVALID");
    });

    it("refuses a wrong or missing issuer", async () => {
      const token = await sign({ issuer: "https://admit.example/c/other" });
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
      await expectTokenError(verifyToken(await signRaw({}, { iss: undefined }), options()), "TOKEN_INVALID");
      // Exact: a prefix of the issuer is not the issuer.
      const prefix = await sign({ issuer: "https://admit.example/c/acm" });
      await expectTokenError(verifyToken(prefix, options()), "TOKEN_INVALID", prefix);
    });

    it("refuses an unknown kid and a missing kid without a key lookup for the latter", async () => {
      const resolve = jest.fn(resolveKey);
      const unknown = await signRaw({ kid: "kid-nope" });
      await expectTokenError(verifyToken(unknown, options({ resolveKey: resolve })), "TOKEN_INVALID", unknown);
      expect(resolve).toHaveBeenCalledWith("kid-nope");

      resolve.mockClear();
      const missing = await signRaw({ kid: undefined });
      await expectTokenError(verifyToken(missing, options({ resolveKey: resolve })), "TOKEN_INVALID", missing);
      expect(resolve).not.toHaveBeenCalled();
    });

    it("refuses a token signed by a different key that claims a known kid", async () => {
      const impostor = await makeKey("EdDSA", ed.kid);
      const token = await sign({ signer: impostor });
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
    });

    it("refuses a token whose alg differs from the key's", async () => {
      // Signed with the ES256 key but naming the EdDSA key's kid.
      const token = await signRaw({ kid: ed.kid }, {}, es);
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
    });

    it("refuses an HS256 token carrying the kid of an EdDSA key", async () => {
      const secret = new TextEncoder().encode(JSON.stringify(ed.publicJwk));
      const token = await new SignJWT({
        iss: ISSUER,
        aud: TOKEN_AUDIENCE.session,
        sub: "user-1",
        jti: "j",
        iat: 1,
        exp: 4102444800,
      })
        .setProtectedHeader({ alg: "HS256", kid: ed.kid, typ: TOKEN_TYP.session })
        .sign(secret);
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
    });

    it("refuses alg none", async () => {
      const header = { alg: "none", kid: ed.kid, typ: TOKEN_TYP.session };
      const payload = { iss: ISSUER, aud: TOKEN_AUDIENCE.session, sub: "user-1", jti: "j", iat: 1, exp: 4102444800 };
      const token = `${b64json(header)}.${b64json(payload)}.`;
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
      // Even if a key were resolved as "none" by mistake, jose's pinned list still refuses it.
      const sloppy: VerifyTokenOptions["resolveKey"] = async () => ({
        alg: "none" as SigningAlg,
        publicKey: ed.publicKey,
      });
      await expectTokenError(verifyToken(token, options({ resolveKey: sloppy })), "TOKEN_INVALID", token);
    });
  });

  describe("dangerous headers", () => {
    it("refuses an embedded jwk header, even when it is the right key", async () => {
      const token = await signRaw({ jwk: ed.publicJwk });
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
    });

    it.each([
      ["jku", "https://evil.example/jwks.json"],
      ["x5u", "https://evil.example/cert.pem"],
      ["x5c", ["MIIB"]],
    ])("refuses a %s header", async (name, value) => {
      const token = await signRaw({ [name]: value });
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
    });

    it("refuses an unknown crit header", async () => {
      const token = await signRaw({ crit: ["exp-ext"], "exp-ext": true }, {}, ed, {
        "exp-ext": true,
      });
      await expectTokenError(verifyToken(token, options()), "TOKEN_INVALID", token);
    });

    it("accepts the same token without those headers (the refusals above are about the headers)", async () => {
      await expect(verifyToken(await signRaw({}), options())).resolves.toBeDefined();
    });
  });

  describe("claim types", () => {
    it("refuses a sub that is a number, empty, or longer than 255 characters", async () => {
      await expectTokenError(verifyToken(await signRaw({}, { sub: 12345 }), options()), "TOKEN_INVALID");
      await expectTokenError(verifyToken(await signRaw({}, { sub: "" }), options()), "TOKEN_INVALID");
      const long = await sign({ subject: "u".repeat(1000) });
      await expectTokenError(verifyToken(long, options()), "TOKEN_INVALID", long);
      await expect(verifyToken(await sign({ subject: "u".repeat(255) }), options())).resolves.toBeDefined();
    });

    it("refuses a missing, non-string or over-long jti", async () => {
      await expectTokenError(verifyToken(await signRaw({}, { jti: undefined }), options()), "TOKEN_INVALID");
      await expectTokenError(verifyToken(await signRaw({}, { jti: 7 }), options()), "TOKEN_INVALID");
      await expectTokenError(verifyToken(await sign({ jti: "j".repeat(129) }), options()), "TOKEN_INVALID");
    });

    it("refuses a missing iat", async () => {
      await expectTokenError(verifyToken(await signRaw({}, { iat: undefined }), options()), "TOKEN_INVALID");
    });
  });

  describe("garbage", () => {
    const junk = randomBytes(7500).toString("base64url");
    const garbage: [string, unknown][] = [
      ["empty", ""],
      ["abc", "abc"],
      ["a.b.c", "a.b.c"],
      ["10 KB of junk", randomBytes(7680).toString("base64")],
      [
        "10 KB of dotted junk",
        `${junk.slice(0, 3400)}.${junk.slice(3400, 6800)}.${junk.slice(6800)}`.padEnd(10240, "A"),
      ],
      ["dotted junk under the size cap", `${junk.slice(0, 2000)}.${junk.slice(2000, 4000)}.${junk.slice(4000, 6000)}`],
      ["header that is not JSON", `${Buffer.from("{nope").toString("base64url")}.${b64json({})}.sig`],
      ["header that is an array", `${b64json(["alg"])}.${b64json({})}.sig`],
      ["valid header, junk payload", `${b64json({ alg: "EdDSA", kid: "kid-ed", typ: "session+jwt" })}.%%%.sig`],
      [
        "valid header, payload not an object",
        `${b64json({ alg: "EdDSA", kid: "kid-ed", typ: "session+jwt" })}.${b64json(42)}.sig`,
      ],
      [
        "valid header and payload, junk signature",
        `${b64json({ alg: "EdDSA", kid: "kid-ed", typ: "session+jwt" })}.${b64json({ sub: "x" })}.!!`,
      ],
      ["five parts (JWE shape)", `${b64json({ alg: "dir", enc: "A256GCM", typ: "session+jwt", kid: "kid-ed" })}....`],
      ["not a string", 12345],
      ["null", null],
    ];

    it.each(garbage)("verifyToken refuses %s as TOKEN_INVALID", async (_name, token) => {
      await expectTokenError(verifyToken(token as string, options()), "TOKEN_INVALID");
    });

    it.each(garbage)("peekToken refuses %s as TOKEN_INVALID", (_name, token) => {
      let caught: unknown;
      try {
        peekToken(token as string);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(AppError);
      expect((caught as AppError).code).toBe("TOKEN_INVALID");
    });
  });

  describe("peekToken", () => {
    it("reads kind, kid and issuer without verifying", async () => {
      const impostor = await makeKey("EdDSA", "kid-other");
      const token = await sign({ kind: "join", signer: impostor, issuer: "https://admit.example/c/x" });
      expect(peekToken(token)).toEqual({ kind: "join", kid: "kid-other", issuer: "https://admit.example/c/x" });
    });

    it("gives nulls for an unknown typ, a non-string kid and a non-string iss", async () => {
      const token = await signRaw({ typ: "JWT", kid: 5 as unknown as string }, { iss: 7 });
      expect(peekToken(token)).toEqual({ kind: null, kid: null, issuer: null });
    });
  });

  describe("independence: the JWKS we serve works with other libraries", () => {
    const jwkFor = (kid: string): JsonWebKey => {
      const jwks = toPublicJwks([
        { kid: ed.kid, alg: ed.alg, publicJwk: ed.publicJwk },
        { kid: es.kid, alg: es.alg, publicJwk: es.publicJwk },
      ]);
      const jwk = jwks.keys.find((key) => key.kid === kid);
      if (!jwk) throw new Error(`no ${kid} in JWKS`);
      return jwk;
    };

    it("an ES256 token verifies with jsonwebtoken", async () => {
      const now = new Date();
      const token = await sign({ signer: es, issuedAt: now, expiresAt: new Date(now.getTime() + 300_000) });
      const publicKey = createPublicKey({ key: jwkFor(es.kid), format: "jwk" });

      const decoded = jsonwebtoken.verify(token, publicKey, {
        algorithms: ["ES256"],
        issuer: ISSUER,
        audience: TOKEN_AUDIENCE.session,
        complete: true,
      });
      expect(decoded.header).toMatchObject({ alg: "ES256", kid: es.kid, typ: "session+jwt" });
      expect(decoded.payload).toMatchObject({ sub: "user-1", jti: "jti-1" });

      const other = await makeKey("ES256", es.kid);
      const forged = await sign({ signer: other, issuedAt: now, expiresAt: new Date(now.getTime() + 300_000) });
      expect(() => jsonwebtoken.verify(forged, publicKey, { algorithms: ["ES256"] })).toThrow(/invalid signature/);
    });

    it("an EdDSA token's signature verifies with node:crypto directly", async () => {
      const token = await sign({ signer: ed });
      const [header, payload, signature] = token.split(".");
      const publicKey = createPublicKey({ key: jwkFor(ed.kid), format: "jwk" });
      const sig = Buffer.from(signature, "base64url");

      expect(cryptoVerify(null, Buffer.from(`${header}.${payload}`), publicKey, sig)).toBe(true);
      const altered = b64json({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), sub: "admin" });
      expect(cryptoVerify(null, Buffer.from(`${header}.${altered}`), publicKey, sig)).toBe(false);
    });
  });
});
