/**
 * Per-node caches on the hot paths (API keys, events for minting, company settings, signing
 * keys) and the change feed that keeps them honest across nodes: a change committed on one node
 * is refused or seen on another at once, not after a cache time. Partner secrets, which are not
 * announced, after their cache time on the other node's clock.
 */
import { decodeProtectedHeader } from "jose";
import { codeOf, GqlResponse, ok, startTestApp, TestApp, usingPglite } from "../support/harness";
import { eventually, Node, startSecondNode } from "../support/nodes";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { createSecret, fresh, PARTNER_JOIN, REVOKE_SECRET, signPartner } from "../federation/partner-helpers";
import { PARTNER_SECRET_CACHE_MS } from "../../src/modules/partner/partner.service";

const COMPANY_ID = `{ company { id } }`;
const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token joinUrl expiresAt } }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;

let t: TestApp;
let b: Node;
let company: TestCompany;

beforeAll(async () => {
  t = await startTestApp();
  b = await startSecondNode(t);
  company = await makeCompany(t);
});

afterAll(async () => {
  await b?.close();
  await t?.close();
});

async function makeKey(): Promise<{ id: string; secret: string }> {
  const made = ok(
    await t.gql(
      `mutation { createApiKey(input: { name: "feed" }) { apiKey { id } secret } }`,
      {},
      { key: company.key },
    ),
  );
  return { id: made.createApiKey.apiKey.id, secret: made.createApiKey.secret };
}

