import { randomBytes } from "node:crypto";
import { KeyEncryption } from "../../src/auth/key-encryption";

describe("KeyEncryption", () => {
  const master = randomBytes(32);
  const enc = new KeyEncryption(master);
  const secret = JSON.stringify({ kty: "OKP", crv: "Ed25519", d: "private-part", x: "public-part" });

  it("round-trips with the same key id, in the versioned compact format", () => {
    const blob = enc.encrypt(secret, "kid-1");
    expect(blob).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(blob).not.toContain("private-part");
    expect(enc.decrypt(blob, "kid-1")).toBe(secret);
    // A fresh instance with the same master key reads it too (the key is not per-instance state).
    expect(new KeyEncryption(Buffer.from(master)).decrypt(blob, "kid-1")).toBe(secret);
  });

  it("uses a fresh IV each time", () => {
    const a = enc.encrypt(secret, "kid-1");
    const b = enc.encrypt(secret, "kid-1");
    expect(a.split(".")[1]).not.toBe(b.split(".")[1]);
    expect(a).not.toBe(b);
  });

  it("refuses a different AAD (a blob moved onto another key's row)", () => {
    const blob = enc.encrypt(secret, "kid-1");
    expect(() => enc.decrypt(blob, "kid-2")).toThrow(Error);
    expect(() => enc.decrypt(blob, "")).toThrow(Error);
  });

  it("refuses a wrong master key", () => {
    const blob = enc.encrypt(secret, "kid-1");
    expect(() => new KeyEncryption(randomBytes(32)).decrypt(blob, "kid-1")).toThrow(Error);
  });

  it("refuses a tampered blob, whichever part was changed", () => {
    const blob = enc.encrypt(secret, "kid-1");
    const parts = blob.split(".");
    for (const index of [1, 2, 3]) {
      const bytes = Buffer.from(parts[index], "base64url");
      bytes[0] ^= 0x01;
      const tampered = [...parts];
      tampered[index] = bytes.toString("base64url");
      expect(() => enc.decrypt(tampered.join("."), "kid-1")).toThrow(Error);
    }
  });

  it("refuses malformed blobs without echoing them", () => {
    const blob = enc.encrypt(secret, "kid-1");
    const [, iv, ct, tag] = blob.split(".");
    for (const bad of [
      "",
      "v1",
      `v2.${iv}.${ct}.${tag}`,
      `v1.${iv}.${ct}`,
      `v1.${iv}.${ct}.${tag}.x`,
      `v1.${iv}.${ct}.${tag.slice(0, 10)}`,
      `v1.${iv}.${ct}.${tag}=`,
    ]) {
      let caught: unknown;
      try {
        enc.decrypt(bad, "kid-1");
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(Error);
      if (bad) expect((caught as Error).message).not.toContain(bad);
    }
  });

  it("refuses a master key that is not exactly 32 bytes", () => {
    expect(() => new KeyEncryption(randomBytes(16))).toThrow(/32 bytes/);
    expect(() => new KeyEncryption(randomBytes(31))).toThrow(/32 bytes/);
    expect(() => new KeyEncryption(randomBytes(33))).toThrow(/32 bytes/);
    expect(() => new KeyEncryption(Buffer.alloc(0))).toThrow(/32 bytes/);
  });

  it("is not affected by later changes to the caller's buffer", () => {
    const mine = randomBytes(32);
    const e = new KeyEncryption(mine);
    const blob = e.encrypt(secret, "kid-1");
    mine.fill(0);
    expect(e.decrypt(blob, "kid-1")).toBe(secret);
  });

  it("names its key by an id that is the same for the same key, differs between keys, and is no part of the key", () => {
    expect(enc.keyId).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(new KeyEncryption(Buffer.from(master)).keyId).toBe(enc.keyId);
    expect(new KeyEncryption(randomBytes(32)).keyId).not.toBe(enc.keyId);
    for (const encoding of ["base64", "base64url", "hex"] as const)
      expect(master.toString(encoding)).not.toContain(enc.keyId.slice(0, 8));
  });
});
