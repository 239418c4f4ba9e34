import "reflect-metadata";
import { Database, migrate, openDatabase } from "../../src/db/database";
import { CompanyEntity } from "../../src/modules/company/company.entity";

/**
 * The embedded database is one connection. Its driver must still give each transaction the
 * connection to itself from BEGIN to COMMIT/ROLLBACK, and report affected rows as pg does.
 * This file opens its own in-memory PGlite, whatever database the rest of the suite uses.
 */

let db: Database;
beforeAll(async () => {
  db = await openDatabase({ kind: "pglite", dataDir: null });
  await migrate(db.dataSource);
});
afterAll(async () => {
  await db.close();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function makeCompanyRow(name: string): Promise<CompanyEntity> {
  const repo = db.dataSource.getRepository(CompanyEntity);
  return repo.save(repo.create({ name, slug: `${name.toLowerCase()}-${Math.random().toString(36).slice(2, 8)}` }));
}

async function nameOf(id: string): Promise<string> {
  return (await db.dataSource.getRepository(CompanyEntity).findOneByOrFail({ id })).name;
}

it("a transaction that rolls back undoes its own change only, while another commits meanwhile", async () => {
  const a = await makeCompanyRow("Alpha");
  const b = await makeCompanyRow("Beta");
  const steps: string[] = [];

  const rolledBack = db.dataSource.transaction(async (manager) => {
    await manager.update(CompanyEntity, { id: a.id }, { name: "Alpha changed" });
    steps.push("A updated");
    await pause(50);
    steps.push("A throws");
    throw new Error("roll back A");
  });
  // Started while A is open.
  await pause(5);
  const committed = db.dataSource.transaction(async (manager) => {
    steps.push("B starts");
    await manager.update(CompanyEntity, { id: b.id }, { name: "Beta changed" });
  });
  // A read from outside either transaction must not see A's uncommitted change.
  const readMeanwhile = nameOf(a.id);

  await expect(rolledBack).rejects.toThrow("roll back A");
  await committed;
  expect(await readMeanwhile).toBe("Alpha");
  expect(await nameOf(a.id)).toBe("Alpha");
  expect(await nameOf(b.id)).toBe("Beta changed");
  // B waited for A's connection rather than running its statements inside A's transaction.
  expect(steps).toEqual(["A updated", "A throws", "B starts"]);
});

it("a failed statement inside a transaction rolls back the whole transaction and leaves the connection usable", async () => {
  const a = await makeCompanyRow("Gamma");
  const taken = await makeCompanyRow("Delta");
  await expect(
    db.dataSource.transaction(async (manager) => {
      await manager.update(CompanyEntity, { id: a.id }, { name: "Gamma changed" });
      await manager.update(CompanyEntity, { id: a.id }, { slug: taken.slug });
    }),
  ).rejects.toThrow();
  expect(await nameOf(a.id)).toBe("Gamma");
  await db.dataSource.getRepository(CompanyEntity).update({ id: a.id }, { name: "Gamma later" });
  expect(await nameOf(a.id)).toBe("Gamma later");
});

it("20 concurrent conditional updates report exactly the rows they changed", async () => {
  const company = await makeCompanyRow("Seats");
  const results = await Promise.all(
    Array.from({ length: 20 }, () =>
      db.dataSource.transaction((manager) =>
        manager
          .createQueryBuilder()
          .update(CompanyEntity)
          .set({ seatsUsed: () => "seats_used + 1" })
          .where("id = :id AND seats_used < 5", { id: company.id })
          .execute(),
      ),
    ),
  );
  const affected = results.map((result) => result.affected);
  expect(affected.every((n) => n === 0 || n === 1)).toBe(true);
  expect(affected.reduce((sum: number, n) => sum + (n ?? 0), 0)).toBe(5);
  expect((await db.dataSource.getRepository(CompanyEntity).findOneByOrFail({ id: company.id })).seatsUsed).toBe(5);
});

it("affected counts every row of a multi-row update and delete, outside transactions too", async () => {
  const rows = await Promise.all(["One", "Two", "Three"].map(makeCompanyRow));
  const ids = rows.map((row) => row.id);
  const updated = await db.dataSource
    .createQueryBuilder()
    .update(CompanyEntity)
    .set({ seatLimit: 7 })
    .where("id IN (:...ids)", { ids })
    .execute();
  expect(updated.affected).toBe(3);
  const deleted = await db.dataSource
    .createQueryBuilder()
    .delete()
    .from(CompanyEntity)
    .where("id IN (:...ids)", { ids: ids.slice(0, 2) })
    .execute();
  expect(deleted.affected).toBe(2);
});