describe("change feed", () => {
  it("is live on both nodes once they have started", () => {
    expect(t.app.changes.live).toBe(true);
    expect(b.app.changes.live).toBe(true);
  });

  it("a key revoked on one node is refused by the node that revoked it on the very next request", async () => {
    const key = await makeKey();
    ok(await t.gql(COMPANY_ID, {}, { key: key.secret }));
    ok(await t.gql(COMPANY_ID, {}, { key: key.secret }));
    ok(await t.gql(REVOKE, { id: key.id }, { key: company.key }));
    expect(codeOf(await t.gql(COMPANY_ID, {}, { key: key.secret }))).toBe("UNAUTHENTICATED");
  });

  it("a key revoked on one node is refused by another node that had it cached, at once (not after the cache time)", async () => {
    const key = await makeKey();
    // Node B checks the key (and caches it) twice.
    ok(await b.gql(COMPANY_ID, {}, key.secret));
    ok(await b.gql(COMPANY_ID, {}, key.secret));
    ok(await t.gql(REVOKE, { id: key.id }, { key: company.key }));
    const refused = await eventually(
      () => b.gql(COMPANY_ID, {}, key.secret),
      (res) => codeOf(res) === "UNAUTHENTICATED",
    );
    expect(codeOf(refused)).toBe("UNAUTHENTICATED");
  });

  it("a cached key still needs its whole secret: a wrong secret with the same lookup is refused", async () => {
    const key = await makeKey();
    ok(await b.gql(COMPANY_ID, {}, key.secret));
    const last = key.secret.at(-1) === "A" ? "B" : "A";
    const forged = `${key.secret.slice(0, -1)}${last}`;
    expect(codeOf(await b.gql(COMPANY_ID, {}, forged))).toBe("UNAUTHENTICATED");
    ok(await b.gql(COMPANY_ID, {}, key.secret));
  });

  it("an event's new slug is in the join URLs another node mints right after the change", async () => {
    const event = await makeEvent(t, company, { slug: `feed-${Date.now()}` });
    const mint = () => b.gql(MINT, { input: { eventId: event.id, user: { id: "feed-user" } } }, company.key);
    expect(ok(await mint()).mintJoinToken.joinUrl).toContain(`/j/${event.slug}?`);
    const renamed = `${event.slug}-renamed`;
    ok(
      await t.gql(
        `mutation($id: ID!, $slug: String!) { updateEvent(id: $id, input: { slug: $slug }) { slug } }`,
        { id: event.id, slug: renamed },
        { key: company.key },
      ),
    );
    const after = await eventually(mint, (res) => Boolean(res.data?.mintJoinToken.joinUrl.includes(`/j/${renamed}?`)));
    expect(ok(after).mintJoinToken.joinUrl).toContain(`/j/${renamed}?`);
  });

  it("another company's event is NOT_FOUND for minting even once it is in the cache", async () => {
    const other = await makeCompany(t);
    const event = await makeEvent(t, other);
    ok(await b.gql(MINT, { input: { eventId: event.id, user: { id: "u" } } }, other.key));
    const res = await b.gql(MINT, { input: { eventId: event.id, user: { id: "u" } } }, company.key);
    expect(codeOf(res)).toBe("NOT_FOUND");
  });

  // A fresh company each: its first mint on b fills b's caches now, and b's clock does not move,
  // so they cannot expire: only the feed can make b see the change.
  it("a settings change on one node shapes the next token another node mints (not after the company cache time)", async () => {
    const fresh = await makeCompany(t);
    const event = await makeEvent(t, fresh);
    const mint = () => b.gql(MINT, { input: { eventId: event.id, user: { id: "ttl-user" } } }, fresh.key);
    ok(await mint());
    ok(
      await t.gql(
        `mutation { updateCompanySettings(input: { defaultTokenTtlSeconds: 120 }) { id } }`,
        {},
        { key: fresh.key },
      ),
    );
    const ttlOf = (res: GqlResponse) => (Date.parse(res.data.mintJoinToken.expiresAt) - Date.now()) / 1000;
    const after = await eventually(mint, (res) => Boolean(res.data) && ttlOf(res) <= 125);
    expect(ttlOf(after)).toBeLessThanOrEqual(125);
  });

  it("a key rotated on one node signs the next token another node mints (not after the key cache time)", async () => {
    const fresh = await makeCompany(t);
    const event = await makeEvent(t, fresh);
    const kidOf = (res: GqlResponse) => decodeProtectedHeader(res.data.mintJoinToken.token).kid;
    const mint = () => b.gql(MINT, { input: { eventId: event.id, user: { id: "kid-user" } } }, fresh.key);
    const before = kidOf(ok(await mint()) && (await mint()));
    const rotated = ok(await t.gql(`mutation { rotateSigningKey { kid } }`, {}, { key: fresh.key })).rotateSigningKey
      .kid;
    expect(rotated).not.toBe(before);
    const after = await eventually(mint, (res) => Boolean(res.data) && kidOf(res) === rotated);
    expect(kidOf(after)).toBe(rotated);
  });

  it("a partner secret revoked on one node stops verifying on another once its cache time has passed on that node's clock", async () => {
    const event = await makeEvent(t, company);
    const secret = await createSecret(t, company, "two nodes");
    let n = 0;
    const joinOnB = async () => {
      const credential = await signPartner(secret, fresh(t, { user: { id: `two-nodes-${++n}` } }));
      return b.gql(PARTNER_JOIN, { input: { event: event.id, credential, credentialType: "PARTNER_JWT" } });
    };
    ok(await joinOnB());
    ok(await t.gql(REVOKE_SECRET, { id: secret.id }, { key: company.key }));
    // Partner secrets are not announced: b keeps its copy for PARTNER_SECRET_CACHE_MS, on its clock.
    ok(await joinOnB());
    b.clock.advance(PARTNER_SECRET_CACHE_MS / 1000);
    expect(codeOf(await joinOnB())).toBe("TOKEN_INVALID");
  });

  // PGlite's feed is in-process and cannot drop; a server connection can.
  (usingPglite() ? it.skip : it)(
    "on PostgreSQL: while its listening connection is down a node does not trust its caches, and it comes back",
    async () => {
      const key = await makeKey();
      ok(await b.gql(COMPANY_ID, {}, key.secret));
      // Every node's listening connection goes (t's too; both reconnect).
      await t.db.dataSource.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN admit_changes' AND pid <> pg_backend_pid()`,
      );
      await eventually(
        async () => b.app.changes.live,
        (live) => !live,
      );
      // Revoked behind every node's back (no announcement): a node that kept trusting its cache would let it in.
      await t.db.dataSource.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [key.id]);
      // (Asked only while b is still reconnecting, which takes a quarter of a second at least.)
      if (!b.app.changes.live) expect(codeOf(await b.gql(COMPANY_ID, {}, key.secret))).toBe("UNAUTHENTICATED");
      expect(
        await eventually(
          async () => b.app.changes.live,
          (live) => live,
          5_000,
        ),
      ).toBe(true);
      expect(codeOf(await b.gql(COMPANY_ID, {}, key.secret))).toBe("UNAUTHENTICATED");
    },
  );

  (usingPglite() ? it.skip : it)(
    "on PostgreSQL: stays live through its self-checks (it notifies itself every 5 s to catch a silently dead connection)",
    async () => {
      expect(
        await eventually(
          async () => b.app.changes.live,
          (live) => live,
          5_000,
        ),
      ).toBe(true);
      let dropped = false;
      // Past the first self-check of the connection the previous test made, and its deadline.
      const until = Date.now() + 11_000;
      while (Date.now() < until) {
        if (!b.app.changes.live) dropped = true;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(dropped).toBe(false);
    },
    20_000,
  );
});
