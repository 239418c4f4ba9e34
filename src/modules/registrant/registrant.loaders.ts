import DataLoader from "dataloader";
import { DataSource, EntityTarget, In, ObjectLiteral } from "typeorm";
import type { CreatedAtCursor } from "../../graphql/connection";
import { CompanyEntity } from "../company/company.entity";
import { SessionEntity } from "../session/session.entity";
import { RegistrantEntity } from "./registrant.entity";

/**
 * Relations that dashboards walk (Event.registrants, Event.sessions, Registrant.sessions,
 * User.sessions, Session.registrant). Every key carries the caller's company, and every statement
 * filters by it: a parent row reached some other way (a joinEvent result, say) yields nothing of
 * another tenant.
 */

/** One page of one parent's children. Pages of many parents with the same shape share one statement. */
export interface PageKey<F extends string> {
  companyId: string;
  parentId: string;
  /** Rows wanted: the page size plus one, which tells whether a next page exists. */
  take: number;
  after: CreatedAtCursor | null;
  filter: F;
}

export interface CountKey<F extends string> {
  companyId: string;
  parentId: string;
  filter: F;
}

interface ChildSpec<T, F extends string> {
  entity: EntityTarget<T>;
  table: string;
  /** The column that names the parent (event_id, registrant_id, user_id). */
  parentColumn: string;
  /** The instant the list is ordered by, then id. */
  orderColumn: string;
  parentOf: (row: T) => string;
  /** Fixed SQL conditions by name; never built from input. */
  filters: Record<F, string>;
}

function groupBy<K>(keys: readonly K[], groupOf: (key: K) => string): Map<string, K[]> {
  const groups = new Map<string, K[]>();
  for (const key of keys) {
    const group = groupOf(key);
    groups.set(group, [...(groups.get(group) ?? []), key]);
  }
  return groups;
}

const pageKeyOf = <F extends string>(k: PageKey<F>) =>
  JSON.stringify([
    k.companyId,
    k.parentId,
    k.take,
    k.after?.createdAt.toISOString() ?? null,
    k.after?.id ?? null,
    k.filter,
  ]);

/**
 * Pages of many parents at once: one statement per (company, page size, cursor, filter) in a
 * batch, numbering each parent's rows with ROW_NUMBER() OVER (PARTITION BY parent) and keeping the
 * first `take`. A list of N parents asking the same page costs one statement, whatever N.
 */
function pageLoader<T extends ObjectLiteral, F extends string>(dataSource: DataSource, spec: ChildSpec<T, F>) {
  return new DataLoader<PageKey<F>, T[], string>(
    async (keys) => {
      const rowsByKey = new Map<string, T[]>();
      const groups = groupBy(keys, (k) => JSON.stringify([k.companyId, k.take, k.after, k.filter]));
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const { companyId, take, after, filter } = group[0];
          const parentIds = [...new Set(group.map((k) => k.parentId))];
          const params: Record<string, unknown> = { companyId, parentIds, take };
          let afterSql = "";
          if (after) {
            afterSql = `AND (${spec.orderColumn}, id) > (:afterAt, :afterId)`;
            params.afterAt = after.createdAt;
            params.afterId = after.id;
          }
          const rows = await dataSource
            .getRepository(spec.entity)
            .createQueryBuilder("x")
            .where(
              `x.id IN (
                SELECT w.id FROM (
                  SELECT id, ROW_NUMBER() OVER (PARTITION BY ${spec.parentColumn} ORDER BY ${spec.orderColumn}, id) AS rn
                    FROM ${spec.table}
                   WHERE company_id = :companyId AND ${spec.parentColumn} = ANY(:parentIds) ${spec.filters[filter]} ${afterSql}
                ) w WHERE w.rn <= :take
              )`,
              params,
            )
            .orderBy(`x.${spec.orderColumn}`, "ASC")
            .addOrderBy("x.id", "ASC")
            .getMany();
          const byParent = new Map<string, T[]>();
          for (const row of rows) byParent.set(spec.parentOf(row), [...(byParent.get(spec.parentOf(row)) ?? []), row]);
          for (const key of group) rowsByKey.set(pageKeyOf(key), byParent.get(key.parentId) ?? []);
        }),
      );
      return keys.map((k) => rowsByKey.get(pageKeyOf(k)) ?? []);
    },
    { cacheKeyFn: pageKeyOf },
  );
}

const countKeyOf = <F extends string>(k: CountKey<F>) => JSON.stringify([k.companyId, k.parentId, k.filter]);

