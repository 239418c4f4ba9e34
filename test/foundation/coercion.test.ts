import { codeOf, useTestApp } from "../support/harness";
import { makeCompany } from "../support/factories";

const t = useTestApp();

/** graphql-js refuses ill-typed variables before any resolver runs; the field is still named. */
describe("input that does not fit the schema's types", () => {
  const CREATE = `mutation($input: CreateEventInput!) { createEvent(input: $input) { id } }`;

  it.each([
    [{ name: "x", capacity: "many" }, "capacity"],
    [{ name: "x", privacy: "SECRET" }, "privacy"],
    [{ name: "x", startsAt: "next tuesday" }, "startsAt"],
    [{ capacity: 3 }, "name"],
  ])("%j is BAD_USER_INPUT on %s, and nothing is created", async (input, field) => {
    const company = await makeCompany(t);
    const res = await t.gql(CREATE, { input }, { key: company.key });
    expect(codeOf(res)).toBe("BAD_USER_INPUT");
    expect(res.errors![0].extensions!.field).toBe(field);
    const events = await t.gql(`{ events { edges { node { id } } } }`, {}, { key: company.key });
    expect(events.data.events.edges).toHaveLength(0);
  });
});
