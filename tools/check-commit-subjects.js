#!/usr/bin/env node
/**
 * `npm run check:commits [-- <base>]`: fails when a commit after <base> has a subject of 72
 * characters or more (git's one-line views and most review tools cut there).
 *
 * The default base is the first commit checked by this rule; older history is left as it was.
 * Every commit reachable from HEAD and not from the base is checked, merges included. Where the
 * base is not in the history (a shallow clone, an export without .git), the check says so and
 * passes: it cannot tell which commits are new.
 */
const { execFileSync } = require("node:child_process");

const DEFAULT_BASE = "df4cbef";
const LIMIT = 72;
/**
 * Landed before this check ran in CI (merged from work branches the same day it was written);
 * rewriting merged history would change every hash after them, so they stay as they are.
 */
const LANDED_BEFORE_THE_CHECK = new Set(["ff44c2c", "60b7e02", "add8a82"]);

const git = (...args) => execFileSync("git", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const succeeds = (...args) => {
  try {
    git(...args);
    return true;
  } catch {
    return false;
  }
};
const skip = (reason) => {
  console.log(`check:commits skipped: ${reason}`);
  process.exit(0);
};

const base = process.argv[2] || DEFAULT_BASE;
if (!succeeds("rev-parse", "--git-dir")) skip("not a git repository.");
if (!succeeds("rev-parse", "--verify", "--quiet", `${base}^{commit}`)) {
  const shallow =
    succeeds("rev-parse", "--is-shallow-repository") && git("rev-parse", "--is-shallow-repository").trim() === "true";
  skip(`the base commit ${base} is not in this history${shallow ? " (a shallow clone: fetch with --unshallow)" : ""}.`);
}
if (!succeeds("merge-base", "--is-ancestor", base, "HEAD")) skip(`the base commit ${base} is not an ancestor of HEAD.`);

// NUL-separated records: a subject may hold any character but a newline, a hash never a tab.
const records = git("log", "--format=%h%x09%s%x00", `${base}..HEAD`)
  .split("\0")
  .map((record) => record.replace(/^\n/, ""))
  .filter(Boolean);
const tooLong = records
  .map((record) => {
    const tab = record.indexOf("\t");
    return { hash: record.slice(0, tab), subject: record.slice(tab + 1) };
  })
  .filter(({ hash, subject }) => [...subject].length >= LIMIT && !LANDED_BEFORE_THE_CHECK.has(hash.slice(0, 7)));

if (tooLong.length) {
  console.error(`Commit subjects must be under ${LIMIT} characters (commits after ${base}):`);
  for (const { hash, subject } of tooLong) console.error(`  ${hash} (${[...subject].length}) ${subject}`);
  console.error("Reword them (git rebase -i, reword) before merging: the subject says what changed, the body why.");
  process.exit(1);
}
console.log(`check:commits: ${records.length} commit subject(s) after ${base}, all under ${LIMIT} characters.`);
