import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany } from "../support/factories";

/**
 * Every refusal on /graphql, including requests that never reach GraphQL, answers one shape:
 * `{"errors":[{"message","extensions":{"code","hint"?}}]}` with a status that says what went
 * wrong; and operations that name a user take the company's own id as well as Admit's.
 */

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

interface Answer {
  status: number;
  body: { errors?: { message: string; extensions: { code: string; hint?: string; field?: string } }[]; data?: unknown };
}

async function send(init: RequestInit & { query?: string } = {}): Promise<Answer> {
  const response = await fetch(`${t.url}/graphql${init.query ?? ""}`, init);
  const text = await response.text();
  expect(response.headers.get("content-type")).toMatch(/^application\/(graphql-response\+)?json/);
  return { status: response.status, body: JSON.parse(text) };
}

/** One error, BAD_USER_INPUT, with a message and a hint that says how to send a request. */
function expectGraphqlRefusal(answer: Answer, status: number) {
  expect(answer.status).toBe(status);
  expect(answer.body.data).toBeUndefined();
  expect(answer.body.errors).toHaveLength(1);
  const [error] = answer.body.errors!;
  expect(error.extensions.code).toBe("BAD_USER_INPUT");
  expect(error.message.length).toBeGreaterThan(5);
  expect(error.extensions.hint).toEqual(expect.any(String));
  return error;
}

describe("a request /graphql cannot read", () => {
  it("without a content type: 415, with how to send one", async () => {
    // Bytes, not a string: fetch would label a string text/plain.
    const error = expectGraphqlRefusal(
      await send({ method: "POST", body: new TextEncoder().encode(`{"query":"{ __typename }"}`) }),
      415,
    );
    expect(error.extensions.hint).toContain("content-type: application/json");
  });

  it("form-encoded: 415", async () => {
    expectGraphqlRefusal(
      await send({
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "query={__typename}",
      }),
      415,
    );
  });

  it("text/plain: 400 (the CSRF guard), with how to send one", async () => {
    const error = expectGraphqlRefusal(
      await send({ method: "POST", headers: { "content-type": "text/plain" }, body: `{"query":"{ __typename }"}` }),
      400,
    );
    expect(error.extensions.hint).toContain("content-type: application/json");
  });

  it("a body that is not JSON: 400", async () => {
    const error = expectGraphqlRefusal(
      await send({ method: "POST", headers: { "content-type": "application/json" }, body: `{"query":` }),
      400,
    );
    expect(error.message).toMatch(/not valid JSON/);
  });

  it("an empty body and an empty object: 400", async () => {
    expectGraphqlRefusal(await send({ method: "POST", headers: { "content-type": "application/json" } }), 400);
    expectGraphqlRefusal(
      await send({ method: "POST", headers: { "content-type": "application/json" }, body: "{}" }),
      400,
    );
  });

  it("a GET without a query: 400, with where the query goes", async () => {
    const error = expectGraphqlRefusal(await send({ headers: { "apollo-require-preflight": "1" } }), 400);
    expect(error.extensions.hint).toContain("?query=");
    // Without the preflight header the CSRF guard answers first, in the same shape.
    expectGraphqlRefusal(await send({}), 400);
  });

  it("a body over 1 MB: 413", async () => {
    const body = JSON.stringify({ query: "{ __typename }", variables: { pad: "p".repeat(1024 * 1024) } });
    const error = expectGraphqlRefusal(
      await send({ method: "POST", headers: { "content-type": "application/json" }, body }),
      413,
    );
    expect(error.message).toContain("1048576");
  });

  it("another method: 405 with Allow", async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, POST, OPTIONS");
    expect(((await response.json()) as Answer["body"]).errors![0].extensions.code).toBe("BAD_USER_INPUT");
  });

  it("a mutation sent as GET: 405, with a hint to POST it", async () => {
    const error = expectGraphqlRefusal(
      await send({
        query: "?query=" + encodeURIComponent('mutation { revokeToken(jti: "x") }'),
        headers: { "apollo-require-preflight": "1" },
      }),
      405,
    );
    expect(error.extensions.hint).toMatch(/POST/);
  });

  it("a well-formed GET still runs", async () => {
    const answer = await send({ query: "?query=%7B__typename%7D", headers: { "apollo-require-preflight": "1" } });
    expect(answer.status).toBe(200);
    expect(answer.body.data).toEqual({ __typename: "Query" });
  });
});

describe("naming a user by the company's id or Admit's", () => {
  const LINK = `mutation($input: CreateLoginLinkInput!) { createLoginLink(input: $input) { url } }`;
  const PASSWORD = `mutation($input: SetUserPasswordInput!) { setUserPassword(input: $input) { id } }`;
  const REVOKE = `mutation($userId: ID, $externalId: String) { revokeUserTokens(userId: $userId, externalId: $externalId) }`;

  it("createLoginLink, setUserPassword and revokeUserTokens take externalId", async () => {
    const event = await makeEvent(t, company);
    const user = await makeUser(t, company, { email: `ext-${Date.now()}@acme.test` });
    const link = ok(
      await t.gql(LINK, { input: { externalId: user.externalId, eventId: event.id } }, { key: company.key }),
    );
    expect(link.createLoginLink.url).toMatch(/\/login\//);
    const set = ok(
      await t.gql(
        PASSWORD,
        { input: { externalId: user.externalId, password: "correct horse battery" } },
        { key: company.key },
      ),
    );
    expect(set.setUserPassword.id).toBe(user.id);
    expect(ok(await t.gql(REVOKE, { externalId: user.externalId }, { key: company.key })).revokeUserTokens).toBe(0);
    // Admit's id still works.
    expect(ok(await t.gql(REVOKE, { userId: user.id }, { key: company.key })).revokeUserTokens).toBe(0);
  });

  it("an external id passed as userId says where it goes", async () => {
    const user = await makeUser(t, company);
    const res = await t.gql(REVOKE, { userId: user.externalId }, { key: company.key });
    expect(res.errors![0].extensions!.code).toBe("NOT_FOUND");
    expect(res.errors![0].message).toContain(user.externalId);
    expect(res.errors![0].extensions!.hint).toMatch(/externalId/);
  });

  it("an unknown external id, both ids, or neither are refused with which one to give", async () => {
    const unknown = await t.gql(LINK, { input: { externalId: "nobody-here", eventId: null } }, { key: company.key });
    expect(unknown.errors![0].extensions).toMatchObject({
      code: "NOT_FOUND",
      hint: expect.stringMatching(/upsertUser/),
    });
    const user = await makeUser(t, company);
    const both = await t.gql(
      PASSWORD,
      { input: { userId: user.id, externalId: user.externalId, password: "correct horse battery" } },
      { key: company.key },
    );
    expect(both.errors![0].extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "externalId" });
    const neither = await t.gql(REVOKE, {}, { key: company.key });
    expect(neither.errors![0].extensions).toMatchObject({
      code: "BAD_USER_INPUT",
      field: "userId",
      hint: expect.stringMatching(/externalId/),
    });
  });

  it("another company's user is not found by its external id", async () => {
    const other = await makeCompany(t);
    const theirs = await makeUser(t, other);
    const res = await t.gql(REVOKE, { externalId: theirs.externalId }, { key: company.key });
    expect(res.errors![0].extensions!.code).toBe("NOT_FOUND");
  });
});
