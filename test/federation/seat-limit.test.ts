import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent } from "../support/factories";
import { TestJwksServer } from "../support/jwks-server";
import { expectRefused, joinRaw } from "../join/join-helpers";
import {
  addProvider,
  createSecret,
  fresh,
  oidcJoin,
  PartnerSecret,
  partnerJoin,
  seatsUsed,
  signPartner,
  tally,
  userCount,
} from "./partner-helpers";

const t = useTestApp();

const UPSERT = `mutation($input: UpsertUserInput!) { upsertUser(input: $input) { id externalId name } }`;

describe("the seat limit and just-in-time users", () => {
  let company: TestCompany;
  let event: TestEvent;
  let secret: PartnerSecret;
  let existing: { id: string; externalId: string };

  beforeAll(async () => {
    company = await makeCompany(t, { seatLimit: 3 });
    event = await makeEvent(t, company);
    secret = await createSecret(t, company);
    existing = await makeUser(t, company, { externalId: "already-here", name: "Here" });
  });

  it("6 concurrent JIT joins of distinct users with 2 seats left: exactly 2 are created, 4 are SEAT_LIMIT_REACHED", async () => {
    const tokens = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        signPartner(secret, fresh(t, { user: { id: `rush-${i}`, name: `Rush ${i}` } })),
      ),
    );
    const results = await Promise.all(tokens.map((token) => partnerJoin(t, event.id, token)));
    expect(tally(results.map(codeOf))).toEqual({ OK: 2, SEAT_LIMIT_REACHED: 4 });
    expect(await seatsUsed(t, company)).toBe(3);

    // Nothing is left of the refused ones: no users, no sessions.
    const users: { external_id: string }[] = await t.db.dataSource.query(
      `SELECT external_id FROM users WHERE company_id = $1 ORDER BY external_id`,
      [company.id],
    );
    const admitted = results.filter((r) => !codeOf(r)).map((r) => r.data.joinEvent.session.user.externalId);
    expect(users.map((u) => u.external_id).sort()).toEqual(["already-here", ...admitted].sort());
    const sessions = await t.db.dataSource.query(`SELECT count(*)::int AS n FROM sessions WHERE event_id = $1`, [
      event.id,
    ]);
    expect(sessions[0].n).toBe(2);
  });

  it("at the limit, upsertUser of a new user is refused and changes nothing; existing users are still updated", async () => {
    await expectRefused(
      t,
      () => t.gql(UPSERT, { input: { externalId: "one-too-many" } }, { key: company.key }),
      "SEAT_LIMIT_REACHED",
    );
    const updated = ok(
      await t.gql(UPSERT, { input: { externalId: existing.externalId, name: "Still here" } }, { key: company.key }),
    ).upsertUser;
    expect(updated).toMatchObject({ id: existing.id, name: "Still here" });
    expect(await seatsUsed(t, company)).toBe(3);
  });

  it("at the limit, a JIT token of a new user is refused; of an existing user, or a { sub }, it joins", async () => {
    const newcomer = await signPartner(secret, fresh(t, { user: { id: "late" } }));
    await expectRefused(t, () => partnerJoin(t, event.id, newcomer), "SEAT_LIMIT_REACHED");
    const known = ok(
      await partnerJoin(
        t,
        event.id,
        await signPartner(secret, fresh(t, { user: { id: existing.externalId, name: "Known" } })),
      ),
    ).joinEvent;
    expect(known.session.userId).toBe(existing.id);
    const bySub = ok(
      await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { sub: existing.externalId }))),
    ).joinEvent;
    expect(bySub.session.userId).toBe(existing.id);
    expect(await seatsUsed(t, company)).toBe(3);
  });

  it("guests take no seat, even at the limit", async () => {
    const open = await makeEvent(t, company, { privacy: "PUBLIC" });
    const before = await userCount(t, company.id);
    const guest = ok(await joinRaw(t, { event: open.id, displayName: "Visitor" })).joinEvent;
    expect(guest.session.user.isGuest).toBe(true);
    expect(await seatsUsed(t, company)).toBe(3);
    expect(await userCount(t, company.id)).toBe(before + 1);
  });

  it("raising the limit lets the next JIT user in", async () => {
    ok(
      await t.gql(
        `mutation { updateCompanySettings(input: { seatLimit: 4 }) { seatLimit } }`,
        {},
        { key: company.key },
      ),
    );
    ok(await partnerJoin(t, event.id, await signPartner(secret, fresh(t, { user: { id: "after-raise" } }))));
    expect(await seatsUsed(t, company)).toBe(4);
  });
});

describe("OIDC just-in-time users count too", () => {
  let idp: TestJwksServer;
  beforeAll(async () => {
    idp = await TestJwksServer.start();
  });
  afterAll(() => idp.stop());

  it("a new user from an ID token at the limit is SEAT_LIMIT_REACHED; a known one joins", async () => {
    const company = await makeCompany(t, { seatLimit: 1 });
    const event = await makeEvent(t, company);
    const issuer = `${idp.baseUrl}/seat-test`;
    await addProvider(t, company, { name: "IdP", issuer, jwksUri: idp.jwksUri, audience: "admit" });
    const idToken = (sub: string) => idp.sign(fresh(t, { iss: issuer, aud: "admit", sub }));
    ok(await oidcJoin(t, event.id, await idToken("first")));
    const late = await idToken("second");
    await expectRefused(t, () => oidcJoin(t, event.id, late), "SEAT_LIMIT_REACHED");
    ok(await oidcJoin(t, event.id, await idToken("first")));
    expect(await seatsUsed(t, company)).toBe(1);
  });
});
