import { UserLifecycleService } from "./modules/user/user-lifecycle.service";
import type { DataSource } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "./clock";
import type { Config } from "./config";
import { KeyEncryption } from "./auth/key-encryption";
import type { ChangeFeed } from "./db/change-feed";
import { CompanyService } from "./modules/company/company.service";
import { EventService } from "./modules/event/event.service";
import { UserService } from "./modules/user/user.service";
import { SigningKeyService } from "./modules/token/signing-key.service";
import { TokenValidationService } from "./modules/token/token-validation.service";
import { TokenService } from "./modules/token/token.service";
import { SessionService } from "./modules/session/session.service";
import { RegistrantService } from "./modules/registrant/registrant.service";
import { AnalyticsService } from "./modules/analytics/analytics.service";
import { ReportLinkService } from "./modules/analytics/report-link.service";
import { AuthRateLimiter } from "./auth/rate-limit";
import { PasswordService } from "./modules/password/password.service";
import { JoinRequestService } from "./modules/knock/join-request.service";
import { PartnerService } from "./modules/partner/partner.service";
import { ExternalCredentialService } from "./modules/identity-provider/external-credential.service";
import { LoginLinkService } from "./modules/login-link/login-link.service";
import { MasterKeyService } from "./modules/master-key/master-key.service";
import { WebhookService } from "./modules/webhook/webhook.service";
import { LiveService } from "./modules/live/live.service";
import { WebhookDeliveryWorker, WebhookWorkerOptions } from "./modules/webhook/webhook.worker";

export interface ContainerDeps {
  config: Pick<Config, "publicUrl" | "adminApiKey"> & Partial<Pick<Config, "nodeEnv">>;
  masterKey: Buffer;
  dataSource: DataSource;
  clock: Clock;
  log: Logger;
  changes: ChangeFeed;
  /** Delivery worker settings (tests shorten the POST timeout). */
  webhookWorker?: Partial<WebhookWorkerOptions>;
}

/** Builds every service once, with plain factories: no DI framework. */
export function createContainer(deps: ContainerDeps) {
  const { dataSource, clock, log, config, changes } = deps;
  const encryption = new KeyEncryption(deps.masterKey);
  // /readyz asks it whether this node's key still opens the database's keys.
  const masterKeys = new MasterKeyService({ dataSource, clock, encryption });
  const users = new UserService({ dataSource, clock });
  const signingKeys = new SigningKeyService({ dataSource, clock, encryption, changes });
  const events = new EventService({ dataSource, clock, publicUrl: config.publicUrl, changes });
  const companies = new CompanyService({
    dataSource,
    clock,
    log,
    adminApiKey: config.adminApiKey,
    changes,
    publicUrl: config.publicUrl,
    onCompanyCreated: [(manager, company) => signingKeys.createCurrentKey(manager, company.id).then(() => undefined)],
  });
  const tokens = new TokenService({ dataSource, clock, publicUrl: config.publicUrl, signingKeys, companies, events, changes, log });
  const authLimiter = new AuthRateLimiter({ dataSource, clock });
  const sessions = new SessionService({ dataSource, clock, tokens, signingKeys, events, users, limiter: authLimiter });
  const registrants = new RegistrantService({ dataSource, clock, publicUrl: config.publicUrl, tokens, signingKeys, events });
  events.onEventEnded.push((manager, event, at) => sessions.endEventSessions(manager, event.id, at));
  const analytics = new AnalyticsService({ dataSource, clock });
  const reportLinks = new ReportLinkService({ clock, companies, events, sessions, signingKeys, tokens });
  // F7 managed passwords and F8 knocking: credentials of joinEvent owned by their own modules.
  const passwords = new PasswordService({ dataSource, clock, sessions, tokens, limiter: authLimiter });
  sessions.registerCredential("PASSWORD", (input, _credential, facts) => passwords.admit(input, facts));
  const joinRequests = new JoinRequestService({ dataSource, clock, sessions, tokens, signingKeys, limiter: authLimiter });
  sessions.registerJoinRequestCredential((company, payload, input) => joinRequests.admit(company, payload, input));
  // F5, F6, F6b: partner-signed JWTs and OIDC ID tokens as credentials (and for POST /oauth/token).
  const partners = new PartnerService({ dataSource, clock, encryption, production: config.nodeEnv === "production" });
  const externalCredentials = new ExternalCredentialService({ dataSource, clock, companies, events, sessions, tokens, partners, log, production: config.nodeEnv === "production" });
  sessions.registerCredential("PARTNER_JWT", (input, credential) => externalCredentials.admitPartnerJwt(input, credential));
  sessions.registerCredential("OIDC_ID_TOKEN", (input, credential) => externalCredentials.admitIdToken(input, credential));
  // F4 one-time login links: a credential of joinEvent, and the browser's GET /login/<code>.
  const loginLinks = new LoginLinkService({ dataSource, clock, publicUrl: config.publicUrl, companies, sessions, tokens, signingKeys, log });
  sessions.registerCredential("LOGIN_LINK", (input, credential) => loginLinks.admitForJoin(input, credential));
  const userLifecycle = new UserLifecycleService({ dataSource, clock, tokens, sessions });
  // Outgoing webhooks: endpoints, and the worker that sends what the outbox triggers wrote. Loopback
  // receivers only outside production, as for JWKS fetches.
  const webhookAddresses = { allowLoopback: config.nodeEnv !== "production" };
  const webhookWorker = new WebhookDeliveryWorker({ dataSource, clock, log, encryption, changes, addresses: webhookAddresses, options: deps.webhookWorker });
  const webhooks = new WebhookService({ dataSource, clock, encryption, addresses: webhookAddresses, wake: () => webhookWorker.wake() });
  // validateToken for every credential kind, through the verifiers above.
  const tokenValidation = new TokenValidationService({ dataSource, companies, tokens, sessions, partners, externalCredentials, loginLinks });
  // Live push (GraphQL subscriptions): woken by the change feed, read their own state.
  const live = new LiveService({ dataSource, clock, log, changes, sessions, companies, events });
  return { live, tokenValidation, userLifecycle, webhooks, webhookWorker, masterKeys, companies, events, users, signingKeys, tokens, sessions, registrants, analytics, reportLinks, authLimiter, passwords, joinRequests, partners, externalCredentials, loginLinks };
}

export type Services = ReturnType<typeof createContainer>;
