#!/usr/bin/env node
/**
 * `npm start`'s first step: builds with `npm run build` only when dist/ is missing or older than
 * anything it is built from (src/, migrations/, the tsconfigs, package.json, the lockfile), so a
 * second start goes straight to the server instead of spending half a minute in tsc. The build
 * writes dist/.build-stamp; a start compares the newest source file with it.
 */
const fs = require("node:fs");
const path = require("node:path");
const { execSync } = require("node:child_process");

const root = path.resolve(__dirname, "..");
const stamp = path.join(root, "dist", ".build-stamp");
const SOURCES = ["src", "migrations", "tsconfig.json", "tsconfig.build.json", "package.json", "package-lock.json"];

function newestMtime(entry) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const name of fs.readdirSync(entry)) newest = Math.max(newest, newestMtime(path.join(entry, name)));
  return newest;
}

function builtAt() {
  try {
    return fs.statSync(stamp).mtimeMs;
  } catch {
    return 0;
  }
}

const sourcesAt = Math.max(...SOURCES.map((entry) => newestMtime(path.join(root, entry))));
if (builtAt() >= sourcesAt && fs.existsSync(path.join(root, "dist", "src", "main.js"))) {
  process.exit(0);
}
console.log(builtAt() === 0 ? "Building Admit (first start)…" : "Sources changed since the last build: building…");
execSync("npm run --silent build", { cwd: root, stdio: "inherit" });
