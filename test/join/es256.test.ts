import { createPublicKey } from "node:crypto";
import jwt from "jsonwebtoken";
import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent } from "../support/factories";

const t = useTestApp();

const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`;

describe("an ES256 company key", () => {
  it("signs tokens that jsonwebtoken verifies with the served JWKS, and that still join", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const rotated = ok(
      await t.gql(`mutation { rotateSigningKey(alg: ES256) { kid alg current } }`, {}, { key: company.key }),
    );
    expect(rotated.rotateSigningKey).toMatchObject({ alg: "ES256", current: true });

    const token: string = ok(
      await t.gql(MINT, { input: { eventId: event.id, user: { id: "es-1" } } }, { key: company.key }),
    ).mintJoinToken.token;
    const header = JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString());
    expect(header).toMatchObject({ alg: "ES256", kid: rotated.rotateSigningKey.kid, typ: "join+jwt" });

    const jwks = (await (await fetch(`${t.url}/c/${company.slug}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, string>[];
    };
    const jwk = jwks.keys.find((k) => k.kid === header.kid)!;
    expect(jwk).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(jwk).not.toHaveProperty("d");
    const publicKey = createPublicKey({ key: jwk, format: "jwk" });
    const claims = jwt.verify(token, publicKey, {
      algorithms: ["ES256"],
      issuer: `http://admit.test/c/${company.slug}`,
      audience: "admit:join",
    }) as jwt.JwtPayload;
    expect(claims.sub).toBe("es-1");
    expect(() => jwt.verify(`${token.slice(0, -4)}AAAA`, publicKey, { algorithms: ["ES256"] })).toThrow();

    const joined = ok(
      await t.gql(`mutation($input: JoinEventInput!) { joinEvent(input: $input) { role } }`, {
        input: { event: event.id, credential: token },
      }),
    );
    expect(joined.joinEvent.role).toBe("ATTENDEE");
  });

  it("an unknown algorithm is refused as input", async () => {
    const company = await makeCompany(t);
    expect(codeOf(await t.gql(`mutation { rotateSigningKey(alg: HS256) { kid } }`, {}, { key: company.key }))).toBe(
      "BAD_USER_INPUT",
    );
  });
});
