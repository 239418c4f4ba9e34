import { createHash } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import { embeddedPGliteOf, namedStatementsOn } from "./database";

/**
 * A plain parameterised statement straight on the pool, for the hot paths (API-key check,
 * minting, token checks, heartbeat): TypeORM's query builders cost more CPU per statement than
 * the database does to answer these indexed lookups. Values are always bound parameters.
 *
 * Not for use inside a transaction: on PGlite the pool is the one connection the transaction
 * holds, so a statement here would wait for ever. Use the transaction's manager there.
 */
export type RawQuery = <T = Record<string, unknown>>(sql: string, params?: unknown[]) => Promise<T[]>;

/**
 * A RawQuery whose statements are named prepared statements on a PostgreSQL server: every pooled
 * connection parses and plans each text once, then only binds and runs it. For the statements
 * that every request runs (the heartbeat's joins four tables; planning it cost PostgreSQL about
 * as much CPU as running it).
 *
 * Only for texts with explicit column lists: a prepared `SELECT *` or `RETURNING *` fails once
 * a migration adds a column ("cached plan must not change result type"). Texts are constants of
 * the code; past MAX_PREPARED distinct texts the rest run unnamed, so a text built from data by
 * mistake cannot fill the server's memory with statements.
 *
 * With DATABASE_NAMED_STATEMENTS=false (openDatabase's namedStatements) the texts run unnamed:
 * a pooler in transaction mode may hand the next statement to a server connection that never
 * prepared it.
 */
export function preparedQuery(dataSource: DataSource): RawQuery {
  // PGlite's driver is in-process (no planning over the wire to save) and takes (sql, params).
  if (embeddedPGliteOf(dataSource) !== null || !namedStatementsOn(dataSource)) return rawQuery(dataSource);
  return async <T>(sql: string, params: unknown[] = []) => {
    const pool = (
      dataSource.driver as unknown as {
        master: { query(config: { text: string; values: unknown[]; name?: string }): Promise<{ rows: T[] }> };
      }
    ).master;
    return (await pool.query({ text: sql, values: params, name: preparedNameOf(sql) })).rows;
  };
}

const MAX_PREPARED = 200;
const preparedNames = new Map<string, string>();

function preparedNameOf(sql: string): string | undefined {
  let name = preparedNames.get(sql);
  if (!name && preparedNames.size < MAX_PREPARED) {
    if (/\*\s*(,|FROM\b|$)/i.test(sql))
      throw new Error("A prepared statement must list its columns (no SELECT * or RETURNING *).");
    name = `admit_${createHash("sha256").update(sql).digest("hex").slice(0, 24)}`;
    preparedNames.set(sql, name);
  }
  return name;
}

export function rawQuery(dataSource: DataSource): RawQuery {
  return async <T>(sql: string, params: unknown[] = []) => {
    const pool = (
      dataSource.driver as unknown as { master: { query(sql: string, params: unknown[]): Promise<{ rows: T[] }> } }
    ).master;
    return (await pool.query(sql, params)).rows;
  };
}

/**
 * Rows of a plain statement run through a transaction's manager. TypeORM answers an UPDATE or
 * DELETE as `[rows, rowCount]` and anything else as `rows`; this always gives the rows.
 */
export async function queryRows<T = Record<string, unknown>>(
  manager: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const result: unknown = await manager.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === "number") {
    return result[0] as T[];
  }
  return result as T[];
}
