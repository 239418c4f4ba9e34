import { codeOf, GqlResponse, ok, usingPglite, useTestApp } from "../support/harness";
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

it("5 joins of the same user at once at an event with capacity 1: each replaces the last, one stays", async () => {
  const event = await makeEvent(t, company, { capacity: 1 });
  const minted = await mint(t, company, { eventId: event.id, user: { id: "door-clicker" } });
  const results = await Promise.all(
    Array.from({ length: 5 }, () => joinRaw(t, { event: event.id, credential: minted.token })),
  );
  expect(tally(results.map(codeOf))).toEqual({ OK: 5 });
  expect(await liveSessions(event.id)).toBe(1);
});

/**
 * A join that holds the event's turn (from its first statement to COMMIT) is played by a
 * transaction of the test's own that locks the event's row as admit_join does. PostgreSQL only:
 * PGlite has one connection, so nothing else can run while it is held.
 */
(usingPglite() ? describe.skip : describe)("a full event while an admission holds its turn", () => {
  /** "settled" when `promise` settles within `ms`, else "pending". */
  const settled = async <T>(promise: Promise<T>, ms: number): Promise<string> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<string>((resolve) => (timer = setTimeout(() => resolve("pending"), ms)));
    try {
      return await Promise.race([promise.then(() => "settled"), late]);
    } finally {
      clearTimeout(timer);
    }
  };

  it("refuses a newcomer at once; a returning user waits for the turn, then gets back in", async () => {
    const event = await makeEvent(t, company, { capacity: 1 });
    const inside = await mint(t, company, { eventId: event.id, user: { id: "inside-1" } });
    ok(await joinRaw(t, { event: event.id, credential: inside.token }));
    // The first refusal looks for room (once a second per node, on the test's clock): then it may wait.
    const first = await mint(t, company, { eventId: event.id, user: { id: "newcomer-1" } });
    expect(codeOf(await joinRaw(t, { event: event.id, credential: first.token }))).toBe("EVENT_FULL");

    const turn = t.db.dataSource.createQueryRunner();
    await turn.connect();
    let returning: Promise<GqlResponse> | undefined;
    try {
      await turn.startTransaction();
      await turn.query(`SELECT 1 FROM events WHERE id = $1 FOR NO KEY UPDATE`, [event.id]);
      const newcomer = await mint(t, company, { eventId: event.id, user: { id: "newcomer-2" } });
      const refused = joinRaw(t, { event: event.id, credential: newcomer.token });
      expect(await settled(refused, 10_000)).toBe("settled");
      expect(codeOf(await refused)).toBe("EVENT_FULL");
      // Replacing a session of one's own changes the count: that takes the turn.
      returning = joinRaw(t, { event: event.id, credential: inside.token });
      expect(await settled(returning, 300)).toBe("pending");
    } finally {
      await turn.rollbackTransaction().catch(() => undefined);
      await turn.release();
    }
    ok(await returning);
    expect(await liveSessions(event.id)).toBe(1);
    const users = await t.db.dataSource.query(
      `SELECT count(*)::int AS n FROM users WHERE company_id = $1 AND external_id LIKE 'newcomer-%'`,
      [company.id],
    );
    expect(users[0].n).toBe(0);
  });
});
