import { buildSchema, getNamedType, GraphQLBoolean, isObjectType, printSchema } from "graphql";
import { getSchema } from "../../src/graphql/schema";
import { ok, startTestApp, TestApp } from "../support/harness";
import { makeCompany } from "../support/factories";

/** Secrets live on entities only; the API shows them once, in a payload, and never logs or stores them in clear. */

const SECRET_LOOKING = /hash|password|private|secretHash|masterKey/i;
/** The only types that may carry a `secret`: what is shown once at creation. */
const SHOWS_A_SECRET_ONCE = /(Payload|Ticket)$/;

/**
 * The fields of output object types in an SDL that look like they expose a secret: "Type.field".
 * A Boolean cannot carry one, so flags such as `passwordAuthEnabled` (a documented setting)
 * are not counted.
 */
function secretLookingFields(sdl: string): string[] {
  const schema = buildSchema(sdl);
  const found: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    // Root fields are operations (setUserPassword sets one), not data a response carries.
    if (
      !isObjectType(type) ||
      type.name.startsWith("__") ||
      type === schema.getQueryType() ||
      type === schema.getMutationType()
    )
      continue;
    for (const field of Object.values(type.getFields())) {
      if (getNamedType(field.type) === GraphQLBoolean) continue;
      if (SECRET_LOOKING.test(field.name) || (field.name === "secret" && !SHOWS_A_SECRET_ONCE.test(type.name))) {
        found.push(`${type.name}.${field.name}`);
      }
    }
  }
  return found;
}

describe("the schema", () => {
  it("has no output field that looks like a secret, outside the payloads that show one once", async () => {
    expect(secretLookingFields(printSchema(await getSchema()))).toEqual([]);
  });

  it("the check catches what it is meant to catch", () => {
    const planted = `
      type Query { me: Account }
      type Account { id: ID  passwordHash: String  privateJwk: String  secret: String  MasterKey: String  passwordAuthEnabled: Boolean!  keyHashes: [String!]! }
      type CreateThingPayload { secret: String }
      type JoinRequestTicket { secret: String }
      input LoginInput { password: String }
    `;
    expect(secretLookingFields(planted).sort()).toEqual([
      "Account.MasterKey",
      "Account.keyHashes",
      "Account.passwordHash",
      "Account.privateJwk",
      "Account.secret",
    ]);
  });
});

describe("secrets at rest and in logs", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it("neither the API key secrets nor the admin key reach the logs or the api_keys table", async () => {
    const company = await makeCompany(t);
    const made = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "ci" }) { apiKey { id } secret } }`,
        {},
        { key: company.key },
      ),
    );
    const second: string = made.createApiKey.secret;
    // Use both keys, fail with one, so that every logging path has run.
    ok(await t.gql(`{ company { id } }`, {}, { key: second }));
    await t.gql(`mutation { createEvent(input: { name: "" }) { id } }`, {}, { key: company.key });
    await t.gql(`{ company { id } }`, {}, { key: `${second.slice(0, -1)}x` });

    const logs = t.logs.join("\n");
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [company.key, second, t.adminKey]) {
      expect(logs).not.toContain(secret);
      // Not even the random part after the prefix.
      const body = secret.replace(/^adm_/, "");
      expect(body.length).toBeGreaterThanOrEqual(32);
      expect(logs).not.toContain(body);
    }

    const rows: Record<string, unknown>[] = await t.db.dataSource.query(
      `SELECT * FROM api_keys WHERE company_id = $1`,
      [company.id],
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      for (const value of Object.values(row)) {
        const text = value instanceof Date ? value.toISOString() : JSON.stringify(value);
        for (const secret of [company.key, second]) {
          expect(value).not.toEqual(secret);
          expect(text).not.toContain(secret);
        }
      }
    }
  });
});
