/**
 * `npm run bench:crypto`: what one Ed25519 signature and one verification cost on this machine,
 * through jose 6 (WebCrypto, as Admit signs) and through node:crypto directly, in CPU
 * microseconds per operation. The join benchmark's ratios are bounded by these: the bare server
 * spends about 70-80 µs of CPU on a whole request.
 */
import { measureCryptoCosts } from "./support";

const N = Number(process.env.BENCH_OPS ?? 5000);

async function main(): Promise<void> {
  const costs = await measureCryptoCosts(N);
  console.log(`${N} operations each, Ed25519, node ${process.version}\n`);
  const line = (name: string, ms: number) => console.log(`${name.padEnd(44)} ${(ms * 1000).toFixed(1).padStart(7)} µs CPU/op`);
  line("jose SignJWT(...).sign (WebCrypto)", costs.joseSign);
  line("jose jwtVerify (WebCrypto)", costs.joseVerify);
  line("node:crypto sign (synchronous)", costs.nodeSign);
  line("node:crypto verify (synchronous)", costs.nodeVerify);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
