// Where Chromium is, for the examples' browser check (the same places the browser tests look).
"use strict";
const { execFileSync } = require("node:child_process");
const { existsSync } = require("node:fs");

exports.findChromium = function findChromium() {
  for (const path of [
    process.env.CHROMIUM_PATH,
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ]) {
    if (path && existsSync(path)) return path;
  }
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    try {
      const path = execFileSync("which", [name], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
      if (path) return path;
    } catch {
      // not on PATH
    }
  }
  return null;
};
