import { UserLifecycleService } from "./modules/user/user-lifecycle.service";
import type { DataSource } from "typeorm";
import type { Logger } from "pino";
import type { Clock } from "./clock";
import type { Config } from "./config";
import { KeyEncryption } from "./auth/key-encryption";
import type { ChangeFeed } from "./db/change-feed";
import { ReadRouter } from "./db/read-replica";
import { DEFAULT_DATABASE_TIMEOUTS } from "./db/pool";
import { CompanyService } from "./modules/company/company.service";
import { EventService } from "./modules/event/event.service";
import { UserService } from "./modules/user/user.service";
import { SigningKeyService } from "./modules/token/signing-key.service";
import { TokenValidationService } from "./modules/token/token-validation.service";
import { TokenService } from "./modules/token/token.service";
import { SessionService } from "./modules/session/session.service";
import { AdmissionService, OwnCredentials } from "./modules/session/admission.service";
import { RegistrantService } from "./modules/registrant/registrant.service";
import { AnalyticsService } from "./modules/analytics/analytics.service";
import { ReportLinkService } from "./modules/analytics/report-link.service";
import { AuthRateLimiter } from "./auth/rate-limit";
import { PasswordService } from "./modules/password/password.service";
import { JoinRequestService } from "./modules/knock/join-request.service";
import { PartnerService } from "./modules/partner/partner.service";
import { PartnerJwtService } from "./modules/partner/partner-jwt.service";
import { ExternalCredentialService } from "./modules/identity-provider/external-credential.service";
import { IdTokenService } from "./modules/identity-provider/id-token.service";
import { ProviderKeySets } from "./modules/identity-provider/provider-key-sets";
import { TokenExchangeService } from "./modules/token/token-exchange.service";
import { LoginLinkService } from "./modules/login-link/login-link.service";
import { CompanySignInService } from "./modules/login-link/company-sign-in.service";
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
  /** Where analytics read (the read replica or the primary); default: the primary only. */
  reads?: ReadRouter;
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
  const tokens = new TokenService({
    dataSource,
    clock,
    publicUrl: config.publicUrl,
    signingKeys,
    companies,
    events,
    changes,
    log,
  });
  const authLimiter = new AuthRateLimiter({ dataSource, clock });
  const sessions = new SessionService({ dataSource, clock, tokens, signingKeys, events });
  const registrants = new RegistrantService({
    dataSource,
    clock,
    publicUrl: config.publicUrl,
    tokens,
    signingKeys,
    events,
  });
  events.onEventEnded.push((manager, event, at) => sessions.endEventSessions(manager, event.id, at));
  const reads = deps.reads ?? new ReadRouter(dataSource, null, DEFAULT_DATABASE_TIMEOUTS, log);
  const analytics = new AnalyticsService({ dataSource, clock, reads });
  const liveRoleOf = (companyId: string, sessionId: string) => sessions.liveRoleOf(companyId, sessionId);
  const reportLinks = new ReportLinkService({ clock, companies, events, signingKeys, tokens, liveRoleOf });
  // The modules that own a credential of joinEvent (passwords, knocking, partner JWTs and OIDC ID
  // tokens, login links); partner JWTs and ID tokens are also subject tokens of POST /oauth/token.
  const passwords = new PasswordService({ dataSource, clock, events, tokens, limiter: authLimiter });
  const joinRequests = new JoinRequestService({
    dataSource,
    clock,
    events,
    tokens,
    signingKeys,
    limiter: authLimiter,
    liveRoleOf,
  });
  const partners = new PartnerService({ dataSource, clock, encryption, production: config.nodeEnv === "production" });
  const providerKeySets = new ProviderKeySets({ log, production: config.nodeEnv === "production" });
  const externalCredentials = new ExternalCredentialService({ dataSource, companies, events, tokens });
  const partnerJwts = new PartnerJwtService({ clock, partners, tokens, keySets: providerKeySets, externalCredentials });
  const idTokens = new IdTokenService({ clock, partners, keySets: providerKeySets, externalCredentials });
  const tokenExchange = new TokenExchangeService({ clock, events, tokens, externalCredentials, partnerJwts, idTokens });
  // One-time login links: a credential of joinEvent, and the browser's GET /login/<code>.
  const loginLinks = new LoginLinkService({
    dataSource,
    clock,
    publicUrl: config.publicUrl,
    companies,
    events,
    sessions,
    tokens,
    log,
  });
  const companySignIns = new CompanySignInService({ dataSource, clock, tokens, signingKeys, loginLinks });
  const ownCredentials = new OwnCredentials({
    dataSource,
    tokens,
    events,
    limiter: authLimiter,
    joinRequests: (company, payload, input) => joinRequests.admit(company, payload, input),
  });
  // joinEvent: the admitter of every credential type, in one place (the type refuses a missing one).
  const admission = new AdmissionService({
    sessions,
    admitters: {
      JOIN_TOKEN: (input, credential) => ownCredentials.joinToken(input, credential),
      REGISTRATION_TOKEN: (input, credential) => ownCredentials.registrationToken(input, credential),
      GUEST: (input, _credential, facts) => ownCredentials.guest(input, facts),
      LOGIN_LINK: (input, credential) => loginLinks.admitForJoin(input, credential),
      PARTNER_JWT: (input, credential) => partnerJwts.admit(input, credential),
      OIDC_ID_TOKEN: (input, credential) => idTokens.admit(input, credential),
      PASSWORD: (input, _credential, facts) => passwords.admit(input, facts),
    },
  });
  const userLifecycle = new UserLifecycleService({ dataSource, clock, tokens, sessions });
  // Outgoing webhooks: endpoints, and the worker that sends what the outbox triggers wrote. Loopback
  // receivers only outside production, as for JWKS fetches.
  const webhookAddresses = { allowLoopback: config.nodeEnv !== "production" };
  const webhookWorker = new WebhookDeliveryWorker({
    dataSource,
    clock,
    log,
    encryption,
    changes,
    addresses: webhookAddresses,
    options: deps.webhookWorker,
  });
  const webhooks = new WebhookService({
    dataSource,
    clock,
    encryption,
    addresses: webhookAddresses,
    wake: () => webhookWorker.wake(),
  });
  // validateToken for every credential kind, through the verifiers above.
  const tokenValidation = new TokenValidationService({
    dataSource,
    companies,
    tokens,
    events,
    partners,
    partnerJwts,
    idTokens,
    externalCredentials,
    loginLinks,
  });
  // Live push (GraphQL subscriptions): woken by the change feed, read their own state.
  const live = new LiveService({ dataSource, reads, clock, log, changes, sessions, companies, events });
  return {
    reads,
    live,
    tokenValidation,
    userLifecycle,
    webhooks,
    webhookWorker,
    masterKeys,
    companies,
    events,
    users,
    signingKeys,
    tokens,
    sessions,
    admission,
    registrants,
    analytics,
    reportLinks,
    authLimiter,
    passwords,
    joinRequests,
    partners,
    externalCredentials,
    partnerJwts,
    idTokens,
    tokenExchange,
    loginLinks,
    companySignIns,
  };
}

export type Services = ReturnType<typeof createContainer>;
