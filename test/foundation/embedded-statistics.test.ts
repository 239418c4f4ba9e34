import { useTestApp } from "../support/harness";
import { makeCompany } from "../support/factories";

/**
 * Embedded PGlite has no autovacuum: the node refreshes the planner's statistics of tables that
 * have grown since they were taken (AnalyticsService.analyzeGrownTables), or plans made when a
 * table was nearly empty read every row of it for ever.
 */

const t = useTestApp();

const statsOf = async (table: string): Promise<{ relpages: number; reltuples: number }> => {
  const [row] = await t.db.dataSource.query("SELECT relpages, reltuples FROM pg_class WHERE relname = $1", [table]);
  return { relpages: Number(row.relpages), reltuples: Number(row.reltuples) };
};

it("analyses a table that has more than doubled since its statistics, and leaves the rest alone", async () => {
  const company = await makeCompany(t);
  await t.db.dataSource.query("ANALYZE users");
  const before = await statsOf("users");
  await t.db.dataSource.query(
    `INSERT INTO users (company_id, external_id, name) SELECT $1, 'grown-' || g, 'U' FROM generate_series(1, 5000) g`,
    [company.id],
  );
  const analysed = await t.app.services.analytics.analyzeGrownTables();
  expect(analysed).toContain("users");
  const after = await statsOf("users");
  expect(after.reltuples).toBeGreaterThanOrEqual(before.reltuples + 5000);
  // Nothing has grown since: a second call analyses nothing it just analysed.
  expect(await t.app.services.analytics.analyzeGrownTables()).not.toContain("users");
});
