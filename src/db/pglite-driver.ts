import { EventEmitter } from "node:events";
import type { PGlite, Results } from "@electric-sql/pglite";

/**
 * A `pg`-shaped driver over one PGlite instance, for TypeORM's postgres driver (`driver` option).
 *
 * PGlite is a single connection. typeorm-pglite hands that one connection to every query runner
 * with no lock, so two transactions interleave and a rollback can undo nothing (seen: A updated,
 * B committed meanwhile, A rolled back, A's update stayed). Here a client is checked out of the
 * "pool" under a FIFO mutex and held until TypeORM releases it, exactly like a pool of size one:
 * a transaction owns the connection from BEGIN to COMMIT/ROLLBACK.
 *
 * It also reports what TypeORM reads from `pg` results (`rowCount`, `command`), which
 * typeorm-pglite leaves out, so `UpdateResult.affected` is right for conditional updates.
 */

interface PgLikeResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: Results["fields"];
}

class Mutex {
  private locked = false;
  private readonly waiters: Array<() => void> = [];

  acquire(): Promise<void> {
    if (!this.locked) {
      this.locked = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.locked = false;
  }
}

function commandOf(sql: string): string {
  const match = /^\s*(?:--[^\n]*\n\s*)*([A-Za-z]+)/.exec(sql);
  return match ? match[1].toUpperCase() : "";
}

function toPgResult(sql: string, result: Results): PgLikeResult {
  const command = commandOf(sql);
  const rowCount = command === "SELECT" || result.affectedRows === undefined ? result.rows.length : result.affectedRows;
  return { rows: result.rows, rowCount, command, fields: result.fields };
}

class PGliteClient extends EventEmitter {
  constructor(private readonly db: PGlite) {
    super();
  }

  async query(sql: string, params?: unknown[] | ((...args: unknown[]) => void)): Promise<PgLikeResult> {
    const values = Array.isArray(params) ? params : undefined;
    if (values && values.length > 0) return toPgResult(sql, await this.db.query(sql, values));
    // exec runs several statements (migrations); TypeORM wants the last result.
    const results = await this.db.exec(sql);
    const last = results[results.length - 1] ?? { rows: [], fields: [] };
    return toPgResult(sql, last);
  }
}

export function createPGliteDriver(db: PGlite): { Pool: new () => unknown } {
  const mutex = new Mutex();
  const client = new PGliteClient(db);

  class Pool extends EventEmitter {
    connect(callback?: (err: unknown, client: PGliteClient | null, release: (err?: unknown) => void) => void) {
      const checkout = mutex.acquire().then(() => {
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          mutex.release();
        };
        return { release };
      });
      if (!callback) return checkout.then(({ release }) => Object.assign(client, { release }));
      checkout.then(
        ({ release }) => callback(null, client, release),
        (err) => callback(err, null, () => undefined),
      );
      return undefined;
    }

    /** A pool-level query (not used by TypeORM's query runners) also waits its turn. */
    async query(sql: string, params?: unknown[]): Promise<PgLikeResult> {
      await mutex.acquire();
      try {
        return await client.query(sql, params);
      } finally {
        mutex.release();
      }
    }

    end(callback?: (err?: unknown) => void): void {
      callback?.();
    }
  }

  return { Pool };
}
