/**
 * Each node's revocation view: revocations travel on the change feed, so a token revoked through
 * one node is refused by another within the feed's latency, and checking a token that is not
 * revoked needs no statement. While a node's feed is deaf it asks the database.
 */
import { FEED_APPLICATION_NAME } from "../../src/db/change-feed";
import { codeOf, GqlResponse, ok, startTestApp, TestApp, usingPglite } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { eventually, Node, startSecondNode } from "../support/nodes";
import { join, JOIN, mint, VALIDATE } from "./join-helpers";

const REVOKE = `mutation($jti: ID!) { revokeToken(jti: $jti) }`;
const REVOKE_USER = `mutation($id: ID!) { revokeUserTokens(userId: $id) }`;

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
const validateOnB = async (token: string) => ok(await b.gql(VALIDATE, { token })).validateToken;
const joinOnB = (token: string) => b.gql(JOIN, { input: { event: event.id, credential: token } });
/** Asks B until it refuses the token, for at most 2 s (the feed's latency is far below). */
const refusedByB = (token: string) =>
  eventually(
    () => validateOnB(token),
    (answer) => answer.valid === false,
  );

beforeAll(async () => {
  t = await startTestApp();
  b = await startSecondNode(t);
  company = await makeCompany(t);
  event = await makeEvent(t, company);
  // Both views have loaded: from here on B answers from its view, so only the feed can tell it.
  expect(await viewLive(t)).toBe(true);
  expect(await viewLive(b)).toBe(true);
});

afterAll(async () => {
  await b?.close();
  await t?.close();
});

/** Moves both nodes' clocks (they started together). */
function advance(seconds: number): void {
  t.clock.advance(seconds);
  b.clock.advance(seconds);
}

describe("a revocation made through one node", () => {
  it("revokeToken: another node that had found the token valid refuses it at validateToken and joinEvent", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: "feed-revoked" } });
    expect(await validateOnB(minted.token)).toMatchObject({ valid: true });
    expect(await validateOnB(minted.token)).toMatchObject({ valid: true });

    ok(await t.gql(REVOKE, { jti: minted.jti }, { key: company.key }));
    expect(await refusedByB(minted.token)).toMatchObject({
      valid: false,
      errorCode: "TOKEN_REVOKED",
      tokenType: "join",
    });
    expect(codeOf(await joinOnB(minted.token))).toBe("TOKEN_REVOKED");
    // The node that revoked it refuses it at once.
    expect(ok(await t.gql(VALIDATE, { token: minted.token })).validateToken).toMatchObject({
      valid: false,
      errorCode: "TOKEN_REVOKED",
    });
  });

  it("revokeUserTokens: another node refuses the user's older tokens, and still takes newer ones", async () => {
    const older = await mint(t, company, { eventSpecific: false, user: { id: "feed-cut-off" } });
    const userId = (await join(t, event.id, older.token)).session.userId;
    expect(await validateOnB(older.token)).toMatchObject({ valid: true });

    advance(10);
    ok(await t.gql(REVOKE_USER, { id: userId }, { key: company.key }));
    expect(await refusedByB(older.token)).toMatchObject({ valid: false, errorCode: "TOKEN_REVOKED" });
    expect(codeOf(await joinOnB(older.token))).toBe("TOKEN_REVOKED");

    advance(1);
    const newer = await mint(t, company, { eventSpecific: false, user: { id: "feed-cut-off" } });
    expect(await validateOnB(newer.token)).toMatchObject({ valid: true });
    expect(ok(await joinOnB(newer.token)).joinEvent.session.active).toBe(true);
  });
});

