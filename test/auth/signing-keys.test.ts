import type { JWK } from "jose";
import {
  SIGNING_ALGS,
  generateSigningKeyPair,
  importPrivateKey,
  importPublicKey,
  toPublicJwks,
} from "../../src/auth/signing-keys";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"];

describe("signing keys", () => {
  it("supports EdDSA and ES256", () => {
    expect([...SIGNING_ALGS]).toEqual(["EdDSA", "ES256"]);
  });

  it("generates an Ed25519 pair for EdDSA and a P-256 pair for ES256", async () => {
    const ed = await generateSigningKeyPair("EdDSA");
    expect(ed.publicJwk).toEqual({ kty: "OKP", crv: "Ed25519", x: expect.any(String) });
    expect(ed.privateJwk).toMatchObject({ kty: "OKP", crv: "Ed25519", x: ed.publicJwk.x, d: expect.any(String) });

    const es = await generateSigningKeyPair("ES256");
    expect(es.publicJwk).toEqual({ kty: "EC", crv: "P-256", x: expect.any(String), y: expect.any(String) });
    expect(es.privateJwk).toMatchObject({ kty: "EC", crv: "P-256", d: expect.any(String) });
  });

  it("imports private keys for signing and public keys for verifying, not extractable", async () => {
    for (const alg of SIGNING_ALGS) {
      const { publicJwk, privateJwk } = await generateSigningKeyPair(alg);
      const priv = await importPrivateKey(privateJwk, alg);
      const pub = await importPublicKey(publicJwk, alg);
      expect(priv.type).toBe("private");
      expect(priv.extractable).toBe(false);
      expect(pub.type).toBe("public");
      // A private JWK handed to importPublicKey still yields only the public key.
      expect((await importPublicKey(privateJwk, alg)).type).toBe("public");
    }
  });

  it("refuses keys that do not fit the algorithm or lack the private part", async () => {
    const ed = await generateSigningKeyPair("EdDSA");
    const es = await generateSigningKeyPair("ES256");
    await expect(importPublicKey(ed.publicJwk, "ES256")).rejects.toThrow(Error);
    await expect(importPublicKey(es.publicJwk, "EdDSA")).rejects.toThrow(Error);
    await expect(importPrivateKey(ed.publicJwk, "EdDSA")).rejects.toThrow(/no private part/);
    await expect(importPublicKey({ kty: "oct", k: "c2VjcmV0" }, "EdDSA")).rejects.toThrow(Error);
  });

  describe("toPublicJwks", () => {
    it("never publishes d or any other private or unexpected member", async () => {
      const ed = await generateSigningKeyPair("EdDSA");
      const es = await generateSigningKeyPair("ES256");
      const polluted = (jwk: JWK): JWK => ({
        ...jwk,
        p: "x",
        q: "x",
        k: "x",
        ext: true,
        key_ops: ["sign"],
        alg: "HS256",
        use: "enc",
      });
      const jwks = toPublicJwks([
        { kid: "k-ed", alg: "EdDSA", publicJwk: polluted(ed.privateJwk) },
        { kid: "k-es", alg: "ES256", publicJwk: polluted(es.privateJwk) },
      ]);

      expect(jwks.keys).toEqual([
        { kty: "OKP", crv: "Ed25519", x: ed.publicJwk.x, kid: "k-ed", alg: "EdDSA", use: "sig" },
        { kty: "EC", crv: "P-256", x: es.publicJwk.x, y: es.publicJwk.y, kid: "k-es", alg: "ES256", use: "sig" },
      ]);
      const serialized = JSON.stringify(jwks);
      for (const member of PRIVATE_MEMBERS) {
        for (const key of jwks.keys) expect(key).not.toHaveProperty(member);
      }
      expect(serialized).not.toContain(ed.privateJwk.d as string);
      expect(serialized).not.toContain(es.privateJwk.d as string);
    });

    it("refuses a stored key whose type does not fit its algorithm", async () => {
      const ed = await generateSigningKeyPair("EdDSA");
      expect(() => toPublicJwks([{ kid: "k", alg: "ES256", publicJwk: ed.publicJwk }])).toThrow(Error);
      expect(() => toPublicJwks([{ kid: "", alg: "EdDSA", publicJwk: ed.publicJwk }])).toThrow(Error);
    });

    it("is empty for no keys", () => {
      expect(toPublicJwks([])).toEqual({ keys: [] });
    });
  });
});
