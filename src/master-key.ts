import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import type { Config } from "./config";

/**
 * The key that encrypts private keys at rest: MASTER_KEY when set; otherwise one made under
 * DATA_DIR on first start (mode 0600), so an embedded install needs no configuration.
 */
export function resolveMasterKey(config: Config): { key: Buffer; source: "env" | "file" | "new-file" } {
  if (config.masterKey) return { key: config.masterKey, source: "env" };
  const file = path.join(config.dataDir, "master.key");
  if (fs.existsSync(file)) {
    const key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
    if (key.length !== 32) throw new Error(`${file} does not hold the base64 of 32 bytes.`);
    return { key, source: "file" };
  }
  fs.mkdirSync(config.dataDir, { recursive: true });
  const key = randomBytes(32);
  fs.writeFileSync(file, `${key.toString("base64")}\n`, { mode: 0o600, flag: "wx" });
  return { key, source: "new-file" };
}
