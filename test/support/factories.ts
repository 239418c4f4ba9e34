import { randomBytes } from "node:crypto";
import { ok, TestApp } from "./harness";

export interface TestCompany {
  id: string;
  slug: string;
  /** A company API key with every scope. */
  key: string;
}

const unique = () => randomBytes(4).toString("hex");

/** Creates a company through the API with the platform admin key. */
export async function makeCompany(t: TestApp, overrides: { name?: string; slug?: string; seatLimit?: number } = {}): Promise<TestCompany> {
  const data = ok(
    await t.gql(
      `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { company { id slug } secret } }`,
      { input: { name: overrides.name ?? `Company ${unique()}`, slug: overrides.slug ?? `co-${unique()}`, seatLimit: overrides.seatLimit } },
      { key: t.adminKey },
    ),
  );
  return { id: data.createCompany.company.id, slug: data.createCompany.company.slug, key: data.createCompany.secret };
}

export interface TestEvent {
  id: string;
  slug: string;
}

/** Creates an event through the API; `input` is merged into a CreateEventInput. */
export async function makeEvent(t: TestApp, company: TestCompany, input: Record<string, unknown> = {}): Promise<TestEvent> {
  const data = ok(
    await t.gql(
      `mutation($input: CreateEventInput!) { createEvent(input: $input) { id slug } }`,
      { input: { name: `Event ${unique()}`, ...input } },
      { key: company.key },
    ),
  );
  return data.createEvent;
}
