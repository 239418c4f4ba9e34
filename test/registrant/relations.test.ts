import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";

/** The relations dashboards walk, both ways, paginated, and at a bounded number of SQL statements. */

const t = useTestApp();

const REGISTER = `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { id email joinUrl } }`;
const JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken session { id } } }`;
const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`;

const tokenOf = (joinUrl: string): string => new URL(joinUrl).searchParams.get("token")!;

async function register(company: TestCompany, event: TestEvent, email: string) {
  return ok(
    await t.gql(REGISTER, { input: { eventId: event.id, name: email.split("@")[0], email } }, { key: company.key }),
  ).registerForEvent as {
    id: string;
    email: string;
    joinUrl: string;
  };
}

async function joinWith(event: TestEvent, credential: string) {
  return ok(await t.gql(JOIN, { input: { event: event.id, credential } })).joinEvent as {
    sessionToken: string;
    session: { id: string };
  };
}

describe("Event.registrants", () => {
  it("pages oldest first with a stable cursor and a totalCount; cancelled ones only when asked", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await register(company, event, `p${i}@example.com`));
    ok(
      await t.gql(
        `mutation($id: ID!) { cancelRegistration(id: $id) { id } }`,
        { id: made[1].id },
        { key: company.key },
      ),
    );
    // Another event's registrants never show up here.
    await register(company, await makeEvent(t, company), "elsewhere@example.com");

    const PAGE = `query($id: ID!, $after: String, $all: Boolean) { event(id: $id) {
      registrants(first: 2, after: $after, includeCancelled: $all) {
        totalCount edges { cursor node { id email createdAt active } } pageInfo { hasNextPage endCursor }
      } } }`;
    const walk = async (all: boolean) => {
      const seen: { id: string; createdAt: string; active: boolean }[] = [];
      let after: string | null = null;
      for (let pages = 0; pages < 10; pages++) {
        const conn: any = ok(await t.gql(PAGE, { id: event.id, after, all }, { key: company.key })).event.registrants;
        expect(conn.totalCount).toBe(all ? 5 : 4);
        expect(conn.edges.length).toBeLessThanOrEqual(2);
        seen.push(...conn.edges.map((e: any) => e.node));
        if (!conn.pageInfo.hasNextPage) break;
        after = conn.pageInfo.endCursor;
      }
      return seen;
    };
    const live = await walk(false);
    expect(live.map((r) => r.id).sort()).toEqual(
      made
        .filter((_, i) => i !== 1)
        .map((r) => r.id)
        .sort(),
    );
    expect(live.every((r) => r.active)).toBe(true);
    const all = await walk(true);
    expect(all.map((r) => r.id).sort()).toEqual(made.map((r) => r.id).sort());
    // Oldest first: the order the API gives is (createdAt, id) ascending.
    const times = all.map((r) => Date.parse(r.createdAt));
    expect([...times].sort((a, b) => a - b)).toEqual(times);

    const bad = await t.gql(PAGE, { id: event.id, after: "garbage", all: false }, { key: company.key });
    expect(codeOf(bad)).toBe("BAD_USER_INPUT");
    expect(bad.errors![0].extensions!.field).toBe("after");
    const tooMany = await t.gql(
      `query($id: ID!) { event(id: $id) { registrants(first: 101) { totalCount } } }`,
      { id: event.id },
      { key: company.key },
    );
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "first" });
  });

  it("costs the same number of SQL statements for 3 events as for 10", async () => {
    const company = await makeCompany(t);
    for (let i = 0; i < 10; i++) {
      const event = await makeEvent(t, company, { organizers: [{ email: `boss${i}@example.com` }] });
      for (let j = 0; j < (i % 4) + 1; j++) await register(company, event, `guest${j}@example.com`);
    }
    const QUERY = `query($n: Int) { events(first: $n) { edges { node {
      id registrants(first: 3) { totalCount edges { node { email } } pageInfo { hasNextPage } }
      organizers { email }
    } } } }`;
    // Warm up: the first use of a key records its lastUsedAt, which is one statement more.
    ok(await t.gql(QUERY, { n: 1 }, { key: company.key }));

    const three = await t.statements.count(() => t.gql(QUERY, { n: 3 }, { key: company.key }));
    const ten = await t.statements.count(() => t.gql(QUERY, { n: 10 }, { key: company.key }));
    const nodes = ok(ten.result).events.edges.map((e: any) => e.node);
    expect(nodes).toHaveLength(10);
    expect(nodes.map((n: any) => n.registrants.totalCount)).toEqual([1, 2, 3, 4, 1, 2, 3, 4, 1, 2]);
    expect(nodes.map((n: any) => n.registrants.edges.length)).toEqual([1, 2, 3, 3, 1, 2, 3, 3, 1, 2]);
    expect(nodes.map((n: any) => n.registrants.pageInfo.hasNextPage)).toEqual([
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      true,
      false,
      false,
    ]);
    expect(nodes[9].organizers).toEqual([{ email: "boss9@example.com" }]);
    expect(ok(three.result).events.edges).toHaveLength(3);
    expect(ten.statements.length).toBe(three.statements.length);
    // Auth, the events page, one registrant page, one count, one principal list: nothing per event.
    expect(ten.statements.length).toBeLessThanOrEqual(5);
  });

  it("walks sessions of many events, their registrants and users, at a bounded number of statements", async () => {
    const company = await makeCompany(t);
    for (let i = 0; i < 10; i++) {
      const event = await makeEvent(t, company);
      for (let j = 0; j < (i % 3) + 1; j++) {
        t.clock.advance(1);
        await joinWith(event, tokenOf((await register(company, event, `s${j}@example.com`)).joinUrl));
      }
    }
    const QUERY = `query($n: Int) { events(first: $n) { edges { node {
      sessions(first: 2) { totalCount edges { node { id
        registrant { email event { id } sessions(first: 1) { totalCount } }
        user { email sessions(first: 5) { totalCount edges { node { id } } } }
      } } }
    } } } }`;
    ok(await t.gql(QUERY, { n: 1 }, { key: company.key }));
    const three = await t.statements.count(() => t.gql(QUERY, { n: 3 }, { key: company.key }));
    const ten = await t.statements.count(() => t.gql(QUERY, { n: 10 }, { key: company.key }));
    const nodes = ok(ten.result).events.edges.map((e: any) => e.node);
    expect(nodes.map((n: any) => n.sessions.totalCount)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 1]);
    const first = nodes[2].sessions.edges[0].node;
    expect(first.registrant).toMatchObject({ email: "s0@example.com", sessions: { totalCount: 1 } });
    expect(first.user.sessions.edges).toEqual([{ node: { id: first.id } }]);
    expect(ten.statements.length).toBe(three.statements.length);
  });
});

