import "reflect-metadata";
import { diffMigrationsAgainstEntities } from "./schema-diff";
import { checkStatements } from "./migration-statements";

/**
 * `npm run db:check`: fails when a migration no longer runs the statements recorded for it, or
 * when the entities and the migrations disagree.
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

  const { pending } = await diffMigrationsAgainstEntities(process.env.DB_CHECK_DATABASE_URL);
  if (pending.length > 0) {
    console.error("The entities and the migrations disagree. A migration is missing for:");
    for (const sql of pending) console.error(`  ${sql}`);
    console.error("Run `npm run migration:generate -- <Name>` and review the result.");
    process.exit(1);
  }
  console.log("db:check: the migrations match the entities.");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
