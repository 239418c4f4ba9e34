import DataLoader from "dataloader";
import type { AnalyticsRead, SqlReader } from "../../db/read-replica";
import { registrantCountsSql, type AnalyticsScope, type Statement } from "./analytics.sql";
import { activitySql, timelineSql } from "./activity.sql";
import {
  activityBoundsSql,
  attendeePageSql,
  attendeeTotalsSql,
  breakdownSql,
  type AttendeeCursor,
  type AttendeeSources,
} from "./attendance.sql";
import { windowTotalsSql } from "./attendance-window.sql";

/**
 * Per-request loaders of analytics. A key names one event of one company over one window at one
 * pinned "now"; keys that share the company, window and now (and the field's arguments) are
 * answered by one statement whatever the number of events: a dashboard listing 100 events costs
 * what one costing 10 does.
 */
export interface AnalyticsKey {
  companyId: string;
  eventId: string;
  from: Date | null;
  to: Date | null;
  now: Date;
}

export interface AttendeeTotals {
  attendees: number;
  attendedMs: number;
  /** Attendees linked to a live registration of the event. */
  registered: number;
}

export interface Activity {
  sessions: number;
  peak: number;
}

export type Timeline =
  { buckets: { start: Date; activeSessions: number; joins: number }[] } | { tooManyBuckets: number };

export interface BreakdownValue {
  value: string | null;
  attendees: number;
  attendedMs: number;
}