describe("relations both ways", () => {
  let company: TestCompany;
  let event: TestEvent;
  let reg: { id: string; email: string; joinUrl: string };
  let regSession: string;
  let tokenSessions: string[];

  beforeAll(async () => {
    company = await makeCompany(t);
    event = await makeEvent(t, company, { maxSessionsPerUser: 3 });
    reg = await register(company, event, "walker@example.com");
    regSession = (await joinWith(event, tokenOf(reg.joinUrl))).session.id;
    const minted = ok(
      await t.gql(
        MINT,
        { input: { eventId: event.id, user: { id: "member-1", email: "member@example.com" } } },
        { key: company.key },
      ),
    );
    tokenSessions = [];
    for (let i = 0; i < 3; i++) {
      t.clock.advance(1);
      tokenSessions.push((await joinWith(event, minted.mintJoinToken.token)).session.id);
    }
  });

  it("walks Event → sessions → registrant → event/user/sessions, and User.sessions", async () => {
    const data = ok(
      await t.gql(
        `query($id: ID!) { event(id: $id) {
          sessions(first: 10) { totalCount edges { node { id credentialType
            user { externalId sessions { totalCount } }
            registrant { id email event { id } user { email } sessions { totalCount edges { node { id } } } }
          } } }
          live: sessions(active: true) { totalCount }
        } }`,
        { id: event.id },
        { key: company.key },
      ),
    );
    const sessions = data.event.sessions;
    expect(sessions.totalCount).toBe(4);
    expect(data.event.live.totalCount).toBe(4);
    // Oldest join first.
    expect(sessions.edges.map((e: any) => e.node.id)).toEqual([regSession, ...tokenSessions]);
    const [fromReg, ...fromToken] = sessions.edges.map((e: any) => e.node);
    expect(fromReg).toMatchObject({
      credentialType: "REGISTRATION_TOKEN",
      user: { externalId: null, sessions: { totalCount: 1 } },
      registrant: {
        id: reg.id,
        email: "walker@example.com",
        event: { id: event.id },
        user: { email: "walker@example.com" },
        sessions: { totalCount: 1, edges: [{ node: { id: regSession } }] },
      },
    });
    for (const node of fromToken)
      expect(node).toMatchObject({
        credentialType: "JOIN_TOKEN",
        registrant: null,
        user: { externalId: "member-1", sessions: { totalCount: 3 } },
      });
  });

  it("pages User.sessions and filters ended ones", async () => {
    ok(
      await t.gql(`mutation($id: ID!) { endSession(id: $id) { id } }`, { id: tokenSessions[0] }, { key: company.key }),
    );
    const QUERY = `query($after: String) { user(externalId: "member-1") { sessions(first: 2, after: $after) {
      totalCount edges { node { id active } } pageInfo { hasNextPage endCursor } }
      ended: sessions(active: false) { totalCount edges { node { id endReason } } } } }`;
    const first = ok(await t.gql(QUERY, {}, { key: company.key })).user;
    expect(first.sessions.totalCount).toBe(3);
    expect(first.sessions.edges.map((e: any) => e.node.id)).toEqual(tokenSessions.slice(0, 2));
    expect(first.sessions.pageInfo.hasNextPage).toBe(true);
    const second = ok(await t.gql(QUERY, { after: first.sessions.pageInfo.endCursor }, { key: company.key })).user;
    expect(second.sessions.edges.map((e: any) => e.node.id)).toEqual([tokenSessions[2]]);
    expect(second.sessions.pageInfo.hasNextPage).toBe(false);
    expect(first.ended).toEqual({ totalCount: 1, edges: [{ node: { id: tokenSessions[0], endReason: "KICKED" } }] });
  });

  it("is not reachable without the company's API key, nor by another company", async () => {
    // The join caller holds a credential, not an API key: the event's other registrants stay hidden.
    const anon = await t.gql(
      `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken session { id event { id registrants { totalCount edges { node { email } } } } } } }`,
      { input: { event: event.id, credential: tokenOf(reg.joinUrl) } },
    );
    expect(codeOf(anon)).toBe("UNAUTHENTICATED");
    expect(JSON.stringify(anon)).not.toContain("walker@example.com");
    const anonRegistrant = await t.gql(
      `mutation($input: JoinEventInput!) { joinEvent(input: $input) { session { id registrant { email joinUrl } user { sessions { totalCount } } } } }`,
      { input: { event: event.id, credential: tokenOf(reg.joinUrl) } },
    );
    expect(anonRegistrant.errors?.map((e) => e.extensions?.code)).toEqual(["UNAUTHENTICATED", "UNAUTHENTICATED"]);
    expect(JSON.stringify(anonRegistrant)).not.toContain("walker@example.com");

    // Another company's key reaching this company's rows through a join result sees nothing of them.
    const other = await makeCompany(t);
    const viaOther = await t.gql(
      `mutation($input: JoinEventInput!) { joinEvent(input: $input) { session { registrant { id } event { registrants { totalCount } sessions { totalCount } } user { sessions { totalCount } } } } }`,
      { input: { event: event.id, credential: tokenOf(reg.joinUrl) } },
      { key: other.key },
    );
    // Refused outright (not an empty page that reads as "none"): the key is not this company's.
    expect(viaOther.errors?.length).toBeGreaterThan(0);
    expect(viaOther.errors?.every((e) => e.extensions?.code === "FORBIDDEN")).toBe(true);
    expect(JSON.stringify(viaOther.data ?? null)).not.toMatch(/totalCount|walker@example\.com/);
  });
});
