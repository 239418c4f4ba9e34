import { exportJWK, generateKeyPair, importJWK } from "jose";
import type { CryptoKey, JWK } from "jose";

/** Algorithms Admit signs its own tokens with (docs/tokens.md): Ed25519 by default, ES256 allowed. */
export type SigningAlg = "EdDSA" | "ES256";

export const SIGNING_ALGS: readonly SigningAlg[] = Object.freeze(["EdDSA", "ES256"] as const);

/** The key type and curve each algorithm must use; anything else in a stored JWK is refused. */
const KEY_SHAPE: Record<SigningAlg, { kty: "OKP" | "EC"; crv: string; hasY: boolean }> = {
  EdDSA: { kty: "OKP", crv: "Ed25519", hasY: false },
  ES256: { kty: "EC", crv: "P-256", hasY: true },
};

export function isSigningAlg(value: unknown): value is SigningAlg {
  return typeof value === "string" && (SIGNING_ALGS as readonly string[]).includes(value);
}

/**
 * Generates a new signing key pair. Extractable because the private JWK is encrypted and stored
 * (see KeyEncryption); the CryptoKeys used for signing are re-imported non-extractable.
 */
export async function generateSigningKeyPair(alg: SigningAlg): Promise<{ publicJwk: JWK; privateJwk: JWK }> {
  const { publicKey, privateKey } = await generateKeyPair(
    alg,
    alg === "EdDSA" ? { crv: "Ed25519", extractable: true } : { extractable: true },
  );
  const [publicJwk, privateJwk] = await Promise.all([exportJWK(publicKey), exportJWK(privateKey)]);
  return { publicJwk: publicMembers(publicJwk, alg), privateJwk };
}

/**
 * Imports a stored private JWK for signing. Done once per key and cached by the caller, not per
 * token. The resulting key is not extractable.
 * @throws Error when the JWK does not fit `alg` or has no private part.
 */
export async function importPrivateKey(privateJwk: JWK, alg: SigningAlg): Promise<CryptoKey> {
  if (typeof privateJwk?.d !== "string" || privateJwk.d === "") {
    throw new Error(`The ${alg} signing key has no private part.`);
  }
  return importAsCryptoKey({ ...publicMembers(privateJwk, alg), d: privateJwk.d }, alg);
}

/**
 * Imports a stored public JWK for verification. Only the public members are read, so a JWK that
 * also carries `d` still yields a public key.
 * @throws Error when the JWK does not fit `alg`.
 */
export async function importPublicKey(publicJwk: JWK, alg: SigningAlg): Promise<CryptoKey> {
  return importAsCryptoKey(publicMembers(publicJwk, alg), alg);
}

/**
 * The JWKS document served at `<iss>/.well-known/jwks.json`. Members are allow-listed per key
 * type, so a private member (`d`, or anything unexpected) can never be published even if the
 * input carries it.
 * @throws Error when a stored key does not fit its algorithm (corrupt data, not a caller mistake).
 */
export function toPublicJwks(keys: { kid: string; alg: SigningAlg; publicJwk: JWK }[]): { keys: JWK[] } {
  return {
    keys: keys.map(({ kid, alg, publicJwk }) => {
      if (typeof kid !== "string" || kid === "") throw new Error("A signing key has no key id.");
      return { ...publicMembers(publicJwk, alg), kid, alg, use: "sig" };
    }),
  };
}

/** Copies only kty, crv, x (and y for EC), after checking they fit `alg`. */
function publicMembers(jwk: JWK, alg: SigningAlg): JWK {
  if (!isSigningAlg(alg)) throw new Error("Unsupported signing algorithm.");
  const shape = KEY_SHAPE[alg];
  if (jwk?.kty !== shape.kty || jwk.crv !== shape.crv || !isB64u(jwk.x) || (shape.hasY && !isB64u(jwk.y))) {
    throw new Error(`The stored key is not a valid ${alg} key (${shape.kty} ${shape.crv}).`);
  }
  return shape.hasY ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
}

function isB64u(value: unknown): value is string {
  return typeof value === "string" && /^[A-Za-z0-9_-]+$/.test(value);
}

async function importAsCryptoKey(jwk: JWK, alg: SigningAlg): Promise<CryptoKey> {
  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(jwk, alg, { extractable: false });
  } catch (cause) {
    throw new Error(`The stored ${alg} key could not be imported.`, { cause });
  }
  // Only an "oct" JWK yields bytes, and publicMembers never lets one through.
  if (key instanceof Uint8Array) throw new Error(`The stored ${alg} key is not an asymmetric key.`);
  return key;
}
