import { createPrivateKey, createPublicKey, sign, verify, webcrypto } from "node:crypto";
import { createSigner, createVerifier } from "fast-jwt";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";

/** A GraphQL request over HTTP for the benchmarks; fails loudly on any error in the answer. */
export async function gql(url: string, query: string, variables: object = {}, key?: string): Promise<any> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/**
 * CPU milliseconds per Ed25519 operation on this machine: through jose 6 (WebCrypto, as Admit
 * signed before), fast-jwt (node:crypto, as Admit signs now) and node:crypto directly.
 */
export interface CryptoCosts {
  joseSign: number;
  joseVerify: number;
  fastSign: number;
  fastVerify: number;
  nodeSign: number;
  nodeVerify: number;
}

/** CPU milliseconds per call of `op`, run `n` times one after another (all threads of the process). */
export async function cpuMsPerOp(n: number, op: (i: number) => unknown): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await op(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / n;
}

/** An Ed25519 key pair in each form the libraries take, and a token signed with it. */
export async function benchKeys() {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const token = await new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "EdDSA" }).setIssuedAt().sign(privateKey);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", privateKey));
  const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", publicKey));
  const nodePrivate = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const nodePublic = createPublicKey({ key: spki, format: "der", type: "spki" });
  const privatePem = nodePrivate.export({ format: "pem", type: "pkcs8" }).toString();
  const publicPem = nodePublic.export({ format: "pem", type: "spki" }).toString();
  const data = Buffer.from(token.slice(0, token.lastIndexOf(".")));
  const signature = sign(null, data, nodePrivate);
  return { privateKey, publicKey, nodePrivate, nodePublic, privatePem, publicPem, token, data, signature };
}

/** Measures one signature and one verification, `n` times each, in this process. */
export async function measureCryptoCosts(n = 5000): Promise<CryptoCosts> {
  const k = await benchKeys();
  // Made once, as Admit keeps them per key: fast-jwt parses its PEM key when they are made.
  const fastSigner = createSigner({ key: k.privatePem, algorithm: "EdDSA" });
  const fastVerifier = createVerifier({ key: k.publicPem, algorithms: ["EdDSA"] });
  return {
    joseSign: await cpuMsPerOp(n, (i) =>
      new SignJWT({ sub: `u${i}` }).setProtectedHeader({ alg: "EdDSA" }).sign(k.privateKey),
    ),
    joseVerify: await cpuMsPerOp(n, () => jwtVerify(k.token, k.publicKey)),
    fastSign: await cpuMsPerOp(n, (i) => fastSigner({ sub: `u${i}` })),
    fastVerify: await cpuMsPerOp(n, () => fastVerifier(k.token)),
    nodeSign: await cpuMsPerOp(n, () => sign(null, k.data, k.nodePrivate)),
    nodeVerify: await cpuMsPerOp(n, () => verify(null, k.data, k.nodePublic, k.signature)),
  };
}
