import DataLoader from "dataloader";
import type { DataSource } from "typeorm";
import type { JWTPayload } from "jose";
import type { Clock } from "../../clock";
import { generateOpaqueSecret, secretMatches } from "../../auth/opaque-secret";
import { signToken } from "../../auth/tokens";
import { queryRows, rawQuery, RawQuery } from "../../db/raw";
import {
  createdAtCursorOf,
  CreatedAtCursor,
  decodeCreatedAtCursor,
  pageSize,
  toConnection,
} from "../../graphql/connection";
import { organizerCompany, type LiveRoleOf, type RequestContext } from "../../request-context";
import { AppError, badInput, notFound } from "../../errors";
import { EventStatus, Role } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import { CompanyEntity } from "../company/company.entity";
import { eventStatus, type EventService } from "../event/event.service";
import type { Admission } from "../session/admission.service";
import type { JoinEventInput } from "../session/session.inputs";
import type { SigningKeyService } from "../token/signing-key.service";
import { requireStorable, TokenService } from "../token/token.service";
import { JoinRequestEntity, JoinRequestStatusValue } from "./join-request.entity";
import {
  CONSUME_APPROVAL,
  DECIDE_JOIN_REQUEST,
  INSERT_JOIN_REQUEST,
  joinRequestOfRow,
  joinRequestPagesSql,
  RECORD_EXPIRY,
  type JoinRequestFilter,
  type JoinRequestRow,
} from "./join-request.sql";
import type { RequestToJoinInput } from "./join-request.inputs";
import type { JoinRequestType } from "./join-request.types";
import { addressSubject, AuthRateLimiter } from "../../auth/rate-limit";

export interface JoinRequestServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  events: EventService;
  tokens: TokenService;
  signingKeys: SigningKeyService;
  limiter: AuthRateLimiter;
  /** The organizer rule asks a bearer session's role now (SessionService.liveRoleOf). */
  liveRoleOf: LiveRoleOf;
}

/** How long the credential handed to an approved requester is valid; each poll signs a new one. */
export const JOIN_REQUEST_CREDENTIAL_TTL_SECONDS = 600;
/** Knocks one address may make on one company's events: enough for a crowd behind one NAT, not for a flood. */
export const KNOCK_ADDRESS_LIMIT = { max: 30, windowSeconds: 900 } as const;
const MAX_DENY_REASON = 500;
const MAX_SECRET_LENGTH = 200;

/** The status as callers see it: a PENDING request past its expiry is EXPIRED, written or not. */
export function statusAt(row: JoinRequestEntity, now: Date): JoinRequestStatusValue {
  return row.status === "PENDING" && row.expiresAt.getTime() <= now.getTime() ? "EXPIRED" : row.status;
}

export function toJoinRequestType(
  row: JoinRequestEntity,
  now: Date,
  credential: string | null = null,
): JoinRequestType {
  return {
    id: row.id,
    companyId: row.companyId,
    eventId: row.eventId,
    status: statusAt(row, now),
    name: row.name,
    email: row.email,
    role: (row.role as Role | null) ?? null,
    denyReason: row.denyReason,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    decidedAt: row.decidedAt,
    usedAt: row.consumedAt,
    credential,
  };
}

interface PageKey {
  companyId: string;
  eventId: string;
  take: number;
  after: CreatedAtCursor | null;
  filter: JoinRequestFilter;
}

const pageKeyOf = (k: PageKey) =>
  JSON.stringify([
    k.companyId,
    k.eventId,
    k.take,
    k.after?.createdAt.toISOString() ?? null,
    k.after?.id ?? null,
    k.filter,
  ]);

/**
 * Event.joinRequests pages for one request: the pages of many events with the same shape cost
 * one statement (ROW_NUMBER() per event), whatever the number of events or rows. "now" is fixed
 * for the request, so PENDING/EXPIRED mean the same on every event of one answer.
 */
