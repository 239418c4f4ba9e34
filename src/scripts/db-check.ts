import "reflect-metadata";
import { diffMigrationsAgainstEntities } from "./schema-diff";
import { checkStatements, repositoryRoot } from "./migration-statements";
import { checkSqlSources, SQL_SOURCES } from "./migration-functions";

/**
 * `npm run db:check`: fails when a migration no longer runs the statements recorded for it, when
 * the entities and the migrations disagree, or when the functions the migrations install differ
 * from their SQL sources (migration-functions.ts).
 */
async function main(): Promise<void> {
  const { changed, unrecorded } = await checkStatements();
  if (changed.length > 0 || unrecorded.length > 0) {
    if (changed.length > 0) {
      console.error("A migration changed what it runs (migrations/statement-fingerprints.txt):");
      for (const problem of changed) console.error(`  ${problem}`);
      console.error("Put the change in a new migration instead.");
    }
    if (unrecorded.length > 0) {
      console.error(`Migrations not recorded yet: ${unrecorded.join(", ")}.`);
      console.error("Once final, record them: npm run migration:record");
    }
    process.exit(1);
  }
  console.log("db:check: every migration runs the statements recorded for it.");

  const { pending, inspected: sourceProblems = [] } = await diffMigrationsAgainstEntities(
    process.env.DB_CHECK_DATABASE_URL,
    (dataSource) => checkSqlSources(dataSource, repositoryRoot()),
  );
  if (pending.length > 0) {
    console.error("The entities and the migrations disagree. A migration is missing for:");
    for (const sql of pending) console.error(`  ${sql}`);
    console.error("Run `npm run migration:generate -- <Name>` and review the result.");
  } else console.log("db:check: the migrations match the entities.");
  if (sourceProblems.length > 0) {
    console.error("The SQL sources and the functions the migrations install disagree:");
    for (const problem of sourceProblems) console.error(`  ${problem}`);
    console.error("Change a function in its source and in a new migration (CREATE OR REPLACE) alike.");
  } else
    console.log(`db:check: the migrations install the functions of ${SQL_SOURCES.map((s) => s.directory).join(", ")}.`);
  if (pending.length > 0 || sourceProblems.length > 0) process.exit(1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
