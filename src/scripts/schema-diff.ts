import type { DataSource } from "typeorm";
import { migrate, openDatabase, pendingSchemaChanges } from "../db/database";

/**
 * Builds a scratch database (DATABASE_URL when given, else in-memory PGlite), runs every
 * migration, and returns what TypeORM would still change to match the entities, and what
 * `inspect` (when given) finds in the migrated database.
 */
export async function diffMigrationsAgainstEntities<T = undefined>(
  databaseUrl: string | undefined,
  inspect?: (dataSource: DataSource) => Promise<T>,
) {
  const db = await openDatabase(
    databaseUrl ? { kind: "postgres", url: databaseUrl } : { kind: "pglite", dataDir: null },
  );
  try {
    await migrate(db.dataSource);
    const log = await db.dataSource.driver.createSchemaBuilder().log();
    const pending = await pendingSchemaChanges(db.dataSource);
    const inspected = inspect ? await inspect(db.dataSource) : undefined;
    return { up: log.upQueries, down: log.downQueries, pending, inspected };
  } finally {
    await db.close();
  }
}
