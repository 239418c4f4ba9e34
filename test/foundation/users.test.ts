import { createHash } from "node:crypto";
import { codeOf, GqlResponse, ok, useTestApp } from "../support/harness";
import { companySnapshot, makeCompany, makeUser, TestCompany } from "../support/factories";

const t = useTestApp();

const USER_FIELDS = `id externalId email name avatarUrl metadata isGuest`;
const UPSERT = `mutation($input: UpsertUserInput!) { upsertUser(input: $input) { ${USER_FIELDS} } }`;
const GET = `query($id: ID, $externalId: String, $email: String) { user(id: $id, externalId: $externalId, email: $email) { ${USER_FIELDS} } }`;
const LIST = `query($first: Int, $after: String, $search: String) {
  users(first: $first, after: $after, search: $search) { edges { cursor node { id externalId name email } } pageInfo { hasNextPage endCursor } }
}`;
const SEATS = `{ company { seatLimit seatsUsed } }`;

function expectBadInput(res: GqlResponse, field: string) {
  expect(res.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field });
}

async function seatsOf(company: TestCompany): Promise<{ seatLimit: number | null; seatsUsed: number }> {
  return ok(await t.gql(SEATS, {}, { key: company.key })).company;
}

async function externalIdsOf(company: TestCompany, search?: string): Promise<string[]> {
  const page = ok(await t.gql(LIST, { first: 100, search }, { key: company.key })).users;
  expect(page.pageInfo.hasNextPage).toBe(false);
  return page.edges.map((e: any) => e.node.externalId);
}

const gravatarOf = (email: string) => createHash("sha256").update(email.trim().toLowerCase()).digest("hex");

describe("upsertUser", () => {
  it("creates a user, then updates the same user by external id", async () => {
    const company = await makeCompany(t);
    const created = ok(
      await t.gql(
        UPSERT,
        { input: { externalId: "crm-42", email: "Ada@Example.com", name: "Ada", metadata: { team: "core" } } },
        { key: company.key },
      ),
    ).upsertUser;
    expect(created).toMatchObject({
      externalId: "crm-42",
      email: "Ada@Example.com",
      name: "Ada",
      metadata: { team: "core" },
      isGuest: false,
    });
    const updated = ok(
      await t.gql(UPSERT, { input: { externalId: "crm-42", name: "Ada Lovelace" } }, { key: company.key }),
    ).upsertUser;
    // Absent fields are left as they were.
    expect(updated).toEqual({ ...created, name: "Ada Lovelace" });
    expect(ok(await t.gql(GET, { id: created.id }, { key: company.key })).user).toEqual(updated);
    expect(await seatsOf(company)).toEqual({ seatLimit: null, seatsUsed: 1 });
  });

  it("matches external ids exactly: another case is another user", async () => {
    const company = await makeCompany(t);
    const upper = await makeUser(t, company, { externalId: "User-1" });
    const lower = await makeUser(t, company, { externalId: "user-1" });
    expect(upper.id).not.toBe(lower.id);
    expect(ok(await t.gql(GET, { externalId: "USER-1" }, { key: company.key })).user).toBeNull();
    expect(ok(await t.gql(GET, { externalId: "User-1" }, { key: company.key })).user.id).toBe(upper.id);
    expect(await seatsOf(company)).toEqual({ seatLimit: null, seatsUsed: 2 });
  });

  it("falls back to the Gravatar of the lower-cased email when no avatar was given", async () => {
    const company = await makeCompany(t);
    const user = ok(
      await t.gql(UPSERT, { input: { externalId: "g-1", email: "  Grace.Hopper@Example.COM " } }, { key: company.key }),
    ).upsertUser;
    expect(user.email).toBe("Grace.Hopper@Example.COM");
    expect(user.avatarUrl).toBe(`https://gravatar.com/avatar/${gravatarOf("grace.hopper@example.com")}?d=identicon`);
    const withAvatar = ok(
      await t.gql(
        UPSERT,
        { input: { externalId: "g-1", avatarUrl: "https://cdn.example.com/grace.png" } },
        { key: company.key },
      ),
    ).upsertUser;
    expect(withAvatar.avatarUrl).toBe("https://cdn.example.com/grace.png");
    const noEmail = ok(await t.gql(UPSERT, { input: { externalId: "g-2" } }, { key: company.key })).upsertUser;
    expect(noEmail.avatarUrl).toBeNull();
  });

  it.each([
    ["an empty externalId", { externalId: "  " }, "externalId"],
    ["an externalId over 255 characters", { externalId: "x".repeat(256) }, "externalId"],
    ["a bad email", { email: "ada-at-example.com" }, "email"],
    ["a name over 200 characters", { name: "n".repeat(201) }, "name"],
    ["a javascript: avatar", { avatarUrl: "javascript:alert(1)" }, "avatarUrl"],
    ["a relative avatar", { avatarUrl: "/me.png" }, "avatarUrl"],
    ["metadata over 8 KB", { metadata: { blob: "m".repeat(9000) } }, "metadata"],
  ])(
    "refuses %s with the field, for a new user and for an existing one, and changes nothing",
    async (_what, input, field) => {
      const company = await makeCompany(t);
      await makeUser(t, company, { externalId: "existing", email: "old@example.com", name: "Old", metadata: { a: 1 } });
      const before = await companySnapshot(t, company);
      expectBadInput(await t.gql(UPSERT, { input: { externalId: "new-one", ...input } }, { key: company.key }), field);
      if (field !== "externalId") {
        expectBadInput(
          await t.gql(UPSERT, { input: { externalId: "existing", name: "Changed", ...input } }, { key: company.key }),
          field,
        );
      }
      expect(await companySnapshot(t, company)).toEqual(before);
    },
  );
});

