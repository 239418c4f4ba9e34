/**
 * `npm run bench:crypto`: what one Ed25519 signature and one verification cost on this machine,
 * in CPU microseconds per operation (all threads of the process): through jose 6 (WebCrypto, as
 * Admit signed before), fast-jwt (node:crypto, as Admit signs now, its signer and verifier made
 * once), node:crypto directly, both synchronous and with a callback (the work then runs on
 * libuv's thread pool, off the event loop), and Admit's own signToken/verifyToken with every rule.
 * The join benchmark's ratios are bounded by these: the bare server spends about 70-80 µs of CPU
 * on a whole request.
 *
 * Then a concurrent figure: BENCH_TOKENS (default 2,000) tokens with BENCH_IN_FLIGHT (default 64)
 * in flight, in tokens per second of wall clock, for fast-jwt (synchronous, on the event loop)
 * and node:crypto with a callback (on the thread pool, UV_THREADPOOL_SIZE threads, default 4).
 * BENCH_OPS (default 5,000) sets the count of the sequential figures.
 */
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import type { JsonWebKey } from "node:crypto";
import { createSigner, createVerifier } from "fast-jwt";
import { generateSigningKeyPair } from "../src/auth/signing-keys";
import { signToken, TokenSigningKey, verifyToken } from "../src/auth/tokens";
import { benchKeys, cpuMsPerOp, measureCryptoCosts } from "./support";

const N = Number(process.env.BENCH_OPS ?? 5000);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 2000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 64);

const signAsync = (data: Buffer, key: Parameters<typeof sign>[2]) =>
  new Promise<Buffer>((resolve, reject) =>
    sign(null, data, key, (error, signature) => (error ? reject(error) : resolve(signature))),
  );
const verifyAsync = (data: Buffer, key: Parameters<typeof verify>[2], signature: Buffer) =>
  new Promise<boolean>((resolve, reject) =>
    verify(null, data, key, signature, (error, valid) => (error ? reject(error) : resolve(valid))),
  );

/** `total` calls of `op` with `inFlight` of them pending at a time: wall-clock rate and CPU per call. */
async function concurrently(
  total: number,
  inFlight: number,
  op: (i: number) => unknown,
): Promise<{ perSecond: number; cpuUs: number }> {
  let next = 0;
  const worker = async () => {
    while (next < total) await op(next++);
  };
  const cpu = process.cpuUsage();
  const start = performance.now();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - start) / 1000;
  const used = process.cpuUsage(cpu);
  return { perSecond: total / seconds, cpuUs: (used.user + used.system) / total };
}

async function main(): Promise<void> {
  const costs = await measureCryptoCosts(N);
  const k = await benchKeys();

  // Callback forms: the signature is made on a thread-pool thread; the CPU figure counts it too.
  const nodeSignCallback = await cpuMsPerOp(N, () => signAsync(k.data, k.nodePrivate));
  const nodeVerifyCallback = await cpuMsPerOp(N, () => verifyAsync(k.data, k.nodePublic, k.signature));

  // What caching fast-jwt's signer and verifier saves: made per token, they parse the PEM each time.
  const fewer = Math.max(1, Math.floor(N / 10));
  const fastSignMadePerToken = await cpuMsPerOp(fewer, (i) =>
    createSigner({ key: k.privatePem, algorithm: "EdDSA" })({ sub: `u${i}` }),
  );
  const fastVerifyMadePerToken = await cpuMsPerOp(fewer, () =>
    createVerifier({ key: k.publicPem, algorithms: ["EdDSA"] })(k.token),
  );

  // Admit's own path, every rule, a key as SigningKeyService caches it.
  const { privateJwk, publicJwk } = await generateSigningKeyPair("EdDSA");
  const key: TokenSigningKey = {
    kid: "bench",
    alg: "EdDSA",
    privateKey: createPrivateKey({ key: privateJwk as JsonWebKey, format: "jwk" }),
  };
  const publicKey = createPublicKey({ key: publicJwk as JsonWebKey, format: "jwk" });
  const issuer = "https://admit.example/c/bench";
  const now = new Date();
  const signInput = (i: number) => ({
    kind: "session" as const,
    key,
    issuer,
    subject: `user-${i}`,
    jti: `jti-${i}`,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 600_000),
    claims: { evt: "event-1", role: "ATTENDEE" },
  });
  const admitToken = await signToken(signInput(0));
  const verifyOptions = {
    kinds: ["session" as const],
    issuer,
    now,
    resolveKey: async () => ({ alg: "EdDSA" as const, publicKey }),
  };
  const admitSign = await cpuMsPerOp(N, (i) => signToken(signInput(i)));
  const admitVerify = await cpuMsPerOp(N, () => verifyToken(admitToken, verifyOptions));

  console.log(`${N} operations each, Ed25519, node ${process.version}\n`);
  const line = (name: string, ms: number) =>
    console.log(`${name.padEnd(58)} ${(ms * 1000).toFixed(1).padStart(7)} µs CPU/op`);
  line("jose SignJWT(...).sign (WebCrypto)", costs.joseSign);
  line("jose jwtVerify (WebCrypto)", costs.joseVerify);
  line("fast-jwt signer (node:crypto; made once per key)", costs.fastSign);
  line("fast-jwt verifier (node:crypto; made once per key)", costs.fastVerify);
  line(`fast-jwt signer made per token (${fewer} operations)`, fastSignMadePerToken);
  line(`fast-jwt verifier made per token (${fewer} operations)`, fastVerifyMadePerToken);
  line("node:crypto sign (synchronous)", costs.nodeSign);
  line("node:crypto verify (synchronous)", costs.nodeVerify);
  line("node:crypto sign (callback, thread pool)", nodeSignCallback);
  line("node:crypto verify (callback, thread pool)", nodeVerifyCallback);
  line("Admit signToken (fast-jwt, session token)", admitSign);
  line("Admit verifyToken (fast-jwt, every rule)", admitVerify);

  const fastSigner = createSigner({ key: k.privatePem, algorithm: "EdDSA" });
  const fastVerifier = createVerifier({ key: k.publicPem, algorithms: ["EdDSA"] });
  const pool = process.env.UV_THREADPOOL_SIZE ?? "4";
  console.log(
    `\n${TOKENS} tokens, ${IN_FLIGHT} in flight, ${pool} thread-pool threads: tokens/s (wall clock), µs CPU/token`,
  );
  const rate = (name: string, r: { perSecond: number; cpuUs: number }) =>
    console.log(`${name.padEnd(58)} ${r.perSecond.toFixed(0).padStart(7)} /s ${r.cpuUs.toFixed(1).padStart(7)} µs CPU`);
  rate("sign: fast-jwt (synchronous)", await concurrently(TOKENS, IN_FLIGHT, (i) => fastSigner({ sub: `u${i}` })));
  rate("sign: node:crypto (callback)", await concurrently(TOKENS, IN_FLIGHT, () => signAsync(k.data, k.nodePrivate)));
  rate("verify: fast-jwt (synchronous)", await concurrently(TOKENS, IN_FLIGHT, () => fastVerifier(k.token)));
  rate(
    "verify: node:crypto (callback)",
    await concurrently(TOKENS, IN_FLIGHT, () => verifyAsync(k.data, k.nodePublic, k.signature)),
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
