import "reflect-metadata";
import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../config";
import { migrate, openDatabase } from "../db/database";
import { systemClock } from "../clock";
import { KeyEncryption } from "../auth/key-encryption";
import { ENCRYPTED_COLUMNS, MasterKeyService } from "../modules/master-key/master-key.service";

/**
 * `npm run master-key:rotate`: re-encrypts every column encrypted under the master key (signing
 * keys' private JWKs, partner secrets) from MASTER_KEY_OLD to MASTER_KEY and records MASTER_KEY
 * as the database's key, in one transaction. Keys are read from the environment only (never
 * from arguments, which `ps` and shell history keep).
 *
 * Nodes still running with the old key turn unready (/readyz 503) and must be restarted with the
 * new one; stop them first so that none writes a new key under the old one meanwhile (an embedded
 * database must be stopped anyway: one process at a time).
 */
class UsageError extends Error {}

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.masterKey)
    throw new UsageError("MASTER_KEY must be set to the new key (the base64 of 32 bytes: openssl rand -base64 32).");
  if (!config.masterKeyOld) {
    throw new UsageError(
      "MASTER_KEY_OLD must be set to the key the database is under now (without MASTER_KEY so far: the content of DATA_DIR/master.key).",
    );
  }
  if (config.masterKey.equals(config.masterKeyOld))
    throw new UsageError("MASTER_KEY and MASTER_KEY_OLD are the same key: nothing to rotate.");
  const old = new KeyEncryption(config.masterKeyOld);
  const next = new KeyEncryption(config.masterKey);
  const db = await openDatabase(
    config.databaseUrl
      ? { kind: "postgres", url: config.databaseUrl }
      : { kind: "pglite", dataDir: path.join(config.dataDir, "pgdata") },
  );
  let result;
  try {
    await migrate(db.dataSource);
    result = await new MasterKeyService({ dataSource: db.dataSource, clock: systemClock, encryption: old }).rotateTo(
      next,
    );
  } finally {
    await db.close();
  }
  if (result.alreadyRotated) {
    process.stdout.write(`The database is already under MASTER_KEY (master key id ${next.keyId}): nothing changed.\n`);
  } else {
    // Per table (a webhook endpoint has a current and, after a rotation, a previous secret).
    const tables = new Map(ENCRYPTED_COLUMNS.map(({ table, what }) => [table, what] as const).reverse());
    const parts = [...tables].reverse().map(([table, what]) => `${result.reencrypted[table]} ${what}(s)`);
    const counts =
      parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}` : parts.join("");
    process.stdout.write(
      `Re-encrypted ${counts} under MASTER_KEY: master key id ${old.keyId} → ${next.keyId}. Start every node with the new MASTER_KEY.\n`,
    );
  }
  replaceKeyFile(config.dataDir, config.masterKeyOld, config.masterKey);
}

/**
 * An install that never set MASTER_KEY reads its key from DATA_DIR/master.key: when that file
 * holds the old key, it now holds the new one (written aside, then renamed over it), so a start
 * without MASTER_KEY goes on working.
 */
function replaceKeyFile(dataDir: string, oldKey: Buffer, newKey: Buffer): void {
  const file = path.join(dataDir, "master.key");
  if (!fs.existsSync(file) || !Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64").equals(oldKey)) return;
  const aside = `${file}.new`;
  fs.writeFileSync(aside, `${newKey.toString("base64")}\n`, { mode: 0o600 });
  fs.renameSync(aside, file);
  process.stdout.write(`${file} held the old key: it now holds the new one.\n`);
}

main().catch((error) => {
  // One line, no stack. Refusals (ConfigError, UsageError, MasterKeyMismatchError) name the
  // variable and key ids only; anything else is the database's own message.
  process.stderr.write(`master-key:rotate failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
