import type { TestApp } from "../support/harness";

/**
 * Analytics computed the slow, obvious way, in TypeScript, from the raw rows: the definitions the
 * rollups and the SQL must agree with exactly.
 */

export interface RawSession {
  id: string;
  event_id: string;
  user_id: string;
  registrant_id: string | null;
  role: string;
  credential_type: string;
  joined_at: Date;
  last_seen_at: Date;
  ended_at: Date | null;
  eject_at: Date | null;
  metadata: Record<string, unknown>;
}

interface RawRegistrant {
  id: string;
  event_id: string;
  user_id: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  cancelled_at: Date | null;
}

export interface RawData {
  sessions: RawSession[];
  registrants: RawRegistrant[];
  userMetadata: Map<string, Record<string, unknown>>;
  eventEnd: Map<string, number | null>;
  idleSeconds: Map<string, number>;
  firstHeartbeatSeconds: Map<string, number>;
}

export async function loadRaw(t: TestApp, eventIds: string[]): Promise<RawData> {
  const q = (sql: string) => t.db.dataSource.query(sql, [eventIds]);
  const sessions: RawSession[] = await q(
    `SELECT id, event_id, user_id, registrant_id, role, credential_type, joined_at, last_seen_at, ended_at, eject_at, metadata FROM sessions WHERE event_id = ANY($1::uuid[])`,
  );
  const registrants: RawRegistrant[] = await q(
    `SELECT id, event_id, user_id, metadata, created_at, cancelled_at FROM registrants WHERE event_id = ANY($1::uuid[])`,
  );
  const users: { id: string; metadata: Record<string, unknown> }[] = await q(
    `SELECT id, metadata FROM users WHERE company_id IN (SELECT company_id FROM events WHERE id = ANY($1::uuid[]))`,
  );
  const events: { id: string; ended_at: Date | null; ends_at: Date | null; idle: number; first_window: number }[] =
    await q(
      `SELECT e.id, e.ended_at, e.ends_at, c.session_inactivity_timeout_seconds AS idle, c.first_heartbeat_window_seconds AS first_window
       FROM events e JOIN companies c ON c.id = e.company_id WHERE e.id = ANY($1::uuid[])`,
    );
  const least = (...xs: (Date | null)[]) => {
    const ms = xs.filter((x): x is Date => x !== null).map((x) => x.getTime());
    return ms.length ? Math.min(...ms) : null;
  };
  return {
    sessions,
    registrants,
    userMetadata: new Map(users.map((u) => [u.id, u.metadata])),
    eventEnd: new Map(events.map((e) => [e.id, least(e.ended_at, e.ends_at)])),
    idleSeconds: new Map(events.map((e) => [e.id, Number(e.idle)])),
    firstHeartbeatSeconds: new Map(events.map((e) => [e.id, Math.min(Number(e.first_window), Number(e.idle))])),
  };
}

/** Where a session ends as analytics sees it (the session sweep's rule for live ones), in ms. */
export function endOf(s: RawSession, raw: RawData, now: number): number {
  const joined = s.joined_at.getTime();
  if (s.ended_at) return Math.max(joined, s.ended_at.getTime());
  // A guest's session that never heartbeated idles out after the first-heartbeat window.
  const neverBeaten = s.credential_type === "GUEST" && s.last_seen_at.getTime() === joined;
  const idleAt =
    s.last_seen_at.getTime() + (neverBeaten ? raw.firstHeartbeatSeconds : raw.idleSeconds).get(s.event_id)! * 1000;
  const eventEnd = raw.eventEnd.get(s.event_id) ?? null;
  const eject = s.eject_at?.getTime() ?? null;
  const first = Math.min(...[idleAt, eject, eventEnd].filter((x): x is number => x !== null));
  let end = now;
  if (first <= now) end = eventEnd === first ? eventEnd : eject === first ? eject : s.last_seen_at.getTime();
  return Math.max(joined, end);
}

const RANK: Record<string, number> = { ATTENDEE: 0, PRESENTER: 1, ORGANIZER: 2 };
const ROLES = ["ATTENDEE", "PRESENTER", "ORGANIZER"];
const stripNulls = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== null));

