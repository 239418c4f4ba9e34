import "reflect-metadata";
import { diffMigrationsAgainstEntities } from "./schema-diff";

/** `npm run db:check`: fails when the entities and the migrations disagree. */
async function main(): Promise<void> {
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
