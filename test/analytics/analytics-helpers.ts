import { ok, TestApp } from "../support/harness";
import { TestCompany, TestEvent } from "../support/factories";
import * as ref from "./reference";

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

const asIso = (d: Date | string) => new Date(d).toISOString();
const isoOrNull = (d: Date | null) => (d ? asIso(d) : null);
const byNumber = (x: number, y: number) => x - y;

/** The rows of one event's rollups that expectRollupsOfReference read, for checks of what a data set covers. */
export interface RollupRows {
  attendance: unknown[];
  values: unknown[];
  hours: unknown[];
  segments: { family: number }[];
  cells: unknown[];
}

/**
 * Every rollup of one event against what the reference computes from the raw rows: the attendance
 * rows, their sums per event and per metadata value, the activity in seconds, minutes and hours,
 * the segments, and the per-minute counts and gap cells that must be what the segments say.
 */
export async function expectRollupsOfReference(t: TestApp, raw: ref.RawData, eventId: string): Promise<RollupRows> {
  const rows = (sql: string): Promise<any[]> => t.db.dataSource.query(sql, [eventId]);
  const attendance = (
    await rows(
      `SELECT user_id, sessions, first_joined_at, attended_ms, role_rank, session_registrant_ids, registrant_id, registered, metadata
         FROM attendance_rollups WHERE event_id = $1 ORDER BY user_id`,
    )
  ).map((r) => ({
    ...r,
    first_joined_at: asIso(r.first_joined_at),
    attended_ms: Number(r.attended_ms),
    session_registrant_ids: [...r.session_registrant_ids].sort(),
  }));
  expect(attendance).toEqual(ref.expectedAttendanceRollups(raw, eventId));
  expect(
    await rows(
      "SELECT attendees, attended_ms::int AS attended_ms, registered FROM attendance_event_rollups WHERE event_id = $1",
    ),
  ).toEqual([ref.expectedEventSums(raw, eventId)]);
  const values = ref.sortByKeyAndValue(
    await rows(
      "SELECT key, value, attendees, attended_ms::int AS attended_ms FROM attendance_value_rollups WHERE event_id = $1",
    ),
  );
  expect(values).toEqual(ref.expectedValueSums(raw, eventId));

  const seconds = (
    await rows(
      `SELECT second, joins, ends, joins_at_start, ends_at_start, max_after, join_offsets, end_offsets
         FROM session_second_rollups WHERE event_id = $1 ORDER BY second`,
    )
  ).map((r) => ({
    ...r,
    second: asIso(r.second),
    // Multisets: the order within a second does not matter.
    join_offsets: r.join_offsets.map(Number).sort(byNumber),
    end_offsets: r.end_offsets.map(Number).sort(byNumber),
  }));
  expect(seconds).toEqual(ref.expectedSecondRollups(raw, eventId));
  const minutes = (
    await rows(
      `SELECT minute, joins, ends, joins_at_start, ends_at_start, max_after FROM session_minute_rollups WHERE event_id = $1 ORDER BY minute`,
    )
  ).map((r) => ({ ...r, minute: asIso(r.minute) }));
  expect(minutes).toEqual(ref.expectedMinuteRollups(raw, eventId));
  const hours = (
    await rows(
      `SELECT hour, joins, ends, joins_at_start, ends_at_start, max_after FROM session_hour_rollups WHERE event_id = $1 ORDER BY hour`,
    )
  ).map((r) => ({ ...r, hour: asIso(r.hour) }));
  expect(hours).toEqual(ref.expectedHourRollups(raw, eventId));

  // The segments, for windows that cut sessions, are what the ended sessions say.
  const segments = (
    await rows(
      "SELECT user_id, family, start_at, end_at, prev_end FROM attendance_segments WHERE event_id = $1 ORDER BY user_id, family, start_at",
    )
  ).map((r) => ({
    ...r,
    start_at: isoOrNull(r.start_at),
    end_at: isoOrNull(r.end_at),
    prev_end: isoOrNull(r.prev_end),
  }));
  expect(segments).toEqual(ref.expectedSegments(raw, eventId));
  // The per-minute counts of segments and gaps are what the segments say.
  const sorted = (sql: string) => rows(`SELECT * FROM (${sql}) x ORDER BY 1, 2`);
  expect(
    await sorted(`SELECT family, minute, starts, starts_offset_ms::bigint::text AS s_ms, ends, ends_offset_ms::bigint::text AS e_ms
                    FROM attendance_window_minutes WHERE event_id = $1`),
  ).toEqual(
    await sorted(`SELECT family, minute, sum(st)::int AS starts, sum(st_ms)::bigint::text AS s_ms, sum(en)::int AS ends, sum(en_ms)::bigint::text AS e_ms FROM (
        SELECT family, date_trunc('minute', start_at, 'UTC') AS minute, 1 AS st,
               round(extract(epoch FROM start_at - date_trunc('minute', start_at, 'UTC')) * 1000) AS st_ms, 0 AS en, 0 AS en_ms
          FROM attendance_segments WHERE event_id = $1
        UNION ALL
        SELECT family, date_trunc('minute', end_at, 'UTC'), 0, 0, 1, round(extract(epoch FROM end_at - date_trunc('minute', end_at, 'UTC')) * 1000)
          FROM attendance_segments WHERE event_id = $1) y GROUP BY 1, 2`),
  );
  const cells = await rows(
    "SELECT family, end_minute, start_minute, gaps FROM attendance_gap_cells WHERE event_id = $1 ORDER BY 1, 2, 3",
  );
  expect(cells).toEqual(
    await rows(
      `SELECT family, date_trunc('minute', prev_end, 'UTC') AS end_minute, date_trunc('minute', start_at, 'UTC') AS start_minute, count(*)::int AS gaps
         FROM attendance_segments WHERE event_id = $1 AND prev_end IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`,
    ),
  );
  return { attendance, values, hours, segments, cells };
}
