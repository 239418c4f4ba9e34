import { DataSource, IsNull } from "typeorm";
import type { QueryDeepPartialEntity } from "typeorm/query-builder/QueryPartialEntity";
import type { Clock } from "../../clock";
import { signToken } from "../../auth/tokens";
import { isUniqueViolation } from "../../db/errors";
import { companyIdOf, RequestContext } from "../../request-context";
import { createdAtCursorOf, decodeCreatedAtCursor, pageSize, toConnection } from "../../graphql/connection";
import { AppError, badInput, notFound } from "../../errors";
import { EventStatus } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import { EventEntity } from "../event/event.entity";
import { eventStatus, EventService } from "../event/event.service";
import { SessionEntity } from "../session/session.entity";
import { REGISTRATION_TOKEN_TTL_SECONDS, SigningKeyService } from "../token/signing-key.service";
import type { TokenService } from "../token/token.service";
import { RegistrantEntity } from "./registrant.entity";
import type { RegisterForEventInput } from "./registrant.inputs";
import type { CountedConnection, RegistrantType } from "./registrant.types";
import type { RegistrantFilter, SessionFilter } from "./registrant.loaders";

export interface RegistrantServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  publicUrl: string;
  tokens: TokenService;
  signingKeys: SigningKeyService;
  events: EventService;
}

export function toRegistrantType(row: RegistrantEntity): RegistrantType {
  return {
    id: row.id,
    companyId: row.companyId,
    eventId: row.eventId,
    userId: row.userId,
    name: row.name,
    email: row.email,
    emailVerified: row.emailVerified,
    metadata: row.metadata ?? {},
    createdAt: row.createdAt,
    cancelledAt: row.cancelledAt,
    active: row.cancelledAt === null,
  };
}

/** Which loaders serve a session list, by the parent it hangs from. */
type SessionParent = "Event" | "Registrant" | "User";

export class RegistrantService {
  constructor(private readonly deps: RegistrantServiceDeps) {}

  /**
   * registerForEvent (F3). One live registration per email per event is held by the unique
   * partial index idx_registrants_event_email, so concurrent registrations of one email cannot
   * both succeed: the loser's INSERT fails and answers EMAIL_ALREADY_REGISTERED.
   */
  async register(ctx: RequestContext, input: RegisterForEventInput): Promise<RegistrantEntity> {
    const companyId = companyIdOf(ctx);
    const name = v.requiredText("name", input.name);
    const email = v.normalizeEmail("email", input.email);
    const metadata = v.metadata("metadata", input.metadata) ?? {};
    const event = await this.deps.events.find(companyId, input.eventId);
    if (!event) throw notFound("The event");
    if (eventStatus(event, this.deps.clock.now()) === EventStatus.ENDED) {
      throw new AppError("EVENT_ENDED", "The event has ended; it takes no more registrations.");
    }
    const repo = this.deps.dataSource.getRepository(RegistrantEntity);
    try {
      // One INSERT: the unique index decides between concurrent registrations of one email.
      const values = {
        companyId,
        eventId: event.id,
        name,
        email: email.email,
        emailNormalized: email.normalized,
        emailVerified: input.emailVerified === true,
        metadata,
      };
      const result = await repo.insert(values as QueryDeepPartialEntity<RegistrantEntity>);
      const id = (result.identifiers[0] as { id: string }).id;
      ctx.loaders.eventById.prime(event.id, event);
      return await repo.findOneByOrFail({ id });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      throw new AppError(
        "EMAIL_ALREADY_REGISTERED",
        `${email.email} is already registered for this event; look it up with registrant(eventId, email) or cancel it first.`,
      );
    }
  }

  /**
   * cancelRegistration: cancels (idempotent), revokes its registration tokens (jti = registrant
   * id) and ends its live sessions as REVOKED, in one transaction. The event row is locked first,
   * as joinEvent locks it, so a cancellation and a join of the same event take turns.
   */
  async cancel(ctx: RequestContext, id: string): Promise<RegistrantEntity> {
    const companyId = companyIdOf(ctx);
    const found = v.isUuid(id)
      ? await this.deps.dataSource.getRepository(RegistrantEntity).findOneBy({ id, companyId })
      : null;
    if (!found) throw notFound("The registration");
    const now = this.deps.clock.now();
    return this.deps.dataSource.transaction(async (manager) => {
      await manager.findOne(EventEntity, { where: { id: found.eventId }, lock: { mode: "pessimistic_write" } });
      await manager.update(RegistrantEntity, { id: found.id, companyId, cancelledAt: IsNull() }, { cancelledAt: now });
      await this.deps.tokens.revokeJti(manager, companyId, found.id, null);
      await manager.update(
        SessionEntity,
        { registrantId: found.id, companyId, endedAt: IsNull() },
        { endedAt: now, endReason: "REVOKED" },
      );
      return manager.findOneByOrFail(RegistrantEntity, { id: found.id });
    });
  }

