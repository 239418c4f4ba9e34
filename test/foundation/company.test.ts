import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany } from "../support/factories";

const t = useTestApp();

const CREATE = `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { company { id slug seatLimit seatsUsed } apiKey { id prefix scopes } secret } }`;

describe("createCompany", () => {
  it("creates a company and a working API key shown once", async () => {
    const res = ok(await t.gql(CREATE, { input: { name: "Acme Events", seatLimit: 10 } }, { key: t.adminKey }));
    expect(res.createCompany.company.slug).toMatch(/^acme-events/);
    expect(res.createCompany.company.seatLimit).toBe(10);
    expect(res.createCompany.secret).toMatch(/^adm_[A-Za-z0-9_-]{43}$/);
    expect(res.createCompany.secret.startsWith(res.createCompany.apiKey.prefix.replace("…", ""))).toBe(true);
    const me = ok(await t.gql(`{ company { id name } }`, {}, { key: res.createCompany.secret }));
    expect(me.company).toEqual({ id: res.createCompany.company.id, name: "Acme Events" });
  });

  it("is refused without a key, with a company key, and with a wrong key", async () => {
    const company = await makeCompany(t);
    expect(codeOf(await t.gql(CREATE, { input: { name: "X" } }))).toBe("UNAUTHENTICATED");
    expect(codeOf(await t.gql(CREATE, { input: { name: "X" } }, { key: company.key }))).toBe("FORBIDDEN");
    expect(codeOf(await t.gql(CREATE, { input: { name: "X" } }, { key: `adm_${"x".repeat(43)}` }))).toBe(
      "UNAUTHENTICATED",
    );
  });

  it("refuses a taken slug with SLUG_TAKEN and bad input with the field", async () => {
    const company = await makeCompany(t);
    const taken = await t.gql(CREATE, { input: { name: "Other", slug: company.slug } }, { key: t.adminKey });
    expect(codeOf(taken)).toBe("SLUG_TAKEN");
    const bad = await t.gql(CREATE, { input: { name: "Other", slug: "Not A Slug" } }, { key: t.adminKey });
    expect(codeOf(bad)).toBe("BAD_USER_INPUT");
    expect(bad.errors![0].extensions!.field).toBe("slug");
    const long = await t.gql(CREATE, { input: { name: "x".repeat(201) } }, { key: t.adminKey });
    expect(long.errors![0].extensions).toEqual({ code: "BAD_USER_INPUT", field: "name" });
  });

  it("the platform admin key may only create companies", async () => {
    expect(codeOf(await t.gql(`{ company { id } }`, {}, { key: t.adminKey }))).toBe("FORBIDDEN");
  });
});

describe("API keys", () => {
  it("a revoked key fails on the next request", async () => {
    const company = await makeCompany(t);
    const made = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "ci", scopes: [READ_ANALYTICS] }) { apiKey { id scopes } secret } }`,
        {},
        { key: company.key },
      ),
    );
    const second = made.createApiKey.secret;
    expect(made.createApiKey.apiKey.scopes).toEqual(["READ_ANALYTICS"]);
    ok(await t.gql(`{ company { id } }`, {}, { key: second }));
    const revoked = ok(
      await t.gql(
        `mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }`,
        { id: made.createApiKey.apiKey.id },
        { key: company.key },
      ),
    );
    expect(revoked.revokeApiKey.revokedAt).not.toBeNull();
    expect(codeOf(await t.gql(`{ company { id } }`, {}, { key: second }))).toBe("UNAUTHENTICATED");
  });

  it("a key without a scope is FORBIDDEN; another company's key id is NOT_FOUND and stays valid", async () => {
    const a = await makeCompany(t);
    const b = await makeCompany(t);
    const narrow = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "ro", scopes: [READ_ANALYTICS] }) { secret } }`,
        {},
        { key: a.key },
      ),
    );
    expect(
      codeOf(
        await t.gql(`mutation { createEvent(input: { name: "x" }) { id } }`, {}, { key: narrow.createApiKey.secret }),
      ),
    ).toBe("FORBIDDEN");
    const bKey = ok(
      await t.gql(`mutation { createApiKey(input: { name: "b" }) { apiKey { id } secret } }`, {}, { key: b.key }),
    );
    const res = await t.gql(
      `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`,
      { id: bKey.createApiKey.apiKey.id },
      { key: a.key },
    );
    expect(codeOf(res)).toBe("NOT_FOUND");
    ok(await t.gql(`{ company { id } }`, {}, { key: bKey.createApiKey.secret }));
  });
});