/** totalCount of many parents: one GROUP BY statement per (company, filter) in a batch. */
function countLoader<T, F extends string>(dataSource: DataSource, spec: ChildSpec<T, F>) {
  return new DataLoader<CountKey<F>, number, string>(
    async (keys) => {
      const counts = new Map<string, number>();
      const groups = groupBy(keys, (k) => JSON.stringify([k.companyId, k.filter]));
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const { companyId, filter } = group[0];
          const parentIds = [...new Set(group.map((k) => k.parentId))];
          const rows: { parent_id: string; n: number | string }[] = await dataSource.query(
            `SELECT ${spec.parentColumn} AS parent_id, COUNT(*)::int AS n
               FROM ${spec.table}
              WHERE company_id = $1 AND ${spec.parentColumn} = ANY($2) ${spec.filters[filter]}
              GROUP BY ${spec.parentColumn}`,
            [companyId, parentIds],
          );
          const byParent = new Map(rows.map((r) => [r.parent_id, Number(r.n)]));
          for (const key of group) counts.set(countKeyOf(key), byParent.get(key.parentId) ?? 0);
        }),
      );
      return keys.map((k) => counts.get(countKeyOf(k)) ?? 0);
    },
    { cacheKeyFn: countKeyOf },
  );
}

/** Rows by id within the caller's company; null for an id of no row of it. */
function scopedByIdLoader<T extends ObjectLiteral & { id: string; companyId: string }>(
  dataSource: DataSource,
  entity: EntityTarget<T>,
) {
  const keyOf = (k: { companyId: string; id: string }) => `${k.companyId}:${k.id}`;
  return new DataLoader<{ companyId: string; id: string }, T | null, string>(
    async (keys) => {
      const rows = await dataSource.getRepository(entity).findBy({ id: In(keys.map((k) => k.id)) } as never);
      const byKey = new Map(rows.map((row) => [keyOf(row), row]));
      return keys.map((k) => byKey.get(keyOf(k)) ?? null);
    },
    { cacheKeyFn: keyOf },
  );
}

export type RegistrantFilter = "live" | "all";
export type SessionFilter = "all" | "active" | "ended";

const REGISTRANT_FILTERS: Record<RegistrantFilter, string> = { live: "AND cancelled_at IS NULL", all: "" };
const SESSION_FILTERS: Record<SessionFilter, string> = {
  all: "",
  active: "AND ended_at IS NULL",
  ended: "AND ended_at IS NOT NULL",
};

const registrantsOfEvent: ChildSpec<RegistrantEntity, RegistrantFilter> = {
  entity: RegistrantEntity,
  table: "registrants",
  parentColumn: "event_id",
  orderColumn: "created_at",
  parentOf: (r) => r.eventId,
  filters: REGISTRANT_FILTERS,
};

const sessionsBy = (
  parentColumn: string,
  parentOf: (s: SessionEntity) => string,
): ChildSpec<SessionEntity, SessionFilter> => ({
  entity: SessionEntity,
  table: "sessions",
  parentColumn,
  orderColumn: "joined_at",
  parentOf,
  filters: SESSION_FILTERS,
});

const sessionsOfEvent = sessionsBy("event_id", (s) => s.eventId);
const sessionsOfRegistrant = sessionsBy("registrant_id", (s) => s.registrantId ?? "");
const sessionsOfUser = sessionsBy("user_id", (s) => s.userId);

/** The registrant module's per-request loaders; spread into createLoaders. */
export function registrantLoaders(dataSource: DataSource) {
  return {
    registrantById: scopedByIdLoader(dataSource, RegistrantEntity),
    companyById: new DataLoader<string, CompanyEntity | null>(async (ids) => {
      const rows = await dataSource.getRepository(CompanyEntity).findBy({ id: In([...ids]) });
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    registrantPageByEvent: pageLoader(dataSource, registrantsOfEvent),
    registrantCountByEvent: countLoader(dataSource, registrantsOfEvent),
    sessionPageByEvent: pageLoader(dataSource, sessionsOfEvent),
    sessionCountByEvent: countLoader(dataSource, sessionsOfEvent),
    sessionPageByRegistrant: pageLoader(dataSource, sessionsOfRegistrant),
    sessionCountByRegistrant: countLoader(dataSource, sessionsOfRegistrant),
    sessionPageByUser: pageLoader(dataSource, sessionsOfUser),
    sessionCountByUser: countLoader(dataSource, sessionsOfUser),
  };
}
