import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const root = path.resolve(__dirname, "../..");
const lock = path.join(os.tmpdir(), `admit-build-${createHash("sha256").update(root).digest("hex").slice(0, 12)}.lock`);

/**
 * Builds dist/ as `npm start` does before it starts: only when a source is newer than the last
 * build (CI has just built it, so its test runs start at once). One process at a time: the
 * PostgreSQL and PGlite suites may run side by side, and two builds into one dist/ would write
 * the same files while the other suite starts them.
 */
export async function buildDist(): Promise<void> {
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A lock left by a process that died mid-build is taken over after a while.
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 5 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    await promisify(execFile)(process.execPath, [path.join(root, "tools/build-if-stale.js")], { cwd: root });
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}
