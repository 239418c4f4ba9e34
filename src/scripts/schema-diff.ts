import { migrate, openDatabase, pendingSchemaChanges } from "../db/database";

/**
 * Builds a scratch database (DATABASE_URL when given, else in-memory PGlite), runs every
 * migration, and returns what TypeORM would still change to match the entities.
 */
export async function diffMigrationsAgainstEntities(databaseUrl: string | undefined) {
  const db = await openDatabase(databaseUrl ? { kind: "postgres", url: databaseUrl } : { kind: "pglite", dataDir: null });
  try {
    await migrate(db.dataSource);
    const log = await db.dataSource.driver.createSchemaBuilder().log();
    return { up: log.upQueries, down: log.downQueries, pending: await pendingSchemaChanges(db.dataSource) };
  } finally {
    await db.close();
  }
}