describe("a node that starts after the revocations", () => {
  it("loads them: its first answers already refuse", async () => {
    const byJti = await mint(t, company, { eventId: event.id, user: { id: "before-start" } });
    const byUser = await mint(t, company, { eventId: event.id, user: { id: "before-start-user" } });
    const userId = (await join(t, event.id, byUser.token)).session.userId;
    ok(await t.gql(REVOKE, { jti: byJti.jti }, { key: company.key }));
    // A jti that is not plain ASCII: the database and the node fingerprint the same bytes.
    ok(await t.gql(REVOKE, { jti: "jti-ünïcödé-✓" }, { key: company.key }));
    advance(10);
    ok(await t.gql(REVOKE_USER, { id: userId }, { key: company.key }));

    const c = await startSecondNode(t);
    try {
      c.clock.set(t.clock.now());
      expect(await viewLive(c)).toBe(true);
      for (const token of [byJti.token, byUser.token]) {
        expect(ok(await c.gql(VALIDATE, { token })).validateToken).toMatchObject({
          valid: false,
          errorCode: "TOKEN_REVOKED",
        });
      }
      expect(c.app.services.tokens.revocations.mayBeRevoked(company.id, "jti-ünïcödé-✓")).toBe(true);
      expect(c.app.services.tokens.revocations.mayBeRevoked(company.id, "jti-never-revoked")).toBe(false);
    } finally {
      await c.close();
    }
  });
});

describe("checking a token that is not revoked", () => {
  /** Every statement the node sends while `work` runs: TypeORM's, and those straight on the pool. */
  async function statementsOf(work: () => Promise<unknown>): Promise<string[]> {
    const pool = (t.db.dataSource.driver as unknown as { master: { query: (...args: unknown[]) => unknown } }).master;
    const original = pool.query;
    const raw: string[] = [];
    pool.query = function (this: unknown, ...args: unknown[]) {
      const sql = args[0];
      raw.push(typeof sql === "string" ? sql : (sql as { text: string }).text);
      return original.apply(this, args);
    };
    try {
      const { statements } = await t.statements.count(work);
      return [...statements, ...raw];
    } finally {
      pool.query = original;
    }
  }

  it("makes no database statement once the view is live (a revoked one still asks the database)", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: "no-statement" } });
    const validate = async () => ok(await t.gql(VALIDATE, { token: minted.token })).validateToken as { valid: boolean };
    // The first check fills the company and key caches.
    expect((await validate()).valid).toBe(true);
    expect(t.app.services.tokens.revocations.live).toBe(true);
    expect(await statementsOf(async () => expect((await validate()).valid).toBe(true))).toEqual([]);

    ok(await t.gql(REVOKE, { jti: minted.jti }, { key: company.key }));
    const confirming = await statementsOf(async () => expect((await validate()).valid).toBe(false));
    expect(confirming.some((sql) => sql.includes("revoked_tokens"))).toBe(true);
  });
});

// PGlite's feed is in-process and cannot drop; a server connection can.
(usingPglite() ? describe.skip : describe)("on PostgreSQL, while a node's feed is down", () => {
  it("the node asks the database (and refuses), and once it is back its reloaded view refuses too", async () => {
    const minted = await mint(t, company, { eventId: event.id, user: { id: "deaf-node" } });
    const other = await mint(t, company, { eventId: event.id, user: { id: "deaf-bystander" } });
    expect(await validateOnB(minted.token)).toMatchObject({ valid: true });

    // Every node's listening connection goes (both reconnect, after a quarter of a second at least).
    await t.db.dataSource.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()",
      [FEED_APPLICATION_NAME],
    );
    expect(
      await eventually(
        async () => b.app.changes.live,
        (live) => !live,
      ),
    ).toBe(false);
    // Revoked behind every node's back (no announcement): a node answering from its view would let it in.
    await t.db.dataSource.query("INSERT INTO revoked_tokens (company_id, jti, revoked_at) VALUES ($1, $2, now())", [
      company.id,
      minted.jti,
    ]);
    const deaf = !b.app.changes.live;
    const whileDeaf: GqlResponse = await b.gql(VALIDATE, { token: minted.token });
    expect(whileDeaf.data.validateToken).toMatchObject({ valid: false, errorCode: "TOKEN_REVOKED" });
    if (deaf) expect(codeOf(await joinOnB(minted.token))).toBe("TOKEN_REVOKED");

    expect(await viewLive(b)).toBe(true);
    expect(await validateOnB(minted.token)).toMatchObject({ valid: false, errorCode: "TOKEN_REVOKED" });
    expect(codeOf(await joinOnB(minted.token))).toBe("TOKEN_REVOKED");
    expect(await validateOnB(other.token)).toMatchObject({ valid: true });
  });
});