function joinRequestPageLoader(dataSource: DataSource, now: Date) {
  return new DataLoader<PageKey, JoinRequestEntity[], string>(
    async (keys) => {
      const byKey = new Map<string, JoinRequestEntity[]>();
      const groups = new Map<string, PageKey[]>();
      for (const key of keys) {
        const group = JSON.stringify([key.companyId, key.take, key.after, key.filter]);
        groups.set(group, [...(groups.get(group) ?? []), key]);
      }
      await Promise.all(
        [...groups.values()].map(async (group) => {
          const { companyId, take, after, filter } = group[0];
          const params: unknown[] = [companyId, [...new Set(group.map((k) => k.eventId))], now, take];
          if (after) params.push(after.createdAt, after.id);
          const rows: JoinRequestRow[] = await dataSource.query(joinRequestPagesSql(filter, after !== null), params);
          const byEvent = new Map<string, JoinRequestEntity[]>();
          for (const row of rows.map(joinRequestOfRow))
            byEvent.set(row.eventId, [...(byEvent.get(row.eventId) ?? []), row]);
          for (const key of group) byKey.set(pageKeyOf(key), byEvent.get(key.eventId) ?? []);
        }),
      );
      return keys.map((k) => byKey.get(pageKeyOf(k)) ?? []);
    },
    { cacheKeyFn: pageKeyOf },
  );
}

/** Per-request loaders of this module, kept beside the request's own loaders (and dropped with them). */
const requestLoaders = new WeakMap<object, { now: Date; pages: ReturnType<typeof joinRequestPageLoader> }>();

/**
 * Knocking: requestToJoin, the requester's poll, the organizers' list and decisions, and the
 * single-use credential an approval hands out.
 */
export class JoinRequestService {
  private readonly sql: RawQuery;

  constructor(private readonly deps: JoinRequestServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
  }

  /**
   * requestToJoin: a PENDING request on a PRIVATE event with knocking on, and its poll secret
   * (shown once, stored as a SHA-256). A PUBLIC event needs no request (BAD_USER_INPUT: join as a
   * guest); a PRIVATE one without knocking is CREDENTIAL_REQUIRED; an ended one EVENT_ENDED.
   */
  async request(
    ctx: RequestContext,
    input: RequestToJoinInput,
  ): Promise<{ request: JoinRequestEntity; secret: string }> {
    const event = await this.deps.events.publicEventOf(input.event);
    const now = this.deps.clock.now();
    if (eventStatus(event, now) === EventStatus.ENDED) throw new AppError("EVENT_ENDED", "This event has ended.");
    if (event.privacy === "PUBLIC") {
      throw badInput(
        "event",
        "This event is public: join it as a guest (joinEvent with a displayName); no request is needed.",
      );
    }
    if (!event.knockingEnabled) {
      throw new AppError(
        "CREDENTIAL_REQUIRED",
        "This event is private and takes no requests to join: use the link or token you were given.",
      );
    }
    const name = v.requiredText("name", requireStorable("name", input.name), v.MAX_NAME_LENGTH);
    const email = v.optionalEmail("email", requireStorable("email", input.email));
    const company = await this.deps.dataSource.getRepository(CompanyEntity).findOneByOrFail({ id: event.companyId });
    const knocks = await this.deps.limiter.hit(company.id, `knock:${addressSubject(ctx.ip)}`, KNOCK_ADDRESS_LIMIT);
    const limited = this.deps.limiter.refusal(
      knocks,
      KNOCK_ADDRESS_LIMIT,
      "Too many requests to join from your address",
    );
    if (limited) throw limited;

    const secret = generateOpaqueSecret("jrq_");
    const [row] = await this.sql<JoinRequestRow>(INSERT_JOIN_REQUEST, [
      company.id,
      event.id,
      name,
      email?.email ?? null,
      email?.normalized ?? null,
      secret.hash,
      new Date(now.getTime() + company.joinRequestTtlSeconds * 1000),
    ]);
    return { request: joinRequestOfRow(row), secret: secret.secret };
  }

  /**
   * joinRequest(id, secret): with the requester's secret, the request and (APPROVED, not yet
   * used) a fresh credential; without a secret, the request as an organizer sees it (API key with
   * MANAGE_EVENTS, or an ORGANIZER session of its event), never with a credential. A wrong secret,
   * an unknown id or another company's request are all null.
   */
  async find(ctx: RequestContext, id: string, secret: string | null | undefined): Promise<JoinRequestType | null> {
    if (secret !== null && secret !== undefined) return this.poll(id, secret);
    const companyId = await organizerCompany(ctx, this.deps.liveRoleOf);
    const row = v.isUuid(id)
      ? await this.deps.dataSource.getRepository(JoinRequestEntity).findOneBy({ id, companyId })
      : null;
    if (!row || (ctx.principal.kind === "session" && ctx.principal.eventId !== row.eventId)) return null;
    const now = this.deps.clock.now();
    return toJoinRequestType(await this.recordExpiry(row, now), now);
  }

