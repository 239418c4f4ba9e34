import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { DataSource } from "typeorm";
import type { Config } from "./config";
import type { Clock } from "./clock";
import { KeyEncryption } from "./auth/key-encryption";
import { MasterKeyMismatchError, MasterKeyService } from "./modules/master-key/master-key.service";

export interface ResolvedMasterKey {
  key: Buffer;
  source: "env" | "file" | "new-file";
  /** The key file under DATA_DIR, when the key came from (or was just written to) it. */
  file: string | null;
}

/**
 * The key that encrypts private keys at rest: MASTER_KEY when set; otherwise one made under
 * DATA_DIR on first start (mode 0600), so an embedded install needs no configuration.
 */
export function resolveMasterKey(config: Config): ResolvedMasterKey {
  if (config.masterKey) return { key: config.masterKey, source: "env", file: null };
  const file = path.join(config.dataDir, "master.key");
  if (fs.existsSync(file)) {
    const key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
    if (key.length !== 32) throw new Error(`${file} does not hold the base64 of 32 bytes.`);
    return { key, source: "file", file };
  }
  fs.mkdirSync(config.dataDir, { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return { key, source: "new-file", file };
}

/** A start refused because its master key does not open the database's keys: one line, naming MASTER_KEY. */
export class MasterKeyRefusedError extends Error {
  override name = "MasterKeyRefusedError";
}

/**
 * Before serving (the app, seed:analytics): the key must open the database's encrypted keys;
 * the first start of a database records it. A key file this very start made is removed again
 * when refused, so that it does not linger as a second, wrong key.
 * @throws MasterKeyRefusedError with one line that names MASTER_KEY and no key material.
 */
export async function verifyMasterKey(
  resolved: ResolvedMasterKey,
  dataSource: DataSource,
  clock: Clock,
): Promise<"matched" | "recorded"> {
  const service = new MasterKeyService({ dataSource, clock, encryption: new KeyEncryption(resolved.key) });
  try {
    const keyName =
      resolved.source === "env"
        ? "MASTER_KEY"
        : resolved.source === "file"
          ? `MASTER_KEY is not set, and the key in ${resolved.file}`
          : `MASTER_KEY is not set, and the new key this start made in ${resolved.file} (removed again)`;
    return await service.verifyAtStart(keyName);
  } catch (error) {
    if (!(error instanceof MasterKeyMismatchError)) throw error;
    if (resolved.source === "new-file" && resolved.file) fs.rmSync(resolved.file, { force: true });
    const fix =
      resolved.source !== "env"
        ? "Set MASTER_KEY to the key this database was set up with."
        : 'Start with the MASTER_KEY this database was set up with; to change keys, see "Rotating the master key" in the README.';
    throw new MasterKeyRefusedError(`${error.message} ${fix}`);
  }
}
