import { codeOf, ok, startTestApp, TestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent } from "../support/factories";
import { eventually, Node, startSecondNode } from "../support/nodes";
import { BEAT, join, mint, VALIDATE } from "../join/join-helpers";

/** Suspension and erasure as every node's revocation view answers them (validateToken, heartbeat). */
let t: TestApp;
let b: Node;
let company: TestCompany;
let event: TestEvent;

const viewLive = (node: { app: TestApp["app"] }) =>
  eventually(
    async () => node.app.services.tokens.revocations.live,
    (live) => live,
    5_000,
  );

beforeAll(async () => {
  t = await startTestApp();
  b = await startSecondNode(t);
  company = await makeCompany(t);
  event = await makeEvent(t, company);
  expect(await viewLive(t)).toBe(true);
  expect(await viewLive(b)).toBe(true);
  // Two apps and their migrations: slow on PGlite when the machine is busy.
}, 120_000);

afterAll(async () => {
  await b?.close();
  await t?.close();
});

it("a suspension on one node is answered by the other: validateToken and heartbeat say USER_SUSPENDED", async () => {
  await makeUser(t, company, { externalId: "n-sus" });
  const minted = await mint(t, company, { eventId: event.id, user: { id: "n-sus" } });
  const joined = await join(t, event.id, minted.token);
  b.clock.set(t.clock.now());
  expect(ok(await b.gql(VALIDATE, { token: minted.token })).validateToken).toMatchObject({ valid: true });

  ok(await t.gql(`mutation { suspendUser(id: "n-sus") { id } }`, {}, { key: company.key }));
  const answer = await eventually(
    async () => ok(await b.gql(VALIDATE, { token: minted.token })).validateToken,
    (v) => v.valid === false,
  );
  expect(answer).toMatchObject({ valid: false, errorCode: "USER_SUSPENDED" });
  expect(ok(await b.gql(VALIDATE, { token: joined.sessionToken })).validateToken).toMatchObject({
    valid: false,
    errorCode: "USER_SUSPENDED",
  });
  expect(codeOf(await b.gql(BEAT, { t: joined.sessionToken }))).toBe("USER_SUSPENDED");
});

it("a node that loads its view after a deletion still refuses the deleted user's older join tokens", async () => {
  await makeUser(t, company, { externalId: "n-erased" });
  const minted = await mint(t, company, { eventId: event.id, user: { id: "n-erased" } });
  t.clock.advance(5);
  ok(await t.gql(`mutation { deleteUser(id: "n-erased") }`, {}, { key: company.key }));

  const c = await startSecondNode(t);
  try {
    c.clock.set(t.clock.now());
    expect(await viewLive(c)).toBe(true);
    expect(ok(await c.gql(VALIDATE, { token: minted.token })).validateToken).toMatchObject({
      valid: false,
      errorCode: "TOKEN_REVOKED",
    });
  } finally {
    await c.close();
  }
});