export interface AttendeeRow {
  userId: string;
  sessions: number;
  firstJoinedAt: Date;
  attendedMs: number;
  roleRank: number;
  registrantId: string | null;
  metadata: Record<string, unknown>;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;
const scopeKeyOf = (k: AnalyticsKey) => [k.companyId, iso(k.from), iso(k.to), k.now.toISOString()];

function groupBy<K>(keys: readonly K[], groupOf: (key: K) => string): K[][] {
  const groups = new Map<string, K[]>();
  for (const key of keys) {
    const group = groupOf(key);
    const members = groups.get(group);
    if (members) members.push(key);
    else groups.set(group, [key]);
  }
  return [...groups.values()];
}

function scopeOf(group: AnalyticsKey[]): AnalyticsScope {
  const { companyId, from, to, now } = group[0];
  return { companyId, eventIds: [...new Set(group.map((k) => k.eventId))], window: { from, to }, now };
}

/**
 * A loader whose batch runs one statement per (scope, extra arguments) and answers each key from
 * the rows of its event; `missing` answers an event without rows.
 */
function scopedLoader<K extends AnalyticsKey, V>(
  extra: (key: K) => unknown[],
  run: (scope: AnalyticsScope, first: K) => Promise<Map<string, V>>,
  missing: () => V,
): DataLoader<K, V, string> {
  const cacheKey = (k: K) => JSON.stringify([k.eventId, ...scopeKeyOf(k), ...extra(k)]);
  return new DataLoader<K, V, string>(
    async (keys) => {
      const results = new Map<string, V>();
      await Promise.all(
        groupBy(keys, (k) => JSON.stringify([...scopeKeyOf(k), ...extra(k)])).map(async (group) => {
          const byEvent = await run(scopeOf(group), group[0]);
          for (const key of group) results.set(cacheKey(key), byEvent.get(key.eventId) ?? missing());
        }),
      );
      return keys.map((k) => results.get(cacheKey(k))!);
    },
    { cacheKeyFn: cacheKey },
  );
}

const byEvent = <R extends { event_id: string }, V>(rows: R[], value: (row: R) => V) =>
  new Map(rows.map((row) => [row.event_id, value(row)]));

const groupRows = <R extends { event_id: string }, V>(rows: R[], value: (row: R) => V) => {
  // Pushed, not copied: a timeline of 10,000 buckets would otherwise copy its rows 10,000 times.
  const map = new Map<string, V[]>();
  for (const row of rows) {
    const values = map.get(row.event_id);
    if (values) values.push(value(row));
    else map.set(row.event_id, [value(row)]);
  }
  return map;
};

/**
 * `primary` reads the tenant check (an event made a moment ago is the caller's even before the
 * replica has it); `chooseRead` says where every other statement of the request reads (the read
 * replica or the primary, see ReadRouter), asked once, when the first of them runs.
 */
export function analyticsLoaders(primary: SqlReader, chooseRead: () => Promise<AnalyticsRead>) {
  let chosen: Promise<AnalyticsRead> | null = null;
  const read = (): Promise<AnalyticsRead> => (chosen ??= chooseRead());
  const query = async <R>(statement: Statement): Promise<R[]> =>
    (await read()).reader<R>(statement.sql, statement.params);

  /** Which events of the keys belong to the company: the tenant check of every analytics field. */
  const owned = new DataLoader<{ companyId: string; eventId: string }, boolean, string>(
    async (keys) => {
      const owners = new Set<string>();
      await Promise.all(
        groupBy(keys, (k) => k.companyId).map(async (group) => {
          const rows = await primary<{ id: string }>(
            "SELECT id FROM events WHERE company_id = $1::uuid AND id = ANY ($2::uuid[])",
            [group[0].companyId, [...new Set(group.map((k) => k.eventId))]],
          );
          for (const row of rows) owners.add(`${group[0].companyId}:${row.id}`);
        }),
      );
      return keys.map((k) => owners.has(`${k.companyId}:${k.eventId}`));
    },
    { cacheKeyFn: (k) => `${k.companyId}:${k.eventId}` },
  );

  /**
   * Whether an event reads its attendance rollup ("fast") or its raw sessions: the rollup holds
   * whole sessions, so it serves only when the window clips none of them.
   */
  const sources = scopedLoader<AnalyticsKey, "fast" | "raw">(
    () => [],
    async (scope) => {
      const { from, to } = scope.window;
      if (!from && !to) return new Map(scope.eventIds.map((id) => [id, "fast" as const]));
      const rows = await query<{ event_id: string; first_second: Date | null; last_second: Date | null }>(
        activityBoundsSql(scope),
      );
      return byEvent(rows, (row) => {
        if (!row.first_second || !row.last_second) return "fast" as const;
        const inside =
          (!from || from.getTime() < row.first_second.getTime()) &&
          (!to || to.getTime() >= row.last_second.getTime() + 1000);
        return inside ? ("fast" as const) : ("raw" as const);
      });
    },
    () => "raw" as const,
  );

  const sourcesOf = async (scope: AnalyticsScope, first: AnalyticsKey): Promise<AttendeeSources> => {
    const kinds = await sources.loadMany(scope.eventIds.map((eventId) => ({ ...first, eventId })));
    const split: AttendeeSources = { fast: [], raw: [] };
    kinds.forEach((kind, i) => {
      if (kind instanceof Error) throw kind;
      split[kind].push(scope.eventIds[i]);
    });
    return split;
  };

  const registrants = scopedLoader<AnalyticsKey, number>(
    () => [],
    async (scope) =>
      byEvent(await query<{ event_id: string; n: number }>(registrantCountsSql(scope)), (r) => Number(r.n)),
    () => 0,
  );

  const totals = scopedLoader<AnalyticsKey, AttendeeTotals>(
    () => [],
    async (scope, first) => {
      // Events whose window cuts sessions read the segments (windowTotalsSql), the others their sums.
      const { fast, raw } = await sourcesOf(scope, first);
      type Row = { event_id: string; attendees: number; attended_ms: string; registered: number };
      const [fastRows, cutRows] = await Promise.all([
        fast.length > 0 ? query<Row>(attendeeTotalsSql({ ...scope, eventIds: fast }, { fast, raw: [] })) : [],
        raw.length > 0 ? query<Row>(windowTotalsSql({ ...scope, eventIds: raw })) : [],
      ]);
      return byEvent([...fastRows, ...cutRows], (r) => ({
        attendees: Number(r.attendees),
        attendedMs: Number(r.attended_ms),
        registered: Number(r.registered),
      }));
    },
    () => ({ attendees: 0, attendedMs: 0, registered: 0 }),
  );

  const activity = scopedLoader<AnalyticsKey, Activity>(
    () => [],
    async (scope) =>
      byEvent(await query<{ event_id: string; sessions: number; peak: number }>(activitySql(scope)), (r) => ({
        sessions: Number(r.sessions),
        peak: Number(r.peak),
      })),
    () => ({ sessions: 0, peak: 0 }),
  );

  const timeline = scopedLoader<AnalyticsKey & { bucketSeconds: number; maxBuckets: number }, Timeline>(
    (k) => [k.bucketSeconds, k.maxBuckets],
    async (scope, first) => {
      const rows = await query<{
        event_id: string;
        k: string | null;
        active: number | null;
        joins: number | null;
        buckets: string | null;
      }>(timelineSql(scope, first.bucketSeconds, first.maxBuckets));
      const width = first.bucketSeconds * 1000;
      const result = new Map<string, Timeline>();
      for (const [eventId, eventRows] of groupRows(rows, (r) => r)) {
        const tooMany = eventRows.find((r) => r.buckets !== null);
        result.set(
          eventId,
          tooMany
            ? { tooManyBuckets: Number(tooMany.buckets) }
            : {
                buckets: eventRows.map((r) => ({
                  start: new Date(Number(r.k) * width),
                  activeSessions: Number(r.active),
                  joins: Number(r.joins),
                })),
              },
        );
      }
      return result;
    },
    () => ({ buckets: [] }),
  );

  const breakdown = scopedLoader<AnalyticsKey & { metadataKey: string; limit: number }, BreakdownValue[]>(
    (k) => [k.metadataKey, k.limit],
    async (scope, first) => {
      const rows = await query<{ event_id: string; value: string | null; attendees: number; attended_ms: string }>(
        breakdownSql(scope, await sourcesOf(scope, first), first.metadataKey, first.limit),
      );
      return groupRows(rows, (r) => ({
        value: r.value,
        attendees: Number(r.attendees),
        attendedMs: Number(r.attended_ms),
      }));
    },
    () => [],
  );

  const attendeePage = scopedLoader<AnalyticsKey & { take: number; after: AttendeeCursor | null }, AttendeeRow[]>(
    (k) => [k.take, iso(k.after?.firstJoinedAt ?? null), k.after?.userId ?? null],
    async (scope, first) => {
      const rows = await query<{
        event_id: string;
        user_id: string;
        sessions: number;
        first_joined_at: Date;
        attended_ms: string;
        role_rank: number;
        registrant_id: string | null;
        metadata: Record<string, unknown>;
      }>(attendeePageSql(scope, await sourcesOf(scope, first), first.take, first.after));
      return groupRows(rows, (r) => ({
        userId: r.user_id,
        sessions: Number(r.sessions),
        firstJoinedAt: r.first_joined_at,
        attendedMs: Number(r.attended_ms),
        roleRank: Number(r.role_rank),
        registrantId: r.registrant_id,
        metadata: r.metadata ?? {},
      }));
    },
    () => [],
  );

  return {
    analytics: { read, query, owned, sources, registrants, totals, activity, timeline, breakdown, attendeePage },
  };
}

export type AnalyticsLoaders = ReturnType<typeof analyticsLoaders>["analytics"];
