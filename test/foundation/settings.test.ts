import { codeOf, GqlResponse, ok, useTestApp } from "../support/harness";
import { companySnapshot, makeCompany, makeUser } from "../support/factories";

const t = useTestApp();

const SETTINGS = `settings {
  sessionInactivityTimeoutSeconds defaultTokenTtlSeconds maxTokenTtlSeconds loginLinkTtlSeconds joinRequestTtlSeconds
  passwordAuthEnabled allowNonExpiringTokens allowedRedirectOrigins allowedEmbedOrigins
}`;
const UPDATE = `mutation($input: UpdateCompanySettingsInput!) { updateCompanySettings(input: $input) { id seatLimit seatsUsed ${SETTINGS} } }`;
const COMPANY = `{ company { id name slug seatLimit seatsUsed createdAt ${SETTINGS} } }`;

function expectBadInput(res: GqlResponse, field: string) {
  expect(res.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field });
}

describe("company", () => {
  it("shows the caller's company with its defaults", async () => {
    const made = await makeCompany(t, { name: "Initech", seatLimit: 25 });
    const { company } = ok(await t.gql(COMPANY, {}, { key: made.key }));
    expect(company).toMatchObject({
      id: made.id,
      name: "Initech",
      slug: made.slug,
      seatLimit: 25,
      seatsUsed: 0,
      settings: {
        sessionInactivityTimeoutSeconds: 14400,
        defaultTokenTtlSeconds: 3600,
        loginLinkTtlSeconds: 15,
        passwordAuthEnabled: false,
        allowNonExpiringTokens: false,
        allowedRedirectOrigins: [],
        allowedEmbedOrigins: [],
      },
    });
  });
});

describe("createCompany", () => {
  it.each([
    ["an empty name", { name: " " }, "name"],
    ["a slug with upper case", { slug: "Acme" }, "slug"],
    ["a slug over 64 characters", { slug: "a".repeat(65) }, "slug"],
    ["a negative seatLimit", { seatLimit: -1 }, "seatLimit"],
  ])("refuses %s with the field, and creates nothing", async (_what, input, field) => {
    const slug = `refused-${Math.random().toString(36).slice(2, 10)}`;
    const create = `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { company { slug } } }`;
    expectBadInput(await t.gql(create, { input: { name: "Refused Co", slug, ...input } }, { key: t.adminKey }), field);
    // Nothing was made: the slug it would have had is still free.
    expect(
      ok(await t.gql(create, { input: { name: "Refused Co", slug } }, { key: t.adminKey })).createCompany.company.slug,
    ).toBe(slug);
  });
});

