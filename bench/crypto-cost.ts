/**
 * `npm run bench:crypto`: what one Ed25519 signature and one verification cost on this machine,
 * through jose 6 (WebCrypto, as Admit signs) and through node:crypto directly, in CPU
 * microseconds per operation. The join benchmark's ratios are bounded by these: the bare server
 * spends about 70-80 µs of CPU on a whole request.
 */
import { createPrivateKey, createPublicKey, sign, verify, webcrypto } from "node:crypto";
import { generateKeyPair, jwtVerify, SignJWT } from "jose";

const N = Number(process.env.BENCH_OPS ?? 5000);

async function measure(name: string, op: (i: number) => unknown): Promise<void> {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) await op(i);
  const used = process.cpuUsage(start);
  console.log(`${name.padEnd(44)} ${((used.user + used.system) / N).toFixed(1).padStart(7)} µs CPU/op`);
}

async function main(): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const token = await new SignJWT({ sub: "u" }).setProtectedHeader({ alg: "EdDSA" }).setIssuedAt().sign(privateKey);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", privateKey as webcrypto.CryptoKey));
  const spki = Buffer.from(await webcrypto.subtle.exportKey("spki", publicKey as webcrypto.CryptoKey));
  const nodePrivate = createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  const nodePublic = createPublicKey({ key: spki, format: "der", type: "spki" });
  const data = Buffer.from(token.slice(0, token.lastIndexOf(".")));
  const signature = sign(null, data, nodePrivate);
  console.log(`${N} operations each, Ed25519, node ${process.version}\n`);
  await measure("jose SignJWT(...).sign (WebCrypto)", (i) => new SignJWT({ sub: `u${i}` }).setProtectedHeader({ alg: "EdDSA" }).sign(privateKey));
  await measure("jose jwtVerify (WebCrypto)", () => jwtVerify(token, publicKey));
  await measure("node:crypto sign (synchronous)", () => sign(null, data, nodePrivate));
  await measure("node:crypto verify (synchronous)", () => verify(null, data, nodePublic, signature));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
