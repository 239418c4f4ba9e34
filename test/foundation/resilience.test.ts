import { Client } from "pg";
import { GqlResponse, ok, useTestApp, usingPglite } from "../support/harness";
import { makeCompany, TestCompany } from "../support/factories";

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

describe("health endpoints", () => {
  it("/healthz says the process is up", async () => {
    const res = await fetch(`${t.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("/readyz says the database answers", async () => {
    const res = await fetch(`${t.url}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ready" });
  });
});

describe("the database drops every connection", () => {
  /** Kills every backend of the test database but the caller's own, from outside the app. */
  async function terminateAppConnections(): Promise<number> {
    const admin = new Client({ connectionString: process.env.ADMIT_TEST_DATABASE_URL });
    await admin.connect();
    try {
      const result = await admin.query(
        `SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      return result.rows.filter((row) => row.killed).length;
    } finally {
      await admin.end();
    }
  }

  it("the app reconnects: a request succeeds within 3 tries, and it keeps serving", async () => {
    // PostgreSQL only: an embedded PGlite has no backends to terminate.
    if (usingPglite()) return;
    // Warm the pool so that there are idle connections to lose.
    await Promise.all(Array.from({ length: 4 }, () => t.gql(`{ company { id } }`, {}, { key: company.key })));
    expect(await terminateAppConnections()).toBeGreaterThan(0);

    const attempts: GqlResponse[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await t.gql(`{ company { id } }`, {}, { key: company.key });
      attempts.push(res);
      if (!res.errors) break;
      // A failed attempt is a clean INTERNAL, not a crash or a leak.
      expect(res.errors[0].extensions?.code).toBe("INTERNAL");
      expect(JSON.stringify(res.errors)).not.toMatch(/terminat|SQL|SELECT/i);
    }
    expect(ok(attempts[attempts.length - 1]).company.id).toBe(company.id);

    // Still serving: writes, reads and both health endpoints.
    const made = ok(
      await t.gql(`mutation { createEvent(input: { name: "After the outage" }) { id } }`, {}, { key: company.key }),
    );
    expect(
      ok(await t.gql(`query($id: ID!) { event(id: $id) { name } }`, { id: made.createEvent.id }, { key: company.key }))
        .event.name,
    ).toBe("After the outage");
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  });

  it("recovers from a second outage as well", async () => {
    // PostgreSQL only, as above.
    if (usingPglite()) return;
    for (let round = 0; round < 2; round++) {
      await terminateAppConnections();
      let last: GqlResponse | null = null;
      for (let i = 0; i < 3 && (!last || last.errors); i++)
        last = await t.gql(`{ company { id } }`, {}, { key: company.key });
      expect(ok(last!).company.id).toBe(company.id);
    }
  });
});
