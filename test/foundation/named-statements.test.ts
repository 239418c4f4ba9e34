import { Client } from "pg";
import { loadConfig } from "../../src/config";
import { openDatabase } from "../../src/db/database";
import { ok, startTestApp, usingPglite } from "../support/harness";
import { makeCompany, makeEvent } from "../support/factories";
import { beat, join, mint, VALIDATE } from "../join/join-helpers";

/**
 * DATABASE_NAMED_STATEMENTS=false, for a pooler in transaction mode that does not keep prepared
 * statements from one server connection to the next (docs/scaling-out.md): no statement the app
 * sends is named. PGlite never names one, so this runs on a PostgreSQL server only.
 */
const onServer = usingPglite() ? describe.skip : describe;

/** The names of the prepared statements every pg connection of this process sends while `work` runs. */
async function statementNamesDuring(work: () => Promise<void>): Promise<string[]> {
  const query = jest.spyOn(Client.prototype, "query");
  try {
    await work();
    return query.mock.calls
      .map(([config]) =>
        typeof config === "object" && config !== null ? (config as { name?: string }).name : undefined,
      )
      .filter((name): name is string => typeof name === "string");
  } finally {
    query.mockRestore();
  }
}

/** The hot paths that prepare their statements: an API-key check, a mint, a join, heartbeats, a validation. */
async function joinAndBeat(namedStatements: boolean): Promise<string[]> {
  const db = await openDatabase(
    { kind: "postgres", url: process.env.ADMIT_TEST_DATABASE_URL! },
    { namedStatements, poolSize: 2 },
  );
  const t = await startTestApp({ database: db });
  try {
    return await statementNamesDuring(async () => {
      const company = await makeCompany(t);
      const event = await makeEvent(t, company);
      const minted = await mint(t, company, { eventId: event.id, user: { id: "u-named" } });
      const joined = await join(t, event.id, minted.token);
      t.clock.advance(20);
      const first = await beat(t, joined.sessionToken);
      t.clock.advance(20);
      await beat(t, first.sessionToken ?? joined.sessionToken);
      const validated = ok(await t.gql(VALIDATE, { token: minted.token }, { key: company.key }));
      expect(validated.validateToken.valid).toBe(true);
    });
  } finally {
    await t.close();
    await db.close();
  }
}

onServer("DATABASE_NAMED_STATEMENTS", () => {
  it("sends the hot paths as named prepared statements by default", async () => {
    expect((await joinAndBeat(true)).length).toBeGreaterThan(0);
  });

  it("sends no named statement when false", async () => {
    expect(await joinAndBeat(false)).toEqual([]);
  });
});

describe("DATABASE_NAMED_STATEMENTS in the configuration", () => {
  it("is on unless set to false, and refuses anything but true or false", () => {
    expect(loadConfig({}).databaseNamedStatements).toBe(true);
    expect(loadConfig({ DATABASE_NAMED_STATEMENTS: "false" }).databaseNamedStatements).toBe(false);
    expect(loadConfig({ DATABASE_NAMED_STATEMENTS: "true" }).databaseNamedStatements).toBe(true);
    expect(() => loadConfig({ DATABASE_NAMED_STATEMENTS: "off" })).toThrow(
      "Invalid configuration: DATABASE_NAMED_STATEMENTS must be true or false.",
    );
  });
});