describe("updateCompanySettings", () => {
  it("changes the fields given and keeps the others", async () => {
    const company = await makeCompany(t);
    const res = ok(
      await t.gql(
        UPDATE,
        {
          input: {
            loginLinkTtlSeconds: 300,
            sessionInactivityTimeoutSeconds: 600,
            passwordAuthEnabled: true,
            allowedRedirectOrigins: ["https://app.example.com", "http://localhost:3000", "https://app.example.com/"],
            allowedEmbedOrigins: ["https://embed.example.com:8443"],
          },
        },
        { key: company.key },
      ),
    ).updateCompanySettings;
    expect(res.settings).toMatchObject({
      loginLinkTtlSeconds: 300,
      sessionInactivityTimeoutSeconds: 600,
      passwordAuthEnabled: true,
      defaultTokenTtlSeconds: 3600,
      allowNonExpiringTokens: false,
      allowedRedirectOrigins: ["https://app.example.com", "http://localhost:3000"],
      allowedEmbedOrigins: ["https://embed.example.com:8443"],
    });
    const again = ok(
      await t.gql(UPDATE, { input: { loginLinkTtlSeconds: 1 } }, { key: company.key }),
    ).updateCompanySettings;
    expect(again.settings).toEqual({ ...res.settings, loginLinkTtlSeconds: 1 });
    expect(ok(await t.gql(COMPANY, {}, { key: company.key })).company.settings).toEqual(again.settings);
  });

  it.each([
    ["loginLinkTtlSeconds 0", { loginLinkTtlSeconds: 0 }, "loginLinkTtlSeconds"],
    ["loginLinkTtlSeconds 301", { loginLinkTtlSeconds: 301 }, "loginLinkTtlSeconds"],
    ["sessionInactivityTimeoutSeconds 59", { sessionInactivityTimeoutSeconds: 59 }, "sessionInactivityTimeoutSeconds"],
    [
      "sessionInactivityTimeoutSeconds over 7 days",
      { sessionInactivityTimeoutSeconds: 604_801 },
      "sessionInactivityTimeoutSeconds",
    ],
    ["defaultTokenTtlSeconds 59", { defaultTokenTtlSeconds: 59 }, "defaultTokenTtlSeconds"],
    [
      "defaultTokenTtlSeconds above maxTokenTtlSeconds",
      { defaultTokenTtlSeconds: 7200, maxTokenTtlSeconds: 3600 },
      "defaultTokenTtlSeconds",
    ],
    ["maxTokenTtlSeconds over a year", { maxTokenTtlSeconds: 31_536_001 }, "maxTokenTtlSeconds"],
    ["joinRequestTtlSeconds 59", { joinRequestTtlSeconds: 59 }, "joinRequestTtlSeconds"],
    [
      "a redirect origin with a path",
      { allowedRedirectOrigins: ["https://ok.example.com", "https://a.example.com/path"] },
      "allowedRedirectOrigins",
    ],
    ["a javascript: redirect origin", { allowedRedirectOrigins: ["javascript:alert(1)"] }, "allowedRedirectOrigins"],
    [
      "a redirect origin with credentials",
      { allowedRedirectOrigins: ["https://user:pw@a.example.com"] },
      "allowedRedirectOrigins",
    ],
    [
      "a redirect origin with a query",
      { allowedRedirectOrigins: ["https://a.example.com?x=1"] },
      "allowedRedirectOrigins",
    ],
    ["a bare host as an embed origin", { allowedEmbedOrigins: ["a.example.com"] }, "allowedEmbedOrigins"],
    ["a data: embed origin", { allowedEmbedOrigins: ["data:text/html,hi"] }, "allowedEmbedOrigins"],
    ["a wildcard embed origin", { allowedEmbedOrigins: ["*"] }, "allowedEmbedOrigins"],
    [
      "51 embed origins",
      { allowedEmbedOrigins: Array.from({ length: 51 }, (_, i) => `https://e${i}.example.com`) },
      "allowedEmbedOrigins",
    ],
    ["a negative seatLimit", { seatLimit: -1 }, "seatLimit"],
  ])("refuses %s with the field, and changes nothing", async (_what, input, field) => {
    const company = await makeCompany(t, { seatLimit: 10 });
    const before = await companySnapshot(t, company);
    // A valid change rides along: it must not be applied either.
    expectBadInput(
      await t.gql(UPDATE, { input: { passwordAuthEnabled: true, ...input } }, { key: company.key }),
      field,
    );
    expect(await companySnapshot(t, company)).toEqual(before);
  });

  it("refuses a seatLimit below the seats in use, and allows one equal to them", async () => {
    const company = await makeCompany(t, { seatLimit: 5 });
    for (let i = 0; i < 3; i++) await makeUser(t, company);
    const before = await companySnapshot(t, company);
    expectBadInput(await t.gql(UPDATE, { input: { seatLimit: 2 } }, { key: company.key }), "seatLimit");
    expect(await companySnapshot(t, company)).toEqual(before);
    const res = ok(await t.gql(UPDATE, { input: { seatLimit: 3 } }, { key: company.key })).updateCompanySettings;
    expect(res).toMatchObject({ seatLimit: 3, seatsUsed: 3 });
    expect(
      codeOf(
        await t.gql(`mutation { upsertUser(input: { externalId: "one-too-many" }) { id } }`, {}, { key: company.key }),
      ),
    ).toBe("SEAT_LIMIT_REACHED");
  });

  it("null seatLimit removes the limit; an absent one keeps it", async () => {
    const company = await makeCompany(t, { seatLimit: 1 });
    await makeUser(t, company);
    expect(
      ok(await t.gql(UPDATE, { input: { loginLinkTtlSeconds: 20 } }, { key: company.key })).updateCompanySettings
        .seatLimit,
    ).toBe(1);
    expect(
      ok(await t.gql(UPDATE, { input: { seatLimit: null } }, { key: company.key })).updateCompanySettings.seatLimit,
    ).toBeNull();
    await makeUser(t, company);
    await makeUser(t, company);
    expect(ok(await t.gql(COMPANY, {}, { key: company.key })).company).toMatchObject({ seatLimit: null, seatsUsed: 3 });
  });

  it("a key without MANAGE_COMPANY is FORBIDDEN and changes nothing", async () => {
    const company = await makeCompany(t);
    const narrow = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "events only", scopes: [MANAGE_EVENTS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    );
    const before = await companySnapshot(t, company);
    expect(
      codeOf(await t.gql(UPDATE, { input: { passwordAuthEnabled: true } }, { key: narrow.createApiKey.secret })),
    ).toBe("FORBIDDEN");
    expect(await companySnapshot(t, company)).toEqual(before);
  });
});