  /** registrant(id) or registrant(eventId, email): the latter finds the live registration. */
  async findOne(ctx: RequestContext, by: { id?: string | null; eventId?: string | null; email?: string | null }) {
    const companyId = companyIdOf(ctx);
    const has = (value: string | null | undefined) => value !== undefined && value !== null;
    const repo = this.deps.dataSource.getRepository(RegistrantEntity);
    if (has(by.id)) {
      if (has(by.eventId) || has(by.email)) throw badInput("id", "Give either id, or eventId and email, not both.");
      return v.isUuid(by.id) ? repo.findOneBy({ id: by.id, companyId }) : null;
    }
    if (!has(by.eventId)) throw badInput("eventId", "Give id, or eventId and email.");
    if (!has(by.email)) throw badInput("email", "Give email with eventId.");
    const { normalized } = v.normalizeEmail("email", by.email);
    if (!v.isUuid(by.eventId)) return null;
    return repo.findOneBy({ companyId, eventId: by.eventId, emailNormalized: normalized, cancelledAt: IsNull() });
  }

  /**
   * <PUBLIC_URL>/j/<event slug>?token=<registration token>, signed now with the company's current
   * key. Nothing is stored: its jti is the registrant id, so revoking that id (a cancellation,
   * revokeToken, a ban) refuses every link of this registration.
   */
  async joinUrl(ctx: RequestContext, registrant: RegistrantType): Promise<string> {
    const [event, company, key] = await Promise.all([
      ctx.loaders.eventById.load(registrant.eventId),
      ctx.loaders.companyById.load(registrant.companyId),
      this.deps.signingKeys.currentKey(registrant.companyId),
    ]);
    if (!company) throw notFound("The company");
    const now = this.deps.clock.now();
    const token = await signToken({
      kind: "registration",
      key,
      issuer: this.deps.tokens.issuerOf(company.slug),
      subject: registrant.id,
      jti: registrant.id,
      issuedAt: now,
      expiresAt: new Date(now.getTime() + REGISTRATION_TOKEN_TTL_SECONDS * 1000),
      claims: { evt: registrant.eventId },
    });
    return `${this.deps.publicUrl}/j/${encodeURIComponent(event.slug)}?token=${token}`;
  }

  /** Event.registrants: live registrations (all with includeCancelled), oldest first. */
  async registrantsOfEvent(
    ctx: RequestContext,
    eventId: string,
    page: { first?: number | null; after?: string | null; includeCancelled?: boolean | null },
  ): Promise<CountedConnection<RegistrantType>> {
    const companyId = companyIdOf(ctx);
    const limit = pageSize(page.first);
    const after = decodeCreatedAtCursor(page.after);
    const filter: RegistrantFilter = page.includeCancelled ? "all" : "live";
    const rows = await ctx.loaders.registrantPageByEvent.load({
      companyId,
      parentId: eventId,
      take: limit + 1,
      after,
      filter,
    });
    return {
      ...toConnection(rows, limit, createdAtCursorOf, toRegistrantType),
      countTotal: () => ctx.loaders.registrantCountByEvent.load({ companyId, parentId: eventId, filter }),
    };
  }

  /** Event.sessions, Registrant.sessions, User.sessions: oldest join first. */
  async sessionsOf(
    ctx: RequestContext,
    parent: SessionParent,
    parentId: string,
    page: { first?: number | null; after?: string | null; active?: boolean | null },
  ): Promise<CountedConnection<SessionEntity>> {
    const companyId = companyIdOf(ctx);
    const limit = pageSize(page.first);
    const after = decodeCreatedAtCursor(page.after);
    const filter: SessionFilter = page.active === true ? "active" : page.active === false ? "ended" : "all";
    const loaders = {
      Event: [ctx.loaders.sessionPageByEvent, ctx.loaders.sessionCountByEvent],
      Registrant: [ctx.loaders.sessionPageByRegistrant, ctx.loaders.sessionCountByRegistrant],
      User: [ctx.loaders.sessionPageByUser, ctx.loaders.sessionCountByUser],
    } as const;
    const [pages, counts] = loaders[parent];
    const rows = await pages.load({ companyId, parentId, take: limit + 1, after, filter });
    return {
      ...toConnection(
        rows,
        limit,
        (s) => [s.joinedAt.toISOString(), s.id],
        (s) => s,
      ),
      countTotal: () => counts.load({ companyId, parentId, filter }),
    };
  }
}
