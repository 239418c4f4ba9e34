import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { joinRaw, mint } from "./join-helpers";

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const liveSessions = async (eventId: string): Promise<number> =>
  (
    await t.db.dataSource.query(`SELECT count(*)::int AS n FROM sessions WHERE event_id = $1 AND ended_at IS NULL`, [
      eventId,
    ])
  )[0].n;
const seatsUsed = async (c: TestCompany): Promise<number> =>
  ok(await t.gql(`query { company { seatsUsed } }`, {}, { key: c.key })).company.seatsUsed;
const tally = (codes: (string | undefined)[]) =>
  codes.reduce<Record<string, number>>((acc, code) => ({ ...acc, [code ?? "OK"]: (acc[code ?? "OK"] ?? 0) + 1 }), {});

it("capacity 3, 10 different users joining at once: exactly 3 get in, the rest EVENT_FULL", async () => {
  const event = await makeEvent(t, company, { capacity: 3 });
  const tokens = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      mint(t, company, { eventId: event.id, user: { id: `crowd-${i}` } }).then((m) => m.token),
    ),
  );
  const seatsBefore = await seatsUsed(company);
  const results = await Promise.all(tokens.map((credential) => joinRaw(t, { event: event.id, credential })));
  expect(tally(results.map(codeOf))).toEqual({ OK: 3, EVENT_FULL: 7 });
  expect(await liveSessions(event.id)).toBe(3);
  // The refused joins created no user and took no seat.
  expect(await seatsUsed(company)).toBe(seatsBefore + 3);
  const refused = results.filter((r) => codeOf(r)).length;
  expect(refused).toBe(7);
  const users = await t.db.dataSource.query(
    `SELECT count(*)::int AS n FROM users WHERE company_id = $1 AND external_id LIKE 'crowd-%'`,
    [company.id],
  );
  expect(users[0].n).toBe(3);
});

it("5 joins of the same user at once under REJECT_NEW: exactly one gets in", async () => {
  const event = await makeEvent(t, company, { sessionPolicy: "REJECT_NEW" });
  const minted = await mint(t, company, { eventId: event.id, user: { id: "impatient" } });
  const results = await Promise.all(
    Array.from({ length: 5 }, () => joinRaw(t, { event: event.id, credential: minted.token })),
  );
  expect(tally(results.map(codeOf))).toEqual({ OK: 1, ALREADY_IN_SESSION: 4 });
  expect(await liveSessions(event.id)).toBe(1);
});

it("5 joins of the same user at once under REPLACE_OLDEST: one live session is left, one user, one seat", async () => {
  const event = await makeEvent(t, company);
  const minted = await mint(t, company, { eventId: event.id, user: { id: "clicky" } });
  const seatsBefore = await seatsUsed(company);
  const results = await Promise.all(
    Array.from({ length: 5 }, () => joinRaw(t, { event: event.id, credential: minted.token })),
  );
  expect(tally(results.map(codeOf))).toEqual({ OK: 5 });
  expect(await liveSessions(event.id)).toBe(1);
  expect(await seatsUsed(company)).toBe(seatsBefore + 1);
  const superseded = await t.db.dataSource.query(
    `SELECT count(*)::int AS n FROM sessions WHERE event_id = $1 AND end_reason = 'SUPERSEDED'`,
    [event.id],
  );
  expect(superseded[0].n).toBe(4);
});

it("the seat limit holds when new users join different events at once", async () => {
  const limited = await makeCompany(t, { seatLimit: 2 });
  const events = await Promise.all(Array.from({ length: 6 }, () => makeEvent(t, limited)));
  const tokens = await Promise.all(
    events.map((e, i) => mint(t, limited, { eventId: e.id, user: { id: `newcomer-${i}` } })),
  );
  const results = await Promise.all(events.map((e, i) => joinRaw(t, { event: e.id, credential: tokens[i].token })));
  expect(tally(results.map(codeOf))).toEqual({ OK: 2, SEAT_LIMIT_REACHED: 4 });
  expect(await seatsUsed(limited)).toBe(2);
  const users = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM users WHERE company_id = $1`, [limited.id]);
  expect(users[0].n).toBe(2);
});

it("capacity holds for guests joining a public event at once", async () => {
  const event = await makeEvent(t, company, { privacy: "PUBLIC", capacity: 2 });
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, i) => joinRaw(t, { event: event.id, displayName: `Guest ${i}` })),
  );
  expect(tally(results.map(codeOf))).toEqual({ OK: 2, EVENT_FULL: 4 });
  expect(await liveSessions(event.id)).toBe(2);
});
