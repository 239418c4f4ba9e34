import DataLoader from "dataloader";
import { DataSource, In, ObjectLiteral, EntityTarget } from "typeorm";
import { principalsByEventLoader } from "../modules/event/event.loaders";
import { EventEntity } from "../modules/event/event.entity";
import { UserEntity } from "../modules/user/user.entity";
import { registrantLoaders } from "../modules/registrant/registrant.loaders";
import { analyticsLoaders } from "../modules/analytics/analytics.loaders";
import type { ReadRouter } from "../db/read-replica";

/** One statement for many ids; keys come from rows that were already tenant-checked. */
function byIdLoader<T extends ObjectLiteral & { id: string }>(dataSource: DataSource, entity: EntityTarget<T>) {
  return new DataLoader<string, T>(async (ids) => {
    const rows = await dataSource.getRepository(entity).findBy({ id: In([...ids]) } as never);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? new Error(`row ${id} not found`));
  });
}

/**
 * Per-request DataLoaders. Built in the context function: a loader shared across requests would
 * leak rows between tenants. Analytics read where `reads` says (the read replica or the primary).
 */
export function createLoaders(dataSource: DataSource, reads: ReadRouter) {
  return {
    principalsByEvent: principalsByEventLoader(dataSource),
    eventById: byIdLoader(dataSource, EventEntity),
    userById: byIdLoader(dataSource, UserEntity),
    ...registrantLoaders(dataSource),
    ...analyticsLoaders(
      (sql, params) => dataSource.query(sql, params),
      () => reads.choose(),
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
