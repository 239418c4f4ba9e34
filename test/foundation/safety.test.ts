import { codeOf, GqlResponse, ok, startTestApp, TestApp, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";

/** What an unexpected error shows, and the limits on what a request may ask. */

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

/** Nothing in an error body may help an attacker: no SQL, no stack frame, no file path. */
function expectNoLeak(text: string) {
  expect(text).not.toMatch(/SELECT|INSERT|UPDATE |FROM "|QueryFailedError|TypeORM/i);
  expect(text).not.toMatch(/\bat [\w.<>]+ \(|\bat \//);
  expect(text).not.toContain("/work/");
  expect(text).not.toContain("node_modules");
  expect(text).not.toMatch(/stack/i);
}

async function post(
  app: TestApp,
  body: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${app.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
  return { status: response.status, text: await response.text() };
}

async function eventCount(): Promise<number> {
  return ok(await t.gql(`{ events(first: 100) { edges { node { id } } } }`, {}, { key: company.key })).events.edges
    .length;
}

describe("an unexpected error", () => {
  let broken: TestApp;
  let brokenCompany: TestCompany;
  beforeAll(async () => {
    broken = await startTestApp();
    brokenCompany = await makeCompany(broken);
    // The database goes away under a running app.
    await broken.db.dataSource.destroy();
  });
  afterAll(async () => {
    // Reconnect so that close() can shut the database down (an embedded one holds the process open).
    await broken.db.dataSource.initialize();
    await broken.close();
  });

  it("in a resolver is INTERNAL with the request id, and no stack, SQL or path", async () => {
    const res = await broken.gql(
      `mutation { createCompany(input: { name: "Doomed" }) { secret } }`,
      {},
      { key: broken.adminKey },
    );
    expect(res.errors).toHaveLength(1);
    const error = res.errors![0];
    expect(error.extensions).toEqual({ code: "INTERNAL", requestId: res.headers.get("x-request-id") });
    expect(error.extensions!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(Object.keys(error).sort()).toEqual(["extensions", "message", "path"]);
    expectNoLeak(JSON.stringify(res.errors));
    // The cause is logged, under the same request id, for whoever runs the service.
    const logged = broken.logs.find(
      (line) => line.includes(error.extensions!.requestId as string) && line.includes("unexpected error"),
    );
    expect(logged).toBeDefined();
  });

  it("while authenticating the key is INTERNAL too, and leaks nothing", async () => {
    const res = await broken.gql(`{ company { id } }`, {}, { key: brokenCompany.key });
    expect(codeOf(res)).toBe("INTERNAL");
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    expectNoLeak(JSON.stringify(res.errors));
  });

  it("leaves the process serving", async () => {
    const health = await fetch(`${broken.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${broken.url}/readyz`);
    expect(ready.status).toBe(503);
    expectNoLeak(await ready.text());
  });
});

describe("request limits", () => {
  it("a body over 1 MB is refused with 413 and not executed", async () => {
    const before = await eventCount();
    const query = `mutation($pad: String) { createEvent(input: { name: "Padded", slug: $pad }) { id } }`;
    const res = await post(t, JSON.stringify({ query, variables: { pad: "p".repeat(1024 * 1024) } }), {
      authorization: `Bearer ${company.key}`,
    });
    expect(res.status).toBe(413);
    expectNoLeak(res.text);
    expect(await eventCount()).toBe(before);
  });

  it("a body just under 1 MB is read", async () => {
    // Variables the operation does not declare are ignored; they only make the body big.
    const query = `{ company { id } }`;
    const body = JSON.stringify({ query, variables: { pad: "p".repeat(1000 * 1000) } });
    expect(body.length).toBeLessThan(1024 * 1024);
    const res = await post(t, body, { authorization: `Bearer ${company.key}` });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).data.company.id).toBe(company.id);
  });

  it("a batched (array) body is refused and none of it runs", async () => {
    const before = await eventCount();
    const one = { query: `mutation { createEvent(input: { name: "Batched" }) { id } }` };
    const res = await post(t, JSON.stringify([one, one]), { authorization: `Bearer ${company.key}` });
    expect(res.status).toBe(400);
    const body = JSON.parse(res.text);
    expect(Array.isArray(body)).toBe(false);
    expect(body.errors[0].extensions.code).toBe("BAD_USER_INPUT");
    expect(await eventCount()).toBe(before);
  });

  /** `{ __type { fields { type { ofType … { name } } } } }` nested to exactly `depth` fields. */
  const typeQueryOfDepth = (depth: number) => {
    const inner = "ofType { ".repeat(depth - 4) + "name" + " }".repeat(depth - 4);
    return `{ __type(name: "Event") { fields { type { ${inner} } } } }`;
  };

  it("a query nested deeper than the limit is refused, one at the limit passes", async () => {
    const deep = await t.gql(typeQueryOfDepth(13), {}, { key: company.key });
    expect(deep.status).toBe(400);
    expect(codeOf(deep)).toBe("BAD_USER_INPUT");
    expect(deep.errors![0].message).toMatch(/depth/i);
    expect(deep.data).toBeUndefined();
    ok(await t.gql(typeQueryOfDepth(12), {}, { key: company.key }));
  });

  it("a query that walks a relation cycle past the limit is refused", async () => {
    // Event.registrants and Registrant.event point at each other: a query can nest without end.
    const loop = (depth: number): string =>
      depth === 0 ? "id" : `registrants { edges { node { event { ${loop(depth - 1)} } } } }`;
    const res = await t.gql(`{ events { edges { node { ${loop(3)} } } } }`, {}, { key: company.key });
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0].message).toMatch(/depth/i);
    expect(res.data).toBeUndefined();
  });

  it("a realistic depth-8 dashboard query passes: a connection inside a connection, with fragments", async () => {
    const event = await makeEvent(t, company, {
      name: "Dashboard",
      organizers: [{ email: "host@example.com" }],
      presenters: [{ userId: "p-1" }],
    });
    ok(
      await t.gql(
        `mutation($eventId: ID!) { registerForEvent(input: { eventId: $eventId, name: "Reg", email: "reg@example.com" }) { id } }`,
        { eventId: event.id },
        {
          key: company.key,
        },
      ),
    );
    // events > edges > node > registrants > edges > node > ...RegistrantRow > email: depth 8,
    // and events > edges > node > ...EventRow > organizers > ...PrincipalRow > ... on Principal > email: depth 8.
    // Page sizes are variables, as client libraries send them.
    const dashboard = `
      query Dashboard($events: Int, $registrants: Int) {
        company { id name seatsUsed settings { allowedEmbedOrigins } }
        events(first: $events) {
          pageInfo { hasNextPage endCursor }
          edges { cursor node {
            ...EventRow
            registrants(first: $registrants) { pageInfo { hasNextPage } edges { node { ...RegistrantRow } } }
          } }
        }
      }
      fragment EventRow on Event { id name status organizers { ...PrincipalRow } presenters { ...PrincipalRow } }
      fragment PrincipalRow on Principal { ... on Principal { role userId email } }
      fragment RegistrantRow on Registrant { name email }
    `;
    const res = ok(await t.gql(dashboard, { events: 100, registrants: 100 }, { key: company.key }));
    const row = res.events.edges.find((e: any) => e.node.id === event.id).node;
    expect(row.organizers).toEqual([{ role: "ORGANIZER", userId: null, email: "host@example.com" }]);
    expect(row.presenters).toEqual([{ role: "PRESENTER", userId: "p-1", email: null }]);
    expect(row.registrants.edges).toEqual([{ node: { name: "Reg", email: "reg@example.com" } }]);
  });

  it("more aliases than the limit are refused", async () => {
    const aliases = Array.from({ length: 30 }, (_, i) => `a${i}: company { id }`).join(" ");
    const res = await t.gql(`{ ${aliases} }`, {}, { key: company.key });
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.data).toBeUndefined();
  });
});

describe("in production", () => {
  let prod: TestApp;
  let prodCompany: TestCompany;
  beforeAll(async () => {
    prod = await startTestApp({ nodeEnv: "production" });
    prodCompany = await makeCompany(prod);
  });
  afterAll(async () => {
    await prod.close();
  });

  it("introspection is refused", async () => {
    for (const query of [`{ __schema { types { name } } }`, `{ __type(name: "Company") { fields { name } } }`]) {
      const res: GqlResponse = await prod.gql(query, {}, { key: prodCompany.key });
      expect(codeOf(res)).toBe("BAD_USER_INPUT");
      expect(res.data).toBeUndefined();
      expect(JSON.stringify(res)).not.toContain("apiKeys");
    }
  });

  it("a misspelled field is refused without suggesting the right name", async () => {
    const res = await prod.gql(`{ compnay { id } events { edgse { node { id } } } }`, {}, { key: prodCompany.key });
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    const text = JSON.stringify(res.errors);
    expect(text).not.toContain("Did you mean");
    expect(text).not.toMatch(/"company"|"edges"/);
  });

  it("still answers real queries", async () => {
    expect(ok(await prod.gql(`{ company { id } }`, {}, { key: prodCompany.key })).company.id).toBe(prodCompany.id);
  });

  it("outside production the suggestions are there, so the test above can tell the difference", async () => {
    const res = await t.gql(`{ compnay { id } }`, {}, { key: company.key });
    expect(JSON.stringify(res.errors)).toContain("Did you mean");
  });
});
