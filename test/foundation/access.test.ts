import { codeOf, ok, startTestApp, TestApp } from "../support/harness";
import {
  companySnapshot,
  makeCompany,
  makeEvent,
  makeUser,
  TestCompany,
  TestEvent,
  TestUser,
} from "../support/factories";

/**
 * Who may call what: every foundation operation without a key, with a key that is not (or no
 * longer) valid, and with another company's key on this company's objects. Company A is never
 * touched by anything in this file, so its snapshot must stay equal to the one taken first.
 */

let t: TestApp;
let a: TestCompany;
let b: TestCompany;
let aEvent: TestEvent;
let aUser: TestUser;
let aSecondKeyId: string;
let aSecondKey: string;
let before: unknown;

beforeAll(async () => {
  t = await startTestApp();
  a = await makeCompany(t, { seatLimit: 5 });
  b = await makeCompany(t);
  aEvent = await makeEvent(t, a, {
    name: "A's board meeting",
    presenters: [{ userId: "a-presenter" }],
    organizers: [{ email: "chair@a.example.com" }],
  });
  aUser = await makeUser(t, a, { externalId: "a-user-1", email: "Ann@A.example.com", name: "Ann" });
  const made = ok(
    await t.gql(`mutation { createApiKey(input: { name: "second" }) { apiKey { id } secret } }`, {}, { key: a.key }),
  );
  aSecondKeyId = made.createApiKey.apiKey.id;
  aSecondKey = made.createApiKey.secret;
  before = await companySnapshot(t, a);
});
afterAll(async () => {
  await t.close();
});

afterEach(async () => {
  expect(await companySnapshot(t, a)).toEqual(before);
});

interface Operation {
  name: string;
  query: string;
  variables: () => Record<string, unknown>;
}

/** Each operation with input that would succeed for company A's owner. */
const OPERATIONS: Operation[] = [
  {
    name: "createCompany",
    query: `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { secret } }`,
    variables: () => ({ input: { name: "Intruder Inc" } }),
  },
  { name: "company", query: `{ company { id } }`, variables: () => ({}) },
  {
    name: "updateCompanySettings",
    query: `mutation($input: UpdateCompanySettingsInput!) { updateCompanySettings(input: $input) { id } }`,
    variables: () => ({ input: { loginLinkTtlSeconds: 200, seatLimit: null } }),
  },
  {
    name: "createApiKey",
    query: `mutation { createApiKey(input: { name: "stolen" }) { secret } }`,
    variables: () => ({}),
  },
  {
    name: "revokeApiKey",
    query: `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`,
    variables: () => ({ id: aSecondKeyId }),
  },
  {
    name: "createEvent",
    query: `mutation { createEvent(input: { name: "Gatecrash" }) { id } }`,
    variables: () => ({}),
  },
  {
    name: "updateEvent",
    query: `mutation($id: ID!) { updateEvent(id: $id, input: { name: "Renamed" }) { id } }`,
    variables: () => ({ id: aEvent.id }),
  },
  { name: "endEvent", query: `mutation($id: ID!) { endEvent(id: $id) { id } }`, variables: () => ({ id: aEvent.id }) },
  { name: "event", query: `query($id: ID!) { event(id: $id) { id } }`, variables: () => ({ id: aEvent.id }) },
  { name: "events", query: `{ events { edges { node { id } } } }`, variables: () => ({}) },
  {
    name: "addEventPrincipals",
    query: `mutation($input: EventPrincipalsInput!) { addEventPrincipals(input: $input) { id } }`,
    variables: () => ({ input: { eventId: aEvent.id, role: "ORGANIZER", principals: [{ userId: "mallory" }] } }),
  },
  {
    name: "removeEventPrincipals",
    query: `mutation($input: EventPrincipalsInput!) { removeEventPrincipals(input: $input) { id } }`,
    variables: () => ({
      input: { eventId: aEvent.id, role: "ORGANIZER", principals: [{ email: "chair@a.example.com" }] },
    }),
  },
  {
    name: "upsertUser",
    query: `mutation($input: UpsertUserInput!) { upsertUser(input: $input) { id } }`,
    variables: () => ({ input: { externalId: "a-user-1", name: "Hijacked" } }),
  },
  { name: "user", query: `query($id: ID) { user(id: $id) { id } }`, variables: () => ({ id: aUser.id }) },
  { name: "users", query: `{ users { edges { node { id } } } }`, variables: () => ({}) },
];

describe("without a valid key, every operation is UNAUTHENTICATED and changes nothing", () => {
  it.each(OPERATIONS)("$name without an Authorization header", async (op) => {
    const res = await t.gql(op.query, op.variables());
    expect(codeOf(res)).toBe("UNAUTHENTICATED");
    expect(res.data?.[op.name] ?? null).toBeNull();
  });

  it.each(OPERATIONS)("$name with a key that was never issued", async (op) => {
    const res = await t.gql(op.query, op.variables(), { key: `adm_${"A".repeat(43)}` });
    expect(codeOf(res)).toBe("UNAUTHENTICATED");
    expect(res.data?.[op.name] ?? null).toBeNull();
  });

  it.each(OPERATIONS)("$name with a malformed Authorization header", async (op) => {
    const res = await t.gql(op.query, op.variables(), { headers: { authorization: "Basic dXNlcjpwYXNz" } });
    expect(codeOf(res)).toBe("UNAUTHENTICATED");
  });

  it("a refused createCompany created no company: its slug is still free", async () => {
    const slug = `never-made-${Date.now()}`;
    const create = `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { company { slug } } }`;
    expect(codeOf(await t.gql(create, { input: { name: "X", slug } }))).toBe("UNAUTHENTICATED");
    const made = ok(await t.gql(create, { input: { name: "X", slug } }, { key: t.adminKey }));
    expect(made.createCompany.company.slug).toBe(slug);
  });
});

