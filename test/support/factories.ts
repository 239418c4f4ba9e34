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
export async function makeCompany(
  t: TestApp,
  overrides: { name?: string; slug?: string; seatLimit?: number } = {},
): Promise<TestCompany> {
  const data = ok(
    await t.gql(
      `mutation($input: CreateCompanyInput!) { createCompany(input: $input) { company { id slug } secret } }`,
      {
        input: {
          name: overrides.name ?? `Company ${unique()}`,
          slug: overrides.slug ?? `co-${unique()}`,
          seatLimit: overrides.seatLimit,
        },
      },
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
export async function makeEvent(
  t: TestApp,
  company: TestCompany,
  input: Record<string, unknown> = {},
): Promise<TestEvent> {
  const data = ok(
    await t.gql(
      `mutation($input: CreateEventInput!) { createEvent(input: $input) { id slug } }`,
      { input: { name: `Event ${unique()}`, ...input } },
      { key: company.key },
    ),
  );
  return data.createEvent;
}

export interface TestUser {
  id: string;
  externalId: string;
}

/** Creates (or updates) a user through upsertUser; `input` is merged into an UpsertUserInput. */
export async function makeUser(
  t: TestApp,
  company: TestCompany,
  input: Record<string, unknown> = {},
): Promise<TestUser> {
  const data = ok(
    await t.gql(
      `mutation($input: UpsertUserInput!) { upsertUser(input: $input) { id externalId } }`,
      { input: { externalId: `ext-${unique()}`, ...input } },
      { key: company.key },
    ),
  );
  return data.upsertUser;
}

const SNAPSHOT = `query Snapshot {
  company {
    id name slug seatLimit seatsUsed
    settings {
      sessionInactivityTimeoutSeconds defaultTokenTtlSeconds maxTokenTtlSeconds loginLinkTtlSeconds
      joinRequestTtlSeconds passwordAuthEnabled allowNonExpiringTokens allowedRedirectOrigins allowedEmbedOrigins
    }
    apiKeys { id name scopes revokedAt }
  }
  events(first: 100) {
    edges { node {
      id name slug privacy knockingEnabled startsAt endsAt endedAt capacity sessionPolicy maxSessionsPerUser updatedAt
      presenters { userId email } organizers { userId email }
    } }
    pageInfo { hasNextPage }
  }
  users(first: 100) {
    edges { node { id externalId email name avatarUrl metadata isGuest updatedAt } }
    pageInfo { hasNextPage }
  }
}`;

/**
 * Everything a company's owner can read about it through the API (API keys' lastUsedAt aside,
 * which moves with every use): compare two snapshots to show that a refused call changed nothing.
 */
export async function companySnapshot(t: TestApp, company: TestCompany): Promise<unknown> {
  return ok(await t.gql(SNAPSHOT, {}, { key: company.key }));
}
