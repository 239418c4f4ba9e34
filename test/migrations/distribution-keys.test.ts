import type { EntityManager } from "typeorm";
import { Database } from "../../src/db/database";
import { queryRows } from "../../src/db/raw";
import { openTestDatabase } from "../support/harness";

/**
 * The schema a PostgreSQL distributed by company (Citus) can hold, on the migrated database
 * (docs/scaling-out.md): every company-owned table has a company_id, every unique key (primary
 * key, unique constraint, unique index, partial or not) includes it, and every foreign key between
 * company-owned tables pairs company_id with company_id. Foreign keys to a reference table
 * (replicated to every node) are allowed; to a platform table (on one node) they are not.
 */

/** Tables of the platform, not of a company: they stay on the coordinator, undistributed. */
const PLATFORM_TABLES = new Set(["migrations", "platform_admin_keys", "master_key_verifiers"]);

/**
 * Reference tables: replicated to every node. companies is small, read on nearly every request
 * (settings, the issuer's slug) and rarely written; its slug is unique across companies.
 */
const REFERENCE_TABLES = new Set(["companies"]);

interface Table {
  name: string;
  hasCompanyId: boolean;
}

interface UniqueKey {
  table: string;
  definition: string;
  hasCompanyId: boolean;
}

interface ForeignKey {
  table: string;
  referenced: string;
  definition: string;
  /** The foreign key maps this table's company_id to the referenced table's company_id. */
  pairsCompanyId: boolean;
}

async function schemaOf(manager: EntityManager) {
  const tables = await queryRows<{ name: string; has_company_id: boolean }>(
    manager,
    `SELECT c.relname AS name,
            EXISTS (SELECT 1 FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attname = 'company_id' AND NOT a.attisdropped) AS has_company_id
       FROM pg_class c
      WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
  );
  const uniqueKeys = await queryRows<{
    table_name: string;
    definition: string;
    has_company_id: boolean;
  }>(
    manager,
    `SELECT t.relname AS table_name, pg_get_indexdef(i.indexrelid) AS definition,
            EXISTS (SELECT 1 FROM unnest(i.indkey::int2[]) AS k(attnum)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                     WHERE a.attname = 'company_id') AS has_company_id
       FROM pg_index i
       JOIN pg_class t ON t.oid = i.indrelid
      WHERE t.relnamespace = 'public'::regnamespace AND (i.indisunique OR i.indisexclusion)`,
  );
  const foreignKeys = await queryRows<{
    table_name: string;
    referenced: string;
    definition: string;
    pairs_company_id: boolean;
  }>(
    manager,
    `SELECT t.relname AS table_name, r.relname AS referenced, pg_get_constraintdef(c.oid) AS definition,
            EXISTS (SELECT 1 FROM unnest(c.conkey, c.confkey) AS k(child, parent)
                      JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = k.child
                      JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.parent
                     WHERE ca.attname = 'company_id' AND pa.attname = 'company_id') AS pairs_company_id
       FROM pg_constraint c
       JOIN pg_class t ON t.oid = c.conrelid
       JOIN pg_class r ON r.oid = c.confrelid
      WHERE c.contype = 'f' AND t.relnamespace = 'public'::regnamespace`,
  );
  return {
    tables: tables.map((t): Table => ({ name: t.name, hasCompanyId: t.has_company_id })),
    uniqueKeys: uniqueKeys.map(
      (u): UniqueKey => ({
        table: u.table_name,
        definition: u.definition,
        hasCompanyId: u.has_company_id,
      }),
    ),
    foreignKeys: foreignKeys.map(
      (f): ForeignKey => ({
        table: f.table_name,
        referenced: f.referenced,
        definition: f.definition,
        pairsCompanyId: f.pairs_company_id,
      }),
    ),
  };
}

type Kind = "platform" | "reference" | "company";
const kindOf = (table: string): Kind =>
  PLATFORM_TABLES.has(table) ? "platform" : REFERENCE_TABLES.has(table) ? "reference" : "company";

/** What a database distributed by company could not hold, one sentence each. */
async function distributionProblems(manager: EntityManager): Promise<string[]> {
  const { tables, uniqueKeys, foreignKeys } = await schemaOf(manager);
  const problems: string[] = [];
  for (const table of tables) {
    if (kindOf(table.name) === "company" && !table.hasCompanyId) problems.push(`${table.name} has no company_id column`);
  }
  for (const key of uniqueKeys) {
    if (kindOf(key.table) === "company" && !key.hasCompanyId) {
      problems.push(`${key.table}: unique key without company_id: ${key.definition}`);
    }
  }
  for (const fk of foreignKeys) {
    const from = kindOf(fk.table);
    const to = kindOf(fk.referenced);
    if (from === "platform" && to !== "platform") {
      problems.push(`${fk.table} (platform) refers to ${fk.referenced}: ${fk.definition}`);
    } else if (from === "reference" && to !== "reference") {
      problems.push(`${fk.table} (reference) refers to ${fk.referenced}: ${fk.definition}`);
    } else if (from === "company") {
      if (to === "platform") problems.push(`${fk.table} refers to the platform table ${fk.referenced}: ${fk.definition}`);
      if (to === "company" && !fk.pairsCompanyId) {
        problems.push(`${fk.table}: foreign key without company_id: ${fk.definition}`);
      }
    }
  }
  return problems;
}

/** Runs `work` in a transaction that is always rolled back. */
async function inRolledBackTransaction<T>(db: Database, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  let result: T | undefined;
  const rollback = new Error("rollback");
  await db.dataSource
    .transaction(async (manager) => {
      result = await work(manager);
      throw rollback;
    })
    .catch((error: unknown) => {
      if (error !== rollback) throw error;
    });
  return result as T;
}

describe("a schema a PostgreSQL distributed by company can hold", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  it("puts company_id in every key of every company-owned table", async () => {
    expect(await distributionProblems(db.dataSource.manager)).toEqual([]);
  });

  it("names each table it exempts, and the platform and reference tables exist", async () => {
    const { tables } = await schemaOf(db.dataSource.manager);
    const names = new Set(tables.map((t) => t.name));
    for (const name of [...PLATFORM_TABLES, ...REFERENCE_TABLES]) {
      expect({ name, exists: names.has(name) }).toEqual({ name, exists: true });
    }
  });

  it("catches a table that breaks the rule", async () => {
    const problems = await inRolledBackTransaction(db, async (manager) => {
      await manager.query(
        `CREATE TABLE distribution_probe (
           id uuid PRIMARY KEY,
           company_id uuid NOT NULL,
           event_id uuid,
           event_company_id uuid,
           user_id uuid,
           code text UNIQUE,
           FOREIGN KEY (event_id, event_company_id) REFERENCES events (id, company_id),
           FOREIGN KEY (user_id, company_id) REFERENCES users (id, company_id)
         )`,
      );
      await manager.query(`CREATE TABLE distribution_probe_orphan (id uuid PRIMARY KEY)`);
      return distributionProblems(manager);
    });
    expect(problems).toHaveLength(5);
    expect(problems).toEqual(
      expect.arrayContaining([
      "distribution_probe_orphan has no company_id column",
      expect.stringMatching(/^distribution_probe: unique key without company_id: .*\(id\)$/),
      expect.stringMatching(/^distribution_probe: unique key without company_id: .*\(code\)$/),
      expect.stringMatching(/^distribution_probe_orphan: unique key without company_id: .*\(id\)$/),
      "distribution_probe: foreign key without company_id: FOREIGN KEY (event_id, event_company_id) REFERENCES events(id, company_id)",
      ]),
    );
  });

});
