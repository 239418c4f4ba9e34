import type { DataSource, EntityManager } from "typeorm";

/**
 * A plain parameterised statement straight on the pool, for the hot paths (API-key check,
 * minting, token checks, heartbeat): TypeORM's query builders cost more CPU per statement than
 * the database does to answer these indexed lookups. Values are always bound parameters.
 *
 * Not for use inside a transaction: on PGlite the pool is the one connection the transaction
 * holds, so a statement here would wait for ever. Use the transaction's manager there.
 */
export type RawQuery = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;

export function rawQuery(dataSource: DataSource): RawQuery {
  return async <T>(sql: string, params: unknown[] = []) => {
    const pool = (dataSource.driver as unknown as { master: { query(sql: string, params: unknown[]): Promise<{ rows: T[] }> } }).master;
    return (await pool.query(sql, params)).rows;
  };
}

/**
 * Rows of a plain statement run through a transaction's manager. TypeORM answers an UPDATE or
 * DELETE as `[rows, rowCount]` and anything else as `rows`; this always gives the rows.
 */
export async function queryRows<T = Record<string, any>>(manager: EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  const result: unknown = await manager.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === "number") {
    return result[0] as T[];
  }
  return result as T[];
}
