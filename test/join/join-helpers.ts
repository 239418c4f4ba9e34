import { codeOf, GqlResponse, ok, TestApp } from "../support/harness";
import { TestCompany } from "../support/factories";

/** Operations the join tests drive, with the fields they assert on. */
export const MINT = `mutation($input: MintJoinTokenInput!) {
  mintJoinToken(input: $input) { token joinUrl jti expiresAt notBefore }
}`;

export const JOIN = `mutation($input: JoinEventInput!) {
  joinEvent(input: $input) {
    role sessionToken sessionTokenExpiresAt
    session { id eventId userId role active endReason ejectAt joinedAt lastSeenAt endedAt credentialType metadata
              user { id externalId name email isGuest metadata } event { id slug } }
  }
}`;

export const BEAT = `mutation($t: String!) {
  heartbeat(sessionToken: $t) {
    active role endReason sessionToken sessionTokenExpiresAt ejectAt
    session { id active endReason endedAt lastSeenAt role }
  }
}`;

export const SESSION = `query($id: ID!) { session(id: $id) { id active role endReason endedAt lastSeenAt joinedAt durationSeconds metadata } }`;

export const VALIDATE = `query($token: String!) { validateToken(token: $token) { valid errorCode tokenType claims expiresAt } }`;

export interface Minted {
  token: string;
  joinUrl: string;
  jti: string;
  expiresAt: string | null;
  notBefore: string | null;
}

export async function mint(t: TestApp, company: TestCompany, input: Record<string, unknown>): Promise<Minted> {
  return ok(await t.gql(MINT, { input }, { key: company.key })).mintJoinToken;
}

export interface Joined {
  role: string;
  sessionToken: string;
  sessionTokenExpiresAt: string;
  session: {
    id: string;
    eventId: string;
    userId: string;
    role: string;
    active: boolean;
    endReason: string | null;
    ejectAt: string | null;
    joinedAt: string;
    lastSeenAt: string;
    endedAt: string | null;
    credentialType: string;
    metadata: Record<string, unknown>;
    user: {
      id: string;
      externalId: string | null;
      name: string | null;
      email: string | null;
      isGuest: boolean;
      metadata: Record<string, unknown>;
    };
    event: { id: string; slug: string };
  };
}

export function joinRaw(t: TestApp, input: Record<string, unknown>): Promise<GqlResponse> {
  return t.gql(JOIN, { input });
}

export async function join(t: TestApp, event: string, credential: string): Promise<Joined> {
  return ok(await joinRaw(t, { event, credential })).joinEvent;
}

export interface Beat {
  active: boolean;
  role: string;
  endReason: string | null;
  sessionToken: string | null;
  sessionTokenExpiresAt: string | null;
  ejectAt: string | null;
  session: {
    id: string;
    active: boolean;
    endReason: string | null;
    endedAt: string | null;
    lastSeenAt: string;
    role: string;
  };
}

export async function beat(t: TestApp, sessionToken: string): Promise<Beat> {
  return ok(await t.gql(BEAT, { t: sessionToken })).heartbeat;
}

/** Mints a token for a new user of `company` to `event` and joins with it. */
export async function mintAndJoin(
  t: TestApp,
  company: TestCompany,
  eventId: string,
  extra: Record<string, unknown> = {},
  user: Record<string, unknown> = { id: `u-${Math.random().toString(36).slice(2, 10)}` },
): Promise<Joined & { minted: Minted }> {
  const minted = await mint(t, company, { eventId, user, ...extra });
  return { ...(await join(t, eventId, minted.token)), minted };
}

/** Every table's name, per test app (a test's schema does not change under it). */
const tablesOf = new WeakMap<TestApp, Promise<string[]>>();

/**
 * Every row of every table, as sorted JSON per table (api_keys without last_used_at, which
 * moves with every API call): equal before and after a refused call means the call changed
 * nothing. One statement: refusals are checked against it twice each.
 */
export async function dbState(t: TestApp): Promise<Record<string, string[]>> {
  let tables = tablesOf.get(t);
  if (!tables) {
    tables = t.db.dataSource
      .query<{ table_name: string }[]>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`,
      )
      .then((rows) => rows.map((r) => r.table_name));
    tablesOf.set(t, tables);
  }
  const names = await tables;
  const rows: { t: number; row: string }[] = await t.db.dataSource.query(
    names
      .map((table, i) => {
        const row = table === "api_keys" ? `(to_jsonb(x) - 'last_used_at')` : "to_jsonb(x)";
        return `SELECT ${i} AS t, ${row}::text AS row FROM "${table}" x`;
      })
      .join(" UNION ALL "),
  );
  const state: Record<string, string[]> = Object.fromEntries(names.map((table) => [table, []]));
  for (const { t: i, row } of rows) state[names[i]].push(row);
  for (const table of names) state[table].sort();
  return state;
}

/** Row counts of every table. */
export async function tableCounts(t: TestApp): Promise<Record<string, number>> {
  const state = await dbState(t);
  return Object.fromEntries(Object.entries(state).map(([table, rows]) => [table, rows.length]));
}

/** Asserts that `call` is refused with `code` (or one of several codes; and `field`, when given) and that the database is unchanged. */
export async function expectRefused(
  t: TestApp,
  call: () => Promise<GqlResponse>,
  code: string | string[],
  field?: string,
): Promise<GqlResponse> {
  const before = await dbState(t);
  const response = await call();
  const codes = Array.isArray(code) ? code : [code];
  const got = codeOf(response);
  // Data is cut short: a token in a failure message would bury the point.
  const data = response.data ? JSON.stringify(response.data).slice(0, 300) : null;
  expect({ code: got !== undefined && codes.includes(got) ? code : got, data }).toEqual({ code, data: null });
  if (field !== undefined) expect(response.errors?.[0]?.extensions?.field).toBe(field);
  expect(await dbState(t)).toEqual(before);
  return response;
}

export async function updateSettings(t: TestApp, company: TestCompany, input: Record<string, unknown>): Promise<void> {
  ok(
    await t.gql(
      `mutation($input: UpdateCompanySettingsInput!) { updateCompanySettings(input: $input) { id } }`,
      { input },
      { key: company.key },
    ),
  );
}

export async function addPrincipals(
  t: TestApp,
  company: TestCompany,
  eventId: string,
  role: string,
  principals: Record<string, string>[],
) {
  ok(
    await t.gql(
      `mutation($input: EventPrincipalsInput!) { addEventPrincipals(input: $input) { id } }`,
      { input: { eventId, role, principals } },
      { key: company.key },
    ),
  );
}

export async function removePrincipals(
  t: TestApp,
  company: TestCompany,
  eventId: string,
  role: string,
  principals: Record<string, string>[],
) {
  ok(
    await t.gql(
      `mutation($input: EventPrincipalsInput!) { removeEventPrincipals(input: $input) { id } }`,
      { input: { eventId, role, principals } },
      { key: company.key },
    ),
  );
}

export const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");

export function decodePart(token: string, index: 0 | 1): Record<string, any> {
  return JSON.parse(Buffer.from(token.split(".")[index], "base64url").toString());
}

/** Seconds since the epoch, as JWT claims hold them. */
export const epoch = (iso: string | Date): number => Math.floor(new Date(iso).getTime() / 1000);
