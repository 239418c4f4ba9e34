import { createPrivateKey, createPublicKey, sign, verify, webcrypto } from "node:crypto";
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

/** CPU milliseconds per Ed25519 operation on this machine, through jose 6 (as Admit signs) and node:crypto. */
export interface CryptoCosts {
  joseSign: number;
  joseVerify: number;
  nodeSign: number;
  nodeVerify: number;
}

async function cpuMsPerOp(n: number, op: (i: number) => unknown): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) await op(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / n;
}

/** Measures one signature and one verification, `n` times each, in this process. */
export async function measureCryptoCosts(n = 5000): Promise<CryptoCosts> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const token = await new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "EdDSA" }).setIssuedAt().sign(privateKey);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", privateKey as webcrypto.CryptoKey));
  const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", publicKey as webcrypto.CryptoKey));
  const nodePrivate = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const nodePublic = createPublicKey({ key: spki, format: "der", type: "spki" });
  const data = Buffer.from(token.slice(0, token.lastIndexOf(".")));
  const signature = sign(null, data, nodePrivate);
  return {
    joseSign: await cpuMsPerOp(n, (i) => new SignJWT({ sub: `u${i}` }).setProtectedHeader({ alg: "EdDSA" }).sign(privateKey)),
    joseVerify: await cpuMsPerOp(n, () => jwtVerify(token, publicKey)),
    nodeSign: await cpuMsPerOp(n, () => sign(null, data, nodePrivate)),
    nodeVerify: await cpuMsPerOp(n, () => verify(null, data, nodePublic, signature)),
  };
}