describe("createApiKey", () => {
  it("de-duplicates scopes and lists the key under the company", async () => {
    const company = await makeCompany(t);
    const made = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "ci", scopes: [MANAGE_USERS, MANAGE_USERS] }) { apiKey { id name scopes revokedAt } secret } }`,
        {},
        {
          key: company.key,
        },
      ),
    ).createApiKey;
    expect(made.apiKey).toMatchObject({ name: "ci", scopes: ["MANAGE_USERS"], revokedAt: null });
    const keys = ok(await t.gql(`{ company { apiKeys { id name } } }`, {}, { key: company.key })).company.apiKeys;
    expect(keys.map((k: any) => k.name)).toEqual(["default", "ci"]);
  });

  it.each([
    ["an empty name", `{ name: "" }`, "name"],
    ["a name over 200 characters", `{ name: "${"k".repeat(201)}" }`, "name"],
    ["no scopes", `{ name: "none", scopes: [] }`, "scopes"],
  ])("refuses %s with the field, and creates nothing", async (_what, input, field) => {
    const company = await makeCompany(t);
    const before = await companySnapshot(t, company);
    expectBadInput(
      await t.gql(`mutation { createApiKey(input: ${input}) { secret } }`, {}, { key: company.key }),
      field,
    );
    expect(await companySnapshot(t, company)).toEqual(before);
  });
});

describe("revokeApiKey", () => {
  it("is idempotent: revoking twice keeps the first revocation time", async () => {
    const company = await makeCompany(t);
    const made = ok(
      await t.gql(`mutation { createApiKey(input: { name: "temp" }) { apiKey { id } } }`, {}, { key: company.key }),
    ).createApiKey;
    const revoke = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
    const first = ok(await t.gql(revoke, { id: made.apiKey.id }, { key: company.key })).revokeApiKey;
    t.clock.advance(120);
    const second = ok(await t.gql(revoke, { id: made.apiKey.id }, { key: company.key })).revokeApiKey;
    expect(second.revokedAt).toBe(first.revokedAt);
  });

  it.each(["not-a-uuid", "", "00000000-0000-4000-8000-000000000000"])(
    "an id %p names no key: NOT_FOUND, nothing changed",
    async (id) => {
      const company = await makeCompany(t);
      const before = await companySnapshot(t, company);
      expect(
        codeOf(await t.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id }, { key: company.key })),
      ).toBe("NOT_FOUND");
      expect(await companySnapshot(t, company)).toEqual(before);
    },
  );

  it("a company may revoke the very key it is calling with; the next call fails", async () => {
    const company = await makeCompany(t);
    const keys = ok(await t.gql(`{ company { apiKeys { id } } }`, {}, { key: company.key })).company.apiKeys;
    ok(await t.gql(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, { id: keys[0].id }, { key: company.key }));
    expect(codeOf(await t.gql(`{ company { id } }`, {}, { key: company.key }))).toBe("UNAUTHENTICATED");
  });
});