describe("user", () => {
  it("finds by id, by external id, and by email in any case", async () => {
    const company = await makeCompany(t);
    const user = await makeUser(t, company, { externalId: "e-1", email: "Linus@Example.org" });
    for (const by of [
      { id: user.id },
      { externalId: "e-1" },
      { email: "linus@example.org" },
      { email: " LINUS@EXAMPLE.ORG " },
    ]) {
      expect(ok(await t.gql(GET, by, { key: company.key })).user?.id).toBe(user.id);
    }
  });

  it("is null when nothing matches, or the id is not a uuid", async () => {
    const company = await makeCompany(t);
    await makeUser(t, company, { externalId: "e-1", email: "someone@example.org" });
    for (const by of [
      { id: "00000000-0000-4000-8000-000000000000" },
      { id: "not-a-uuid" },
      { id: "" },
      { externalId: "e-2" },
      { externalId: "" },
      { email: "nobody@example.org" },
    ]) {
      const res = await t.gql(GET, by, { key: company.key });
      expect({ by, user: ok(res).user }).toEqual({ by, user: null });
    }
  });

  it.each([
    ["none of id, externalId and email", {}],
    ["both id and externalId", { id: "00000000-0000-4000-8000-000000000000", externalId: "e-1" }],
    ["both externalId and email", { externalId: "e-1", email: "a@example.com" }],
  ])("refuses %s", async (_what, by) => {
    const company = await makeCompany(t);
    const res = await t.gql(GET, by, { key: company.key });
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(typeof res.errors![0].extensions!.field).toBe("string");
    expect(res.data?.user ?? null).toBeNull();
  });

  it("refuses an email that is not one, with the field", async () => {
    const company = await makeCompany(t);
    expectBadInput(await t.gql(GET, { email: "not an email" }, { key: company.key }), "email");
  });
});

