/**
 * /readyz checks the database on a connection of its own: a node whose pool is taken by requests
 * is busy, not unready, and a load balancer must not take it out for that.
 */
import { Client } from "pg";
import { useTestApp, usingPglite } from "../support/harness";

/** PostgreSQL only; on PGlite a skipped block that says why. */
function onPostgres(name: string, body: () => void): void {
  if (!usingPglite()) return describe(name, body);
  describe.skip(
    `${name} [skipped: PostgreSQL only, embedded PGlite has one connection for everything, /readyz included]`,
    body,
  );
}

onPostgres("/readyz beside a saturated pool", () => {
  // Two pooled connections, both taken below by statements that run for 3 s.
  const t = useTestApp({ poolSize: 2 });

  it("answers ready at once while every pooled connection is busy and more requests wait", async () => {
    let busy = true;
    const sleepers = Array.from({ length: 4 }, () => t.db.dataSource.query("SELECT pg_sleep(3)"));
    const done = Promise.all(sleepers).finally(() => (busy = false));
    // Every pooled connection is running a sleep (the other two wait for one).
    const admin = new Client({ connectionString: process.env.ADMIT_TEST_DATABASE_URL });
    await admin.connect();
    try {
      for (;;) {
        const { rows } = await admin.query<{ n: string }>(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3)' AND state = 'active'",
        );
        if (Number(rows[0].n) >= 2) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const ready = await fetch(`${t.url}/readyz`);
      const answeredWhileBusy = busy;
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready" });
      expect(answeredWhileBusy).toBe(true);
      // Its connection is its own, named for pg_stat_activity.
      const { rows } = await admin.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'admit-readiness' AND datname = current_database()",
      );
      expect(Number(rows[0].n)).toBeGreaterThanOrEqual(1);
    } finally {
      await done;
      await admin.end();
    }
  });

  it("opens a new connection when its own was closed by the server", async () => {
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
    const admin = new Client({ connectionString: process.env.ADMIT_TEST_DATABASE_URL });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ n: string }>(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE application_name = 'admit-readiness' AND datname = current_database()",
      );
      expect(Number(rows[0].n)).toBeGreaterThanOrEqual(1);
    } finally {
      await admin.end();
    }
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});
