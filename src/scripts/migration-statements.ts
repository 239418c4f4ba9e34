import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { MigrationInterface, QueryRunner } from "typeorm";
import { MIGRATIONS } from "../../migrations";
import { lexSql, normaliseSql } from "./migration-sql";

/**
 * A migration that has run somewhere must keep running the same statements: reformatting it is
 * welcome, changing what it does is not (databases that ran it would differ from new ones).
 * migrations/statement-fingerprints.txt holds, per migration, direction and statement, a hash of
 * the statement's canonical text (normaliseSql: whitespace and comments outside quotes do not
 * count; everything quoted does, byte for byte). The check runs every migration's up() and down()
 * against a QueryRunner that only records, and compares. `npm run db:check` runs it.
 *
 * `npm run migration:record` appends the migrations not recorded yet; it never rewrites a
 * recorded one. To change a migration that has run nowhere yet, delete its lines first.
 */

/** The repository's root, from src/scripts or dist/src/scripts alike. */
export function repositoryRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`No package.json above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export const FINGERPRINT_FILE = path.join(repositoryRoot(), "migrations", "statement-fingerprints.txt");

const HEADER = `# The statements each migration runs, one line each: migration, direction, position, the first
# 128 bits of the SHA-256 of its canonical text, and the start of that text. Appended to by
# npm run migration:record (src/scripts/migration-statements.ts), checked by npm run db:check.
# Do not edit the lines of a migration that has run anywhere: write a new migration instead.
`;

type Direction = "up" | "down";

interface Fingerprint {
  migration: string;
  direction: Direction;
  position: number;
  hash: string;
  head: string;
}

/** The SQL a migration's up() or down() sends, in order, through a QueryRunner that only records. */
export async function recordStatements(migration: MigrationInterface, direction: Direction): Promise<string[]> {
  const statements: string[] = [];
  const recorder = {
    async query(sql: string, parameters?: unknown[]) {
      statements.push(parameters?.length ? `${sql}\n-- parameters: ${JSON.stringify(parameters)}` : sql);
      return [];
    },
  };
  const name = migration.name ?? migration.constructor.name;
  const runner = new Proxy(recorder, {
    get(target, property) {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- the recorder's methods are arrow-free on purpose: TypeORM calls them on the proxy
      if (property in target) return target[property as keyof typeof target];
      throw new Error(
        `${name}.${direction}() uses queryRunner.${String(property)}; the statement check records query() only`,
      );
    },
  }) as unknown as QueryRunner;
  await migration[direction](runner);
  return statements;
}

function fingerprintOf(migration: string, direction: Direction, position: number, sql: string): Fingerprint {
  const canonical = normaliseSql(sql);
  const hash = createHash("sha256").update(canonical).digest("hex").slice(0, 32);
  // Shown only, to say which statement a line is: the text on one line, without comments.
  const oneLine = lexSql(sql)
    .filter((piece) => piece.kind !== "comment")
    .map((piece) => (piece.kind === "space" ? " " : piece.text.replace(/\s+/g, " ")))
    .join("")
    .replace(/ +/g, " ")
    .trim();
  const head = oneLine.length > 72 ? `${oneLine.slice(0, 72)}…` : oneLine;
  return { migration, direction, position, hash, head };
}

/** The fingerprints of every migration in MIGRATIONS, in order. */
export async function currentFingerprints(
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's migrations option is Function[]
  migrations: Function[] = MIGRATIONS,
): Promise<Map<string, Fingerprint[]>> {
  const result = new Map<string, Fingerprint[]>();
  for (const Migration of migrations) {
    const migration = new (Migration as new () => MigrationInterface)();
    const name = migration.name ?? Migration.name;
    const prints: Fingerprint[] = [];
    for (const direction of ["up", "down"] as const) {
      const statements = await recordStatements(migration, direction);
      statements.forEach((sql, k) => prints.push(fingerprintOf(name, direction, k + 1, sql)));
    }
    result.set(name, prints);
  }
  return result;
}

const line = (f: Fingerprint) => `${f.migration} ${f.direction} ${f.position} ${f.hash} ${f.head}`;

function readFingerprints(file: string): Map<string, Fingerprint[]> {
  const result = new Map<string, Fingerprint[]>();
  if (!fs.existsSync(file)) return result;
  for (const text of fs.readFileSync(file, "utf8").split("\n")) {
    if (!text.trim() || text.startsWith("#")) continue;
    const [migration, direction, position, hash] = text.split(" ");
    const head = text.split(" ").slice(4).join(" ");
    if (!result.has(migration)) result.set(migration, []);
    result
      .get(migration)!
      .push({ migration, direction: direction as Direction, position: Number(position), hash, head });
  }
  return result;
}

export interface StatementCheck {
  /** Recorded migrations whose statements differ, or that are gone: each a line to show. */
  changed: string[];
  /** Migrations not recorded yet. */
  unrecorded: string[];
}

/** Compares what the migrations run now with what was recorded. */
export async function checkStatements(
  file = FINGERPRINT_FILE,
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's migrations option is Function[]
  migrations: Function[] = MIGRATIONS,
): Promise<StatementCheck> {
  const recorded = readFingerprints(file);
  const current = await currentFingerprints(migrations);
  const changed: string[] = [];
  for (const [name, was] of recorded) {
    const now = current.get(name);
    if (!now) {
      changed.push(`${name}: recorded, but no longer in migrations/index.ts`);
      continue;
    }
    for (const direction of ["up", "down"] as const) {
      const a = was.filter((f) => f.direction === direction);
      const b = now.filter((f) => f.direction === direction);
      for (let k = 0; k < Math.max(a.length, b.length); k++) {
        if (a[k]?.hash === b[k]?.hash) continue;
        const where = `${name} ${direction} statement ${k + 1}`;
        if (!b[k]) changed.push(`${where}: recorded "${a[k].head}", now missing`);
        else if (!a[k]) changed.push(`${where}: not recorded, now "${b[k].head}"`);
        else changed.push(`${where}: recorded "${a[k].head}", now "${b[k].head}"`);
      }
    }
  }
  const unrecorded = [...current.keys()].filter((name) => !recorded.has(name));
  return { changed, unrecorded };
}

/** Appends the fingerprints of the migrations not recorded yet; returns their names. */
export async function recordNewMigrations(
  file = FINGERPRINT_FILE,
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeORM's migrations option is Function[]
  migrations: Function[] = MIGRATIONS,
): Promise<string[]> {
  const recorded = readFingerprints(file);
  const current = await currentFingerprints(migrations);
  const added = [...current.keys()].filter((name) => !recorded.has(name));
  const lines = added.flatMap((name) => current.get(name)!.map(line));
  if (lines.length === 0) return [];
  const before = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : HEADER;
  fs.writeFileSync(file, `${before}${lines.join("\n")}\n`);
  return added;
}

async function main(): Promise<void> {
  if (process.argv.includes("--record")) {
    const added = await recordNewMigrations();
    console.log(added.length ? `Recorded ${added.join(", ")}.` : "Every migration is recorded already.");
  }
  const { changed, unrecorded } = await checkStatements();
  for (const problem of changed) console.error(problem);
  if (unrecorded.length)
    console.error(`Not recorded: ${unrecorded.join(", ")} (npm run migration:record, once they are final).`);
  if (changed.length || unrecorded.length) process.exit(1);
  console.log("migration statements: every migration runs the statements recorded for it.");
}

if (require.main === module) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
