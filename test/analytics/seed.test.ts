import { startTestApp, TestApp } from "../support/harness";
import { seedAnalytics } from "../../src/scripts/seed-analytics";
import { expectRollupsOfReference } from "./analytics-helpers";
import * as ref from "./reference";

/**
 * `seed:analytics` inserts sessions by statements of some attendees, sets their join and end
 * instants aside and folds them by slices of time at the end. What it leaves must be what the
 * product's triggers and fold keep: the rollups of the seeded events are exactly what the slow
 * reference computes from the raw rows. The sizes are small here so that the seed crosses every
 * boundary it has: several statements, several folds of the sums, several slices of instants.
 */

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});

afterAll(async () => {
  await t.close();
});

test("the seeded rollups are what the raw rows say", async () => {
  const steps: string[] = [];
  const seeded = await seedAnalytics(
    t.db.dataSource,
    t.app.services.companies,
    {
      events: 2,
      registrants: 60,
      sessions: 1_500,
      sessionsPerStatement: 200,
      sessionsPerFold: 500,
      instantsPerFold: 700,
    },
    (step) => steps.push(step),
  );
  // The boundaries were crossed: folds of the sums within each event, slices of instants.
  expect(steps.filter((s) => /sessions; \d+ in/.test(s)).length).toBeGreaterThanOrEqual(6);
  expect(steps.filter((s) => /activity rollups: slice/.test(s)).length).toBeGreaterThanOrEqual(4);
  for (const table of ["analytics_pending_instants", "analytics_pending_attendance", "analytics_pending_windows"]) {
    expect((await t.db.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n).toBe(0);
  }

  const raw = await ref.loadRaw(t, seeded.eventIds);
  for (const eventId of seeded.eventIds) {
    expect(raw.sessions.filter((s) => s.event_id === eventId).length).toBe(1_500);
    await expectRollupsOfReference(t, raw, eventId);
  }
}, 180_000);
