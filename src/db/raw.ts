import type { DataSource } from "typeorm";

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
