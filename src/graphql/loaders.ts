import type { DataSource } from "typeorm";
import { principalsByEventLoader } from "../modules/event/event.loaders";

/** Per-request DataLoaders. Built in the context function: a loader shared across requests would leak rows between tenants. */
export function createLoaders(dataSource: DataSource) {
  return {
    principalsByEvent: principalsByEventLoader(dataSource),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