export interface Window {
  from: number | null;
  to: number | null;
}

export interface RefAttendee {
  userId: string;
  sessions: number;
  firstJoinedAt: number;
  ms: number;
  role: string;
  registrantId: string | null;
  registered: boolean;
  metadata: Record<string, unknown>;
  sessionRegistrantIds: string[];
}

/** Sessions of one event in the window, with their ends and clipped intervals. */
export function inWindow(raw: RawData, eventId: string, w: Window, now: number, onlyEnded = false) {
  return raw.sessions
    .filter((s) => s.event_id === eventId && (!onlyEnded || s.ended_at !== null))
    .map((s) => ({ s, joined: s.joined_at.getTime(), end: endOf(s, raw, now) }))
    .filter(({ joined, end }) => (w.to === null || joined < w.to) && (w.from === null || end > w.from))
    .map((x) => {
      const cs = Math.max(x.joined, w.from ?? -Infinity);
      return { ...x, cs, ce: Math.max(cs, Math.min(x.end, w.to ?? Infinity)) };
    });
}

export function attendees(raw: RawData, eventId: string, w: Window, now: number, onlyEnded = false): RefAttendee[] {
  const byUser = new Map<string, ReturnType<typeof inWindow>>();
  for (const x of inWindow(raw, eventId, w, now, onlyEnded))
    byUser.set(x.s.user_id, [...(byUser.get(x.s.user_id) ?? []), x]);
  return [...byUser.entries()].map(([userId, list]) => {
    // Union of intervals.
    const intervals = list.map((x) => [x.cs, x.ce]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let ms = 0;
    let coveredTo = -Infinity;
    for (const [a, b] of intervals) {
      ms += Math.max(0, b - Math.max(a, coveredTo));
      coveredTo = Math.max(coveredTo, b);
    }
    const latestFirst = [...list].sort(
      (a, b) => b.joined - a.joined || (b.s.id < a.s.id ? -1 : b.s.id > a.s.id ? 1 : 0),
    );
    const sessionRegistrant = latestFirst.find((x) => x.s.registrant_id)?.s.registrant_id ?? null;
    const sessionRegistrantIds = [
      ...new Set(list.map((x) => x.s.registrant_id).filter((r): r is string => r !== null)),
    ].sort();
    const live = raw.registrants.filter((r) => r.event_id === eventId && r.cancelled_at === null);
    const linked = live
      .filter((r) => r.user_id === userId)
      .sort((a, b) => b.created_at.getTime() - a.created_at.getTime() || (b.id < a.id ? -1 : 1))[0];
    const registrantId =
      (sessionRegistrant && raw.registrants.some((r) => r.id === sessionRegistrant) ? sessionRegistrant : null) ??
      linked?.id ??
      null;
    const registrant = raw.registrants.find((r) => r.id === registrantId);
    return {
      userId,
      sessions: list.length,
      firstJoinedAt: Math.min(...list.map((x) => x.joined)),
      ms,
      role: ROLES[Math.max(...list.map((x) => RANK[x.s.role] ?? 0))],
      registrantId,
      registered: live.some((r) => r.user_id === userId || sessionRegistrantIds.includes(r.id)),
      metadata: {
        ...stripNulls(latestFirst[0].s.metadata),
        ...stripNulls(raw.userMetadata.get(userId) ?? {}),
        ...stripNulls(registrant?.metadata ?? {}),
      },
      sessionRegistrantIds,
    };
  });
}

const seconds = (ms: number) => Math.round(ms / 1000);

export function headline(raw: RawData, eventId: string, w: Window, now: number) {
  const list = attendees(raw, eventId, w, now);
  const registrants = raw.registrants.filter((r) => r.event_id === eventId && r.cancelled_at === null).length;
  const ms = list.reduce((sum, a) => sum + a.ms, 0);
  const sessions = inWindow(raw, eventId, w, now);
  // Running sessions change only at a window start, a join or an end: the peak is at one of them.
  const instants = [w.from ?? -Infinity, ...sessions.flatMap((x) => [x.joined, x.end])].filter(
    (i) => (w.from === null || i >= w.from) && (w.to === null || i < w.to),
  );
  const running = (i: number) => sessions.filter((x) => x.joined <= i && x.end > i).length;
  return {
    registrants,
    attendees: list.length,
    attendanceRate: registrants === 0 ? null : list.filter((a) => a.registered).length / registrants,
    sessions: sessions.length,
    totalAttendanceSeconds: seconds(ms),
    averageAttendanceSeconds: list.length === 0 ? null : ms / 1000 / list.length,
    peakConcurrentSessions: Math.max(0, ...instants.map(running)),
  };
}

export function timeline(raw: RawData, eventId: string, w: Window, now: number, bucketSeconds: number) {
  const all = raw.sessions
    .filter((s) => s.event_id === eventId)
    .map((s) => ({ joined: s.joined_at.getTime(), end: endOf(s, raw, now) }));
  const width = bucketSeconds * 1000;
  const instants = all
    .flatMap((x) => [x.joined, x.end])
    .filter((i) => (w.from === null || i >= w.from) && (w.to === null || i < w.to));
  const start = w.from ?? (instants.length ? Math.min(...instants) : null);
  if (start === null) return [];
  let kmax: number;
  if (w.to !== null) kmax = Math.floor((w.to - 1) / width);
  else {
    const everything = all.flatMap((x) => [x.joined, x.end]);
    if (everything.length === 0) return [];
    kmax = Math.max(
      Math.floor((Math.max(...everything) - 1) / width),
      Math.floor(Math.max(...all.map((x) => x.joined)) / width),
    );
  }
  const buckets = [];
  for (let k = Math.floor(start / width); k <= kmax; k++) {
    const b0 = Math.max(k * width, w.from ?? -Infinity);
    const b1 = Math.min((k + 1) * width, w.to ?? Infinity);
    buckets.push({
      start: new Date(k * width).toISOString(),
      activeSessions: all.filter((x) => x.joined < b1 && x.end > b0).length,
      joins: all.filter((x) => x.joined >= b0 && x.joined < b1).length,
    });
  }
  return buckets;
}

/** A metadata value as PostgreSQL's ->> shows it. */
const asText = (v: unknown): string | null =>
  v === undefined || v === null ? null : typeof v === "string" ? v : JSON.stringify(v);

export function breakdown(raw: RawData, eventId: string, w: Window, now: number, key: string) {
  const groups = new Map<string | null, { attendees: number; ms: number }>();
  for (const a of attendees(raw, eventId, w, now)) {
    const value = asText(a.metadata[key]);
    const g = groups.get(value) ?? { attendees: 0, ms: 0 };
    groups.set(value, { attendees: g.attendees + 1, ms: g.ms + a.ms });
  }
  return [...groups.entries()].map(([value, g]) => ({
    value,
    attendees: g.attendees,
    totalAttendanceSeconds: seconds(g.ms),
  }));
}

export function attendeeList(raw: RawData, eventId: string, w: Window, now: number) {
  return attendees(raw, eventId, w, now)
    .sort((a, b) => a.firstJoinedAt - b.firstJoinedAt || (a.userId < b.userId ? -1 : 1))
    .map((a) => ({
      userId: a.userId,
      registrantId: a.registrantId,
      metadata: a.metadata,
      firstJoinedAt: new Date(a.firstJoinedAt).toISOString(),
      totalAttendanceSeconds: seconds(a.ms),
      sessions: a.sessions,
      role: a.role,
    }));
}

/** What attendance_rollups must hold: the attendees of ended sessions, no window. */
export function expectedAttendanceRollups(raw: RawData, eventId: string) {
  return attendees(raw, eventId, { from: null, to: null }, 0, true)
    .map((a) => ({
      user_id: a.userId,
      sessions: a.sessions,
      first_joined_at: new Date(a.firstJoinedAt).toISOString(),
      attended_ms: a.ms,
      role_rank: RANK[a.role],
      session_registrant_ids: a.sessionRegistrantIds,
      registrant_id: a.registrantId,
      registered: a.registered,
      metadata: a.metadata,
    }))
    .sort((a, b) => (a.user_id < b.user_id ? -1 : 1));
}

/** What session_second_rollups must hold: every join, and the end of every ended session. */
export function expectedSecondRollups(raw: RawData, eventId: string) {
  const seconds = new Map<number, { joins: number[]; ends: number[] }>();
  const add = (at: number, kind: "joins" | "ends") => {
    const second = Math.floor(at / 1000) * 1000;
    const row = seconds.get(second) ?? { joins: [], ends: [] };
    row[kind].push(at - second);
    seconds.set(second, row);
  };
  for (const s of raw.sessions.filter((x) => x.event_id === eventId)) {
    add(s.joined_at.getTime(), "joins");
    if (s.ended_at) add(Math.max(s.joined_at.getTime(), s.ended_at.getTime()), "ends");
  }
  return [...seconds.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([second, row]) => {
      const byOffset = new Map<number, number>();
      for (const o of row.joins) byOffset.set(o, (byOffset.get(o) ?? 0) + 1);
      for (const o of row.ends) byOffset.set(o, (byOffset.get(o) ?? 0) - 1);
      let run = 0;
      let max = -Infinity;
      for (const o of [...byOffset.keys()].sort((a, b) => a - b)) {
        run += byOffset.get(o)!;
        max = Math.max(max, run);
      }
      return {
        second: new Date(second).toISOString(),
        joins: row.joins.length,
        ends: row.ends.length,
        joins_at_start: row.joins.filter((o) => o === 0).length,
        ends_at_start: row.ends.filter((o) => o === 0).length,
        max_after: max,
        join_offsets: [...row.joins].sort((a, b) => a - b),
        end_offsets: [...row.ends].sort((a, b) => a - b),
      };
    });
}

/** What session_minute_rollups must hold, composed from the expected seconds. */
export function expectedMinuteRollups(raw: RawData, eventId: string) {
  const minutes = new Map<string, ReturnType<typeof expectedSecondRollups>>();
  for (const s of expectedSecondRollups(raw, eventId)) {
    const minute = new Date(Math.floor(Date.parse(s.second) / 60_000) * 60_000).toISOString();
    minutes.set(minute, [...(minutes.get(minute) ?? []), s]);
  }
  return [...minutes.entries()].map(([minute, list]) => {
    let prior = 0;
    let max = -Infinity;
    for (const s of list) {
      max = Math.max(max, prior + s.max_after);
      prior += s.joins - s.ends;
    }
    const first = list.find((s) => s.second === minute);
    return {
      minute,
      joins: list.reduce((n, s) => n + s.joins, 0),
      ends: list.reduce((n, s) => n + s.ends, 0),
      joins_at_start: first?.joins_at_start ?? 0,
      ends_at_start: first?.ends_at_start ?? 0,
      max_after: max,
    };
  });
}

/** What session_hour_rollups must hold, composed from the expected minutes. */
export function expectedHourRollups(raw: RawData, eventId: string) {
  const hours = new Map<string, ReturnType<typeof expectedMinuteRollups>>();
  for (const m of expectedMinuteRollups(raw, eventId)) {
    const hour = new Date(Math.floor(Date.parse(m.minute) / 3_600_000) * 3_600_000).toISOString();
    hours.set(hour, [...(hours.get(hour) ?? []), m]);
  }
  return [...hours.entries()].map(([hour, list]) => {
    let prior = 0;
    let max = -Infinity;
    for (const m of list) {
      max = Math.max(max, prior + m.max_after);
      prior += m.joins - m.ends;
    }
    const first = list.find((m) => m.minute === hour);
    return {
      hour,
      joins: list.reduce((n, m) => n + m.joins, 0),
      ends: list.reduce((n, m) => n + m.ends, 0),
      joins_at_start: first?.joins_at_start ?? 0,
      ends_at_start: first?.ends_at_start ?? 0,
      max_after: max,
    };
  });
}

/** What attendance_event_rollups must hold: the rows of attendance_rollups, summed. */
export function expectedEventSums(raw: RawData, eventId: string) {
  const rows = expectedAttendanceRollups(raw, eventId);
  return {
    attendees: rows.length,
    attended_ms: rows.reduce((n, r) => n + r.attended_ms, 0),
    registered: rows.filter((r) => r.registered).length,
  };
}

/** What attendance_value_rollups must hold: those rows summed per metadata key and value (as ->> shows it). */
export function expectedValueSums(raw: RawData, eventId: string) {
  const sums = new Map<string, { key: string; value: string; attendees: number; attended_ms: number }>();
  for (const row of expectedAttendanceRollups(raw, eventId)) {
    for (const [key, v] of Object.entries(row.metadata)) {
      const value = asText(v);
      if (value === null) continue;
      const id = JSON.stringify([key, value]);
      const sum = sums.get(id) ?? { key, value, attendees: 0, attended_ms: 0 };
      sums.set(id, { ...sum, attendees: sum.attendees + 1, attended_ms: sum.attended_ms + row.attended_ms });
    }
  }
  return sortByKeyAndValue([...sums.values()]);
}

/** Rows ordered by key, then value, in code-point order whatever the database's collation. */
export function sortByKeyAndValue<R extends { key: string; value: string }>(rows: R[]): R[] {
  return [...rows].sort((a, b) =>
    a.key < b.key ? -1 : a.key > b.key ? 1 : a.value < b.value ? -1 : a.value > b.value ? 1 : 0,
  );
}

/**
 * attendance_segments of one event: per user, its ended sessions merged where they overlap or
 * touch (a zero-length one within or at an edge of another is merged into it), family 0 of all
 * of them, family 1 of those that make the user registered (all when a live registration is
 * linked to the user, else those that came with a live registration of the event).
 */
export function expectedSegments(raw: RawData, eventId: string) {
  const live = raw.registrants.filter((r) => r.event_id === eventId && r.cancelled_at === null);
  const byUser = new Map<string, RawSession[]>();
  for (const s of raw.sessions)
    if (s.event_id === eventId && s.ended_at) byUser.set(s.user_id, [...(byUser.get(s.user_id) ?? []), s]);
  const rows: { user_id: string; family: number; start_at: string; end_at: string; prev_end: string | null }[] = [];
  for (const [userId, list] of byUser) {
    const userRegistered = live.some((r) => r.user_id === userId);
    for (const family of [0, 1]) {
      const members = list
        .filter((s) => family === 0 || userRegistered || live.some((r) => r.id === s.registrant_id))
        .map((s) => [s.joined_at.getTime(), Math.max(s.joined_at.getTime(), s.ended_at!.getTime())])
        .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const segments: number[][] = [];
      for (const [a, b] of members) {
        const last = segments[segments.length - 1];
        if (last && a <= last[1]) last[1] = Math.max(last[1], b);
        else segments.push([a, b]);
      }
      segments.forEach(([a, b], i) =>
        rows.push({
          user_id: userId,
          family,
          start_at: new Date(a).toISOString(),
          end_at: new Date(b).toISOString(),
          prev_end: i === 0 ? null : new Date(segments[i - 1][1]).toISOString(),
        }),
      );
    }
  }
  return rows.sort((x, y) =>
    x.user_id < y.user_id
      ? -1
      : x.user_id > y.user_id
        ? 1
        : x.family - y.family || x.start_at.localeCompare(y.start_at),
  );
}

/**
 * companyAnalytics over some events: those with a session in the window, with the sums of their
 * numbers, and the distinct users attending any of them (a user of several events counts once).
 */
export function company(raw: RawData, eventIds: string[], w: Window, now: number) {
  const active = eventIds.filter((id) => inWindow(raw, id, w, now).length > 0);
  const users = new Set<string>();
  let ms = 0;
  let sessions = 0;
  let registrants = 0;
  for (const id of active) {
    for (const a of attendees(raw, id, w, now)) {
      users.add(a.userId);
      ms += a.ms;
    }
    sessions += inWindow(raw, id, w, now).length;
    registrants += raw.registrants.filter((r) => r.event_id === id && r.cancelled_at === null).length;
  }
  return {
    events: active.length,
    uniqueAttendees: users.size,
    sessions,
    registrants,
    totalAttendanceSeconds: seconds(ms),
  };
}
