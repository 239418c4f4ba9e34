import { ok, TestApp } from "../support/harness";
import { TestCompany, TestEvent } from "../support/factories";

/** Operations and helpers the analytics tests share. */

export const REGISTER = `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { id email joinUrl } }`;
export const JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { sessionToken session { id userId } } }`;
export const LEAVE = `mutation($t: String!) { leaveEvent(sessionToken: $t) { id endedAt } }`;
export const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active sessionToken } }`;
export const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token } }`;
export const UPSERT_USER = `mutation($input: UpsertUserInput!) { upsertUser(input: $input) { id } }`;

export const HEADLINE = `query($id: ID!, $from: DateTime, $to: DateTime) {
  eventAnalytics(eventId: $id, from: $from, to: $to) {
    registrants attendees attendanceRate sessions totalAttendanceSeconds averageAttendanceSeconds peakConcurrentSessions
  }
}`;

export interface Registered {
  id: string;
  email: string;
  joinUrl: string;
}

export const tokenOf = (joinUrl: string): string => new URL(joinUrl).searchParams.get("token")!;

/**
 * Registers `email` as the company does for its own users: it vouches for the address
 * (emailVerified), so the registration joins as the company's user with that email.
 */
export async function register(
  t: TestApp,
  company: TestCompany,
  event: TestEvent,
  email: string,
  metadata: Record<string, unknown> = {},
): Promise<Registered> {
  const input = { eventId: event.id, name: email.split("@")[0], email, metadata, emailVerified: true };
  return ok(await t.gql(REGISTER, { input }, { key: company.key })).registerForEvent;
}

export interface Joined {
  sessionToken: string;
  session: { id: string; userId: string };
}

export async function join(t: TestApp, event: TestEvent, credential: string): Promise<Joined> {
  return ok(await t.gql(JOIN, { input: { event: event.id, credential } })).joinEvent;
}

export async function leave(t: TestApp, joined: Joined): Promise<void> {
  ok(await t.gql(LEAVE, { t: joined.sessionToken }));
}

export async function mintToken(t: TestApp, company: TestCompany, input: Record<string, unknown>): Promise<string> {
  return ok(await t.gql(MINT, { input }, { key: company.key })).mintJoinToken.token;
}

/** A clock origin on a whole minute, after everything the clock has shown so far. */
export function minuteAfter(t: TestApp, minutes = 1): Date {
  const now = t.clock.now().getTime();
  return new Date(Math.ceil(now / 60_000) * 60_000 + minutes * 60_000);
}

export interface SessionRow {
  eventId: string;
  userId: string;
  registrantId?: string | null;
  role?: string;
  joinedAt: Date;
  lastSeenAt?: Date;
  endedAt: Date | null;
  ejectAt?: Date | null;
  metadata?: Record<string, unknown>;
}

/** Inserts sessions with exact times, in one statement (the analytics triggers see one statement). */
export async function insertSessions(t: TestApp, companyId: string, rows: SessionRow[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const params: unknown[] = [];
  const values = rows.map((r) => {
    const base = params.length;
    params.push(
      companyId,
      r.eventId,
      r.userId,
      r.registrantId ?? null,
      r.role ?? "ATTENDEE",
      r.joinedAt,
      r.lastSeenAt ?? r.endedAt ?? r.joinedAt,
      r.endedAt,
      r.endedAt ? "LEFT" : null,
      r.ejectAt ?? null,
      JSON.stringify(r.metadata ?? {}),
    );
    const p = (i: number) => `$${base + i}`;
    return `(${p(1)}::uuid, ${p(2)}::uuid, ${p(3)}::uuid, ${p(4)}::uuid, 'JOIN_TOKEN', ${p(5)}, ${p(6)}::timestamptz, ${p(7)}::timestamptz, ${p(8)}::timestamptz, ${p(9)}, ${p(10)}::timestamptz, ${p(11)}::jsonb)`;
  });
  const inserted: { id: string }[] = await t.db.dataSource.query(
    `INSERT INTO sessions (company_id, event_id, user_id, registrant_id, credential_type, role, joined_at, last_seen_at, ended_at, end_reason, eject_at, metadata)
     VALUES ${values.join(", ")} RETURNING id`,
    params,
  );
  return inserted.map((r) => r.id);
}

/** Creates users through upsertUser; returns their ids in order. */
export async function makeUsers(
  t: TestApp,
  company: TestCompany,
  inputs: Record<string, unknown>[],
): Promise<string[]> {
  const ids: string[] = [];
  for (const input of inputs) ids.push(ok(await t.gql(UPSERT_USER, { input }, { key: company.key })).upsertUser.id);
  return ids;
}
