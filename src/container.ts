import type { DataSource } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "./clock";
import type { Config } from "./config";
import { KeyEncryption } from "./auth/key-encryption";
import { CompanyService } from "./modules/company/company.service";
import { EventService } from "./modules/event/event.service";
import { UserService } from "./modules/user/user.service";
import { SigningKeyService } from "./modules/token/signing-key.service";
import { TokenService } from "./modules/token/token.service";
import { SessionService } from "./modules/session/session.service";
import { RegistrantService } from "./modules/registrant/registrant.service";
import { AnalyticsService } from "./modules/analytics/analytics.service";

export interface ContainerDeps {
  config: Pick<Config, "publicUrl" | "adminApiKey">;
  masterKey: Buffer;
  dataSource: DataSource;
  clock: Clock;
  log: Logger;
}

/** Builds every service once, with plain factories: no DI framework. */
export function createContainer(deps: ContainerDeps) {
  const { dataSource, clock, log, config } = deps;
  const encryption = new KeyEncryption(deps.masterKey);
  const users = new UserService({ dataSource, clock });
  const signingKeys = new SigningKeyService({ dataSource, clock, encryption });
  const events = new EventService({ dataSource, clock, publicUrl: config.publicUrl });
  const companies = new CompanyService({
    dataSource,
    clock,
    log,
    adminApiKey: config.adminApiKey,
    onCompanyCreated: [(manager, company) => signingKeys.createCurrentKey(manager, company.id).then(() => undefined)],
  });
  const tokens = new TokenService({ dataSource, clock, publicUrl: config.publicUrl, signingKeys, companies });
  const sessions = new SessionService({ dataSource, clock, tokens, signingKeys, events, users });
  const registrants = new RegistrantService({ dataSource, clock, publicUrl: config.publicUrl, tokens, signingKeys, events });
  events.onEventEnded.push((manager, event, at) => sessions.endEventSessions(manager, event.id, at));
  const analytics = new AnalyticsService({ dataSource, clock });
  return { companies, events, users, signingKeys, tokens, sessions, registrants, analytics };
}

export type Services = ReturnType<typeof createContainer>;