  private async poll(id: string, secret: string): Promise<JoinRequestType | null> {
    if (!v.isUuid(id) || secret.length === 0 || secret.length > MAX_SECRET_LENGTH) return null;
    const row = await this.deps.dataSource.getRepository(JoinRequestEntity).findOneBy({ id });
    if (!row || !secretMatches(secret, row.secretHash)) return null;
    const now = this.deps.clock.now();
    const current = await this.recordExpiry(row, now);
    const credential =
      current.status === "APPROVED" && current.consumedAt === null ? await this.credentialFor(current, now) : null;
    return toJoinRequestType(current, now, credential);
  }

  /**
   * The approval's credential: a join token of the request's company (its current key), naming
   * the event (evt) and the request (jrq, also the jti). Nothing is stored: it is signed anew on
   * every poll, and the request's consumed_at makes any of them work once.
   */
  private async credentialFor(row: JoinRequestEntity, now: Date): Promise<string> {
    const [company, key] = await Promise.all([
      this.deps.dataSource.getRepository(CompanyEntity).findOneByOrFail({ id: row.companyId }),
      this.deps.signingKeys.currentKey(row.companyId),
    ]);
    return signToken({
      kind: "join",
      key,
      issuer: this.deps.tokens.issuerOf(company.slug),
      subject: `join-request:${row.id}`,
      jti: row.id,
      issuedAt: now,
      expiresAt: new Date(now.getTime() + JOIN_REQUEST_CREDENTIAL_TTL_SECONDS * 1000),
      claims: { evt: row.eventId, jrq: row.id },
    });
  }

  /** Writes down that a PENDING request has expired (one conditional UPDATE); the row as it now reads. */
  private async recordExpiry(row: JoinRequestEntity, now: Date): Promise<JoinRequestEntity> {
    if (statusAt(row, now) !== "EXPIRED" || row.status !== "PENDING") return row;
    const [updated] = await this.sql<JoinRequestRow>(RECORD_EXPIRY, [row.id, now]);
    if (updated) return joinRequestOfRow(updated);
    // Decided meanwhile (just before its expiry): that decision stands.
    return this.deps.dataSource.getRepository(JoinRequestEntity).findOneByOrFail({ id: row.id });
  }

  /** approveJoinRequest: PENDING → APPROVED with the role (default ATTENDEE). See decide. */
  approve(ctx: RequestContext, id: string, role: Role | null | undefined): Promise<JoinRequestEntity> {
    return this.decide(ctx, id, { status: "APPROVED", role: role ?? Role.ATTENDEE, reason: null });
  }

  /** denyJoinRequest: PENDING → DENIED, with an optional reason the requester sees. See decide. */
  deny(ctx: RequestContext, id: string, reason: string | null | undefined): Promise<JoinRequestEntity> {
    const text = v.optionalText("reason", requireStorable("reason", reason ?? null), MAX_DENY_REASON);
    return this.decide(ctx, id, { status: "DENIED", role: null, reason: text });
  }

  /**
   * One conditional UPDATE decides a PENDING, unexpired request of the caller's company (of the
   * session's event for an organizer session) whose event has not ended, so of concurrent
   * decisions exactly one changes it. The others learn why: NOT_FOUND (no such request for this
   * caller), JOIN_REQUEST_DENIED (already denied), BAD_USER_INPUT on id (already approved, or
   * expired), EVENT_ENDED.
   */
  private async decide(
    ctx: RequestContext,
    id: string,
    decision: { status: "APPROVED" | "DENIED"; role: Role | null; reason: string | null },
  ): Promise<JoinRequestEntity> {
    const companyId = await organizerCompany(ctx, this.deps.liveRoleOf);
    if (!v.isUuid(id)) throw notFound("The join request");
    const principal = ctx.principal;
    const onlyEvent = principal.kind === "session" ? principal.eventId : null;
    const decidedBy =
      principal.kind === "session"
        ? `session:${principal.sessionId}`
        : principal.kind === "apiKey"
          ? `apiKey:${principal.apiKeyId}`
          : null;
    const now = this.deps.clock.now();
    const params = [id, companyId, decision.status, decision.role, decision.reason, decidedBy, now, onlyEvent];
    const [decided] = await this.sql<JoinRequestRow>(DECIDE_JOIN_REQUEST, params);
    if (decided) return joinRequestOfRow(decided);

    const row = await this.deps.dataSource.getRepository(JoinRequestEntity).findOneBy({ id, companyId });
    if (!row || (onlyEvent !== null && row.eventId !== onlyEvent)) throw notFound("The join request");
    const current = await this.recordExpiry(row, now);
    switch (statusAt(current, now)) {
      case "DENIED":
        throw new AppError("JOIN_REQUEST_DENIED", "This join request was already denied; the requester may ask again.");
      case "APPROVED":
        throw badInput("id", "This join request was already approved.");
      case "EXPIRED":
        throw badInput("id", "This join request has expired; the requester must ask again.");
      case "PENDING":
        throw new AppError("EVENT_ENDED", "The event has ended: its join requests can no longer be decided.");
    }
  }

