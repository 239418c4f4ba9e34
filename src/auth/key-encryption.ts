import { createCipheriv, createDecipheriv, createHmac, randomBytes } from "node:crypto";

const VERSION = "v1";
const ALGORITHM = "aes-256-gcm";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Encrypts private signing keys and partner secrets at rest with the master key (AES-256-GCM).
 *
 * The key id is bound as associated data, so a ciphertext copied onto another key's row fails
 * to decrypt instead of silently signing with the wrong key. The output carries a version so the
 * scheme can change later without guessing at old rows.
 */
export class KeyEncryption {
  private readonly key: Buffer;
  /**
   * Names the master key without revealing it (an HMAC of a fixed label under the key, 96 bits):
   * stored beside the database's key verifier and shown in messages, so an operator can tell
   * which key a database was set up with.
   */
  readonly keyId: string;

  /** @param masterKey exactly 32 bytes; copied, so later changes to the caller's buffer do not leak in. */
  constructor(masterKey: Buffer) {
    if (!Buffer.isBuffer(masterKey) || masterKey.length !== KEY_BYTES) {
      throw new Error(`The master key must be exactly ${KEY_BYTES} bytes.`);
    }
    this.key = Buffer.from(masterKey);
    this.keyId = createHmac("sha256", this.key).update("admit master key id").digest("base64url").slice(0, 16);
  }

  /**
   * Encrypts `plaintext` bound to `aad` (the key id).
   * @returns `v1.<iv>.<ciphertext>.<tag>`, each part base64url.
   */
  encrypt(plaintext: string, aad: string): string {
    // A fresh random IV per message: GCM is broken by IV reuse under one key.
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, "utf8"));
    const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString("base64url"), ciphertext.toString("base64url"), tag.toString("base64url")].join(".");
  }

  /**
   * Decrypts a blob made by {@link encrypt}.
   * @throws Error when the format is unknown, the AAD differs, the master key is wrong or the
   *   blob was altered. The message never includes the blob.
   */
  decrypt(blob: string, aad: string): string {
    const parts = typeof blob === "string" ? blob.split(".") : [];
    if (parts.length !== 4 || parts[0] !== VERSION || !parts.slice(1).every((part) => BASE64URL.test(part))) {
      throw new Error("The encrypted key is not in a format this version understands.");
    }
    const iv = Buffer.from(parts[1], "base64url");
    const ciphertext = Buffer.from(parts[2], "base64url");
    const tag = Buffer.from(parts[3], "base64url");
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new Error("The encrypted key is not in a format this version understands.");
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, "utf8"));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString("utf8");
    } catch {
      // node's message ("Unsupported state or unable to authenticate data") says nothing useful.
      throw new Error("The encrypted key could not be decrypted: wrong master key, wrong key id, or altered data.");
    }
  }
}