describe("users", () => {
  it("pages through the users without duplicates or gaps", async () => {
    const company = await makeCompany(t);
    const made: string[] = [];
    for (let i = 1; i <= 5; i++) made.push((await makeUser(t, company, { externalId: `p-${i}` })).id);
    const seen: string[] = [];
    const hasNext: boolean[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const page: any = ok(await t.gql(LIST, { first: 2, after }, { key: company.key })).users;
      seen.push(...page.edges.map((e: any) => e.node.id));
      hasNext.push(page.pageInfo.hasNextPage);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(made);
    expect(hasNext).toEqual([true, true, false]);
  });

  it("finds by part of a name, an email or an external id, in any case", async () => {
    const company = await makeCompany(t);
    await makeUser(t, company, { externalId: "crm-001", name: "Margaret Hamilton", email: "margaret@nasa.example" });
    await makeUser(t, company, { externalId: "crm-002", name: "Katherine Johnson", email: "kj@NASA.example" });
    await makeUser(t, company, { externalId: "hr-777", name: "Dorothy Vaughan", email: "dorothy@langley.example" });
    expect(await externalIdsOf(company, "hamil")).toEqual(["crm-001"]);
    expect(await externalIdsOf(company, "nasa.EXAMPLE")).toEqual(["crm-001", "crm-002"]);
    expect(await externalIdsOf(company, "HR-7")).toEqual(["hr-777"]);
    expect(await externalIdsOf(company, "  ")).toEqual(["crm-001", "crm-002", "hr-777"]);
    expect(await externalIdsOf(company, "zzz")).toEqual([]);
  });

  it("treats % and _ in the search literally", async () => {
    const company = await makeCompany(t);
    await makeUser(t, company, { externalId: "a_b", name: "100% Dave" });
    await makeUser(t, company, { externalId: "axb", name: "100 Dave" });
    await makeUser(t, company, { externalId: "back\\slash", name: "Eve" });
    expect(await externalIdsOf(company, "a_b")).toEqual(["a_b"]);
    expect(await externalIdsOf(company, "100%")).toEqual(["a_b"]);
    expect(await externalIdsOf(company, "%")).toEqual(["a_b"]);
    expect(await externalIdsOf(company, "_")).toEqual(["a_b"]);
    expect(await externalIdsOf(company, "k\\s")).toEqual(["back\\slash"]);
  });

  it.each([
    ["first: -1", { first: -1 }, "first"],
    ["first: 101", { first: 101 }, "first"],
    ["a garbage after", { after: "garbage!" }, "after"],
    ["an after with the wrong parts", { after: Buffer.from(JSON.stringify([1, 2])).toString("base64url") }, "after"],
    ["a search over 200 characters", { search: "s".repeat(201) }, "search"],
  ])("refuses %s with the field", async (_what, args, field) => {
    const company = await makeCompany(t);
    expectBadInput(await t.gql(LIST, args, { key: company.key }), field);
  });
});

describe("seat limit", () => {
  it("a company with seatLimit 2 gets 2 new users; the 3rd is SEAT_LIMIT_REACHED and not created; updates still work", async () => {
    const company = await makeCompany(t, { seatLimit: 2 });
    await makeUser(t, company, { externalId: "s-1" });
    await makeUser(t, company, { externalId: "s-2" });
    expect(await seatsOf(company)).toEqual({ seatLimit: 2, seatsUsed: 2 });

    const third = await t.gql(UPSERT, { input: { externalId: "s-3", name: "Third" } }, { key: company.key });
    expect(codeOf(third)).toBe("SEAT_LIMIT_REACHED");
    expect(ok(await t.gql(GET, { externalId: "s-3" }, { key: company.key })).user).toBeNull();
    expect(await externalIdsOf(company)).toEqual(["s-1", "s-2"]);
    expect(await seatsOf(company)).toEqual({ seatLimit: 2, seatsUsed: 2 });

    const updated = ok(
      await t.gql(UPSERT, { input: { externalId: "s-2", name: "Second, renamed" } }, { key: company.key }),
    ).upsertUser;
    expect(updated.name).toBe("Second, renamed");
    expect(await seatsOf(company)).toEqual({ seatLimit: 2, seatsUsed: 2 });
  });

  it("a seatLimit of 0 admits no one", async () => {
    const company = await makeCompany(t, { seatLimit: 0 });
    expect(codeOf(await t.gql(UPSERT, { input: { externalId: "z-1" } }, { key: company.key }))).toBe(
      "SEAT_LIMIT_REACHED",
    );
    expect(await seatsOf(company)).toEqual({ seatLimit: 0, seatsUsed: 0 });
  });

  it("holds under 6 concurrent creations against seatLimit 3", async () => {
    const company = await makeCompany(t, { seatLimit: 3 });
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.gql(UPSERT, { input: { externalId: `race-${i}` } }, { key: company.key })),
    );
    const codes = results.map((res) => codeOf(res) ?? "OK").sort();
    expect(codes).toEqual(["OK", "OK", "OK", "SEAT_LIMIT_REACHED", "SEAT_LIMIT_REACHED", "SEAT_LIMIT_REACHED"]);
    expect(await seatsOf(company)).toEqual({ seatLimit: 3, seatsUsed: 3 });
    expect(await externalIdsOf(company)).toHaveLength(3);
  });

  it("concurrent upserts of the same new user make one user and take one seat, even at the limit", async () => {
    const company = await makeCompany(t, { seatLimit: 1 });
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        t.gql(UPSERT, { input: { externalId: "same", name: `try ${i}` } }, { key: company.key }),
      ),
    );
    const ids = new Set(results.map((res) => ok(res).upsertUser.id));
    expect(ids.size).toBe(1);
    expect(await seatsOf(company)).toEqual({ seatLimit: 1, seatsUsed: 1 });
    expect(await externalIdsOf(company)).toEqual(["same"]);
  });

  it("seatsUsed counts created users, not updates", async () => {
    const company = await makeCompany(t);
    expect((await seatsOf(company)).seatsUsed).toBe(0);
    for (let i = 0; i < 4; i++) await makeUser(t, company, { externalId: `c-${i}` });
    await makeUser(t, company, { externalId: "c-0", name: "again" });
    expect((await seatsOf(company)).seatsUsed).toBe(4);
  });
});