  /**
   * Event.joinRequests: oldest first, optionally by status (PENDING: the lobby). For organizers:
   * an API key with MANAGE_EVENTS, or an ORGANIZER session of this event as bearer.
   */
  async listForEvent(
    ctx: RequestContext,
    eventId: string,
    page: { first?: number | null; after?: string | null; status?: JoinRequestStatusValue | null },
  ) {
    const companyId = await organizerCompany(ctx, this.deps.liveRoleOf);
    if (ctx.principal.kind === "session" && ctx.principal.eventId !== eventId) {
      throw new AppError("FORBIDDEN", "Only an organizer of this event may see its join requests.");
    }
    const limit = pageSize(page.first);
    const after = decodeCreatedAtCursor(page.after);
    let loaders = requestLoaders.get(ctx.loaders);
    if (!loaders) {
      const now = this.deps.clock.now();
      loaders = { now, pages: joinRequestPageLoader(this.deps.dataSource, now) };
      requestLoaders.set(ctx.loaders, loaders);
    }
    const rows = await loaders.pages.load({ companyId, eventId, take: limit + 1, after, filter: page.status ?? "all" });
    const now = loaders.now;
    return toConnection(rows, limit, createdAtCursorOf, (row) => toJoinRequestType(row, now));
  }

  /**
   * The credential of an approved knock at joinEvent (the JoinRequestAdmitter of OwnCredentials):
   * a verified join token of `company` carrying jrq. The requester joins as a guest (no seat) with
   * the approved role; the email they gave is unverified, so it matches no organizer list and is
   * kept in the session's metadata only. The approval works once: consumed by one conditional
   * UPDATE inside the join transaction.
   */
  async admit(company: CompanyEntity, payload: JWTPayload, input: JoinEventInput): Promise<Admission> {
    const id = payload.jrq;
    if (typeof id !== "string" || !v.isUuid(id) || payload.jti !== id || payload.sub !== `join-request:${id}`) {
      throw new AppError("TOKEN_INVALID", "The token's claims are malformed.");
    }
    const event = await this.deps.events.eventOf(company.id, input.event);
    if (payload.evt !== event.id) throw new AppError("TOKEN_WRONG_EVENT", "This approval opens another event.");
    const request = await this.deps.dataSource
      .getRepository(JoinRequestEntity)
      .findOneBy({ id, companyId: company.id });
    if (!request) throw new AppError("TOKEN_INVALID", "This join request does not exist.");
    if (request.eventId !== event.id) throw new AppError("TOKEN_WRONG_EVENT", "This approval opens another event.");
    if (request.status === "DENIED") throw new AppError("JOIN_REQUEST_DENIED", "This join request was denied.");
    if (request.status !== "APPROVED") throw new AppError("TOKEN_INVALID", "This join request was not approved.");
    if (request.consumedAt || (await this.deps.tokens.isRevoked(company.id, id))) {
      throw new AppError("TOKEN_REVOKED", "This approval was already used to join; ask to join again.");
    }
    const now = this.deps.clock.now();
    return {
      company,
      event,
      credentialType: "JOIN_TOKEN",
      jti: id,
      issuedAt: new Date(payload.iat! * 1000),
      expiresAt: typeof payload.exp === "number" ? new Date(payload.exp * 1000) : null,
      roleGrant: (request.role as Role | null) ?? Role.ATTENDEE,
      ejectAfterElapsedSeconds: null,
      ejectAtTokenExpiry: false,
      metadata: { joinRequestId: id, ...(request.email ? { unverifiedEmail: request.email } : {}) },
      entrant: { kind: "guest", name: request.name },
      consume: async (manager) => {
        const used = await queryRows<{ id: string }>(manager, CONSUME_APPROVAL, [id, company.id, now]);
        if (!used.length)
          throw new AppError("TOKEN_REVOKED", "This approval was already used to join; ask to join again.");
      },
    };
  }
}
