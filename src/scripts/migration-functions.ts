import fs from "node:fs";
import path from "node:path";
import type { DataSource, QueryRunner } from "typeorm";
import { normaliseSql } from "./migration-sql";

/**
 * SQL functions and triggers have a readable source beside the code that uses them, holding each
 * one's current definition; the migrations install them, and an applied migration never changes.
 * So the two cannot drift apart, `npm run db:check` compares them on a migrated database: inside
 * a transaction it rolls back, it drops the functions (and their triggers) the migrations made,
 * runs the source files, and compares what each side leaves in the catalog. Definitions are read
 * back from PostgreSQL (pg_get_functiondef, pg_get_triggerdef), so headers compare as PostgreSQL
 * understood them; bodies compare by normaliseSql, so their layout and comments may differ from
 * the migration's, but not one token.
 */
export const SQL_SOURCES: readonly { directory: string; prefix: string }[] = [
  // Every function named analytics_*, and every trigger that runs one.
  { directory: "src/modules/analytics/sql", prefix: "analytics_" },
];

interface Catalog {
  functions: Map<string, string>;
  triggers: Map<string, { table: string; name: string; definition: string }>;
}

/** What the catalog holds for functions named prefix* in the current schema, and their triggers. */
async function catalogOf(runner: QueryRunner, prefix: string): Promise<Catalog> {
  const functions = new Map<string, string>();
  const rows = (await runner.query(
    `SELECT p.oid::regprocedure::text AS signature, pg_get_functiondef(p.oid) AS definition, p.prosrc AS body
       FROM pg_proc p
      WHERE p.pronamespace = current_schema()::regnamespace AND left(p.proname, length($1)) = $1`,
    [prefix],
  )) as { signature: string; definition: string; body: string }[];
  for (const { signature, definition, body } of rows) {
    const at = definition.lastIndexOf(body);
    functions.set(signature, `${definition.slice(0, at)}${normaliseSql(body)}${definition.slice(at + body.length)}`);
  }
  const triggers = new Map<string, { table: string; name: string; definition: string }>();
  const found = (await runner.query(
    `SELECT t.tgrelid::regclass::text AS table, t.tgname AS name, pg_get_triggerdef(t.oid) AS definition,
            t.tgenabled::text AS enabled
       FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
      WHERE NOT t.tgisinternal AND p.pronamespace = current_schema()::regnamespace
        AND left(p.proname, length($1)) = $1`,
    [prefix],
  )) as { table: string; name: string; definition: string; enabled: string }[];
  for (const { table, name, definition, enabled } of found) {
    triggers.set(`${name} on ${table}`, { table, name, definition: `${definition} (tgenabled ${enabled})` });
  }
  return { functions, triggers };
}

/** Where two texts first differ, with a little of each around it. */
function firstDifference(a: string, b: string): string {
  let k = 0;
  while (k < a.length && k < b.length && a[k] === b[k]) k++;
  const from = Math.max(0, k - 40);
  const show = (s: string) => JSON.stringify(s.slice(from, k + 60));
  return `migrations ${show(a)}, source ${show(b)}`;
}

function compare(
  kind: string,
  installed: Map<string, string>,
  source: Map<string, string>,
  directory: string,
): string[] {
  const problems: string[] = [];
  for (const [key, definition] of installed) {
    const fromSource = source.get(key);
    if (fromSource === undefined)
      problems.push(`${kind} ${key}: installed by the migrations, missing from ${directory}`);
    else if (fromSource !== definition)
      problems.push(`${kind} ${key} differs: ${firstDifference(definition, fromSource)}`);
  }
  for (const key of source.keys()) {
    if (!installed.has(key)) problems.push(`${kind} ${key}: in ${directory}, not installed by the migrations`);
  }
  return problems;
}

/** The .sql files of a source directory, in name order. */
export function sourceFiles(root: string, directory: string): string[] {
  const dir = path.join(root, directory);
  return fs
    .readdirSync(dir)
    .filter((file) => file.endsWith(".sql"))
    .sort()
    .map((file) => path.join(dir, file));
}

/**
 * Compares the functions and triggers of a migrated database with their source files; returns
 * one line per difference. Leaves the database as it found it.
 */
export async function checkSqlSources(dataSource: DataSource, root: string): Promise<string[]> {
  const problems: string[] = [];
  for (const { directory, prefix } of SQL_SOURCES) {
    const runner = dataSource.createQueryRunner();
    await runner.connect();
    try {
      const installed = await catalogOf(runner, prefix);
      let fromSource: Catalog | null = null;
      await runner.startTransaction();
      try {
        for (const { table, name } of installed.triggers.values()) {
          await runner.query(`DROP TRIGGER "${name.replace(/"/g, '""')}" ON ${table}`);
        }
        for (const signature of installed.functions.keys()) await runner.query(`DROP FUNCTION ${signature}`);
        for (const file of sourceFiles(root, directory)) {
          try {
            await runner.query(fs.readFileSync(file, "utf8"));
          } catch (error) {
            problems.push(`${path.relative(root, file)}: ${(error as Error).message}`);
            break;
          }
        }
        if (problems.length === 0) fromSource = await catalogOf(runner, prefix);
      } finally {
        await runner.rollbackTransaction();
      }
      if (fromSource) {
        problems.push(...compare("function", installed.functions, fromSource.functions, directory));
        const definitions = (catalog: Catalog) => new Map([...catalog.triggers].map(([key, t]) => [key, t.definition]));
        problems.push(...compare("trigger", definitions(installed), definitions(fromSource), directory));
      }
    } finally {
      await runner.release();
    }
  }
  return problems;
}
