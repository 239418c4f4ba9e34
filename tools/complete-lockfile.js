#!/usr/bin/env node
/**
 * `npm run lockfile:complete`, after any `npm install` that changed package-lock.json.
 *
 * The npm registry this project's machines reach does not serve every platform build of native
 * packages (e.g. @swc/core-darwin-arm64). npm then leaves those optional dependencies out of the
 * lockfile, and `npm ci` refuses the lockfile as out of sync. This adds the entries npm would
 * have written (version, optional, os/cpu/libc), so `npm ci` skips them on this platform as it
 * does for any foreign-platform build. Nothing is downloaded.
 */
const fs = require("node:fs");
const path = require("node:path");

const file = path.resolve(__dirname, "..", "package-lock.json");
const lock = JSON.parse(fs.readFileSync(file, "utf8"));
const packages = lock.packages;

function platformOf(name) {
  const match =
    /(darwin|linux|win32|android|freebsd|openharmony|sunos|netbsd|openbsd|aix)-(arm64|x64|arm|ia32|ppc64|s390x|loong64|riscv64|mips64el)(?:-(gnu|musl|gnueabihf|musleabihf|msvc|eabi))?$/.exec(
      name.split("/").pop(),
    );
  if (!match) return null;
  const [, os, cpu, abi] = match;
  const platform = { os: [os], cpu: [cpu] };
  if (os === "linux" && abi) platform.libc = [abi.includes("musl") ? "musl" : "glibc"];
  return platform;
}

let added = 0;
for (const [location, meta] of Object.entries(packages)) {
  for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
    const nested = `${location}/node_modules/${name}`;
    const top = `node_modules/${name}`;
    if (packages[nested] || packages[top]) continue;
    const platform = platformOf(name);
    if (!platform) {
      console.warn(`left out: ${name} (no platform in its name)`);
      continue;
    }
    packages[top] = { version, ...(meta.dev ? { dev: true } : {}), optional: true, ...platform };
    added++;
  }
}

const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(
  added
    ? `package-lock.json: added ${added} platform entries the registry does not serve.`
    : "package-lock.json is complete.",
);