describe("a revoked key", () => {
  it.each(OPERATIONS)("$name with a revoked key of company B", async (op) => {
    const made = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "soon revoked" }) { apiKey { id } secret } }`,
        {},
        { key: b.key },
      ),
    );
    ok(
      await t.gql(
        `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`,
        { id: made.createApiKey.apiKey.id },
        { key: b.key },
      ),
    );
    const res = await t.gql(op.query, op.variables(), { key: made.createApiKey.secret });
    expect(codeOf(res)).toBe("UNAUTHENTICATED");
  });
});

describe("another company's key sees and changes nothing of company A", () => {
  it("createCompany: a company key may not create companies", async () => {
    expect(codeOf(await t.gql(OPERATIONS[0].query, OPERATIONS[0].variables(), { key: b.key }))).toBe("FORBIDDEN");
  });

  it("company: answers with the caller's own company", async () => {
    const res = ok(await t.gql(`{ company { id } }`, {}, { key: b.key }));
    expect(res.company.id).toBe(b.id);
  });

  it("updateCompanySettings: changes the caller's company only", async () => {
    const res = ok(await t.gql(OPERATIONS[2].query, OPERATIONS[2].variables(), { key: b.key }));
    expect(res.updateCompanySettings.id).toBe(b.id);
  });

  it("createApiKey: the key belongs to the caller's company", async () => {
    const made = ok(await t.gql(`mutation { createApiKey(input: { name: "b's" }) { secret } }`, {}, { key: b.key }));
    const me = ok(await t.gql(`{ company { id } }`, {}, { key: made.createApiKey.secret }));
    expect(me.company.id).toBe(b.id);
  });

  it("revokeApiKey: A's key id is NOT_FOUND and A's key keeps working", async () => {
    const res = await t.gql(OPERATIONS[4].query, OPERATIONS[4].variables(), { key: b.key });
    expect(codeOf(res)).toBe("NOT_FOUND");
    expect(res.data?.revokeApiKey ?? null).toBeNull();
    expect(ok(await t.gql(`{ company { id } }`, {}, { key: aSecondKey })).company.id).toBe(a.id);
  });

  it("createEvent: the event belongs to the caller's company", async () => {
    const res = ok(await t.gql(`mutation { createEvent(input: { name: "B's own" }) { id } }`, {}, { key: b.key }));
    expect(
      ok(await t.gql(`query($id: ID!) { event(id: $id) { id } }`, { id: res.createEvent.id }, { key: a.key })).event,
    ).toBeNull();
  });

  it.each(["updateEvent", "endEvent", "addEventPrincipals", "removeEventPrincipals"])(
    "%s on A's event is NOT_FOUND",
    async (name) => {
      const op = OPERATIONS.find((o) => o.name === name)!;
      const res = await t.gql(op.query, op.variables(), { key: b.key });
      expect(codeOf(res)).toBe("NOT_FOUND");
      expect(res.data?.[name] ?? null).toBeNull();
    },
  );

  it("event: A's event is null, by its id", async () => {
    const res = ok(await t.gql(`query($id: ID!) { event(id: $id) { id } }`, { id: aEvent.id }, { key: b.key }));
    expect(res.event).toBeNull();
  });

  it("events: A's events are not listed", async () => {
    const res = ok(await t.gql(`{ events(first: 100) { edges { node { id } } } }`, {}, { key: b.key }));
    expect(res.events.edges.map((e: any) => e.node.id)).not.toContain(aEvent.id);
  });

  it("user: A's user is null by id, by external id and by email", async () => {
    const byId = ok(await t.gql(`query($id: ID) { user(id: $id) { id } }`, { id: aUser.id }, { key: b.key }));
    const byExternalId = ok(await t.gql(`{ user(externalId: "a-user-1") { id } }`, {}, { key: b.key }));
    const byEmail = ok(await t.gql(`{ user(email: "ann@a.example.com") { id } }`, {}, { key: b.key }));
    expect([byId.user, byExternalId.user, byEmail.user]).toEqual([null, null, null]);
  });

  it("users: A's users are not listed, not even by search", async () => {
    const res = ok(await t.gql(`{ users(first: 100, search: "ann") { edges { node { id } } } }`, {}, { key: b.key }));
    expect(res.users.edges).toEqual([]);
  });

  it("upsertUser: A's external id makes a separate user of B, and takes B's seat", async () => {
    const res = ok(
      await t.gql(
        `mutation { upsertUser(input: { externalId: "a-user-1", name: "B's Ann" }) { id name } }`,
        {},
        { key: b.key },
      ),
    );
    expect(res.upsertUser.id).not.toBe(aUser.id);
    expect(res.upsertUser.name).toBe("B's Ann");
    const company = ok(await t.gql(`{ company { seatsUsed } }`, {}, { key: b.key }));
    expect(company.company.seatsUsed).toBe(1);
  });
});
