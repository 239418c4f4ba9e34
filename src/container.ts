import type { DataSource } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "./clock";
import type { Config } from "./config";
import { CompanyService } from "./modules/company/company.service";
import { EventService } from "./modules/event/event.service";
import { UserService } from "./modules/user/user.service";

export interface ContainerDeps {
  config: Pick<Config, "publicUrl" | "adminApiKey">;
  dataSource: DataSource;
  clock: Clock;
  log: Logger;
}

/** Builds every service once, with plain factories: no DI framework. */
export function createContainer(deps: ContainerDeps) {
  const { dataSource, clock, log, config } = deps;
  const users = new UserService({ dataSource, clock });
  const events = new EventService({ dataSource, clock, publicUrl: config.publicUrl });
  const companies = new CompanyService({ dataSource, clock, log, adminApiKey: config.adminApiKey });
  return { companies, events, users };
}

export type Services = ReturnType<typeof createContainer>;
