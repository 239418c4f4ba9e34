import { Brackets, DataSource, EntityManager } from "typeorm";
import type { Clock } from "../../clock";
import { companyIdOf, RequestContext } from "../../request-context";
import { AppError, badInput, notFound } from "../../errors";
import { createdAtCursorOf, decodeCreatedAtCursor, pageSize, toConnection } from "../../graphql/connection";
import { EventPrivacy, EventStatus, Role, SessionPolicy } from "../../graphql/enums";
import * as v from "../../graphql/validate";
import { isUniqueViolation } from "../../db/errors";
import { announce, ChangeFeed } from "../../db/change-feed";
import { NodeCache } from "../../db/node-cache";
import { CompanyEntity } from "../company/company.entity";
import { isStorable } from "../../db/storable";
import { EventEntity } from "./event.entity";
import { EventPrincipalEntity, PrincipalRole } from "./event-principal.entity";
import type {
  CreateEventInput,
  EventFilter,
  EventPrincipalsInput,
  PrincipalInput,
  UpdateEventInput,
} from "./event.inputs";
import type { EventType, PrincipalType } from "./event.types";

export interface EventServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  publicUrl: string;
  changes: ChangeFeed;
}

const MAX_PRINCIPALS_PER_CALL = 1000;
/** Events a node keeps for minting and joins; every change to an event, on any node, empties the cache. */
const EVENT_CACHE_MS = 60_000;
const EVENT_CACHE_MAX = 50_000;

export function eventStatus(event: EventEntity, now: Date): EventStatus {
  if (event.endedAt || (event.endsAt && event.endsAt.getTime() <= now.getTime())) return EventStatus.ENDED;
  if (event.startsAt && event.startsAt.getTime() > now.getTime()) return EventStatus.SCHEDULED;
  return EventStatus.LIVE;
}

export function toPrincipalType(row: EventPrincipalEntity, companyId: string): PrincipalType {
  return { role: row.role as Role, userId: row.userExternalId, email: row.email, companyId, eventId: row.eventId };
}

interface NormalizedPrincipal {
  userExternalId: string | null;
  email: string | null;
}

function normalizePrincipals(field: string, list: PrincipalInput[] | undefined): NormalizedPrincipal[] {
  if (!list) return [];
  if (list.length > MAX_PRINCIPALS_PER_CALL)
    throw badInput(field, `${field} may hold at most ${MAX_PRINCIPALS_PER_CALL} entries at a time.`);
  return list.map((p, i) => {
    const hasId = p.userId !== undefined && p.userId !== null;
    const hasEmail = p.email !== undefined && p.email !== null;
    if (hasId === hasEmail) throw badInput(`${field}.${i}`, "Give exactly one of userId and email.");
    if (hasId) return { userExternalId: v.requiredText(`${field}.${i}.userId`, p.userId!, 255), email: null };
    return { userExternalId: null, email: v.normalizeEmail(`${field}.${i}.email`, p.email!).normalized };
  });
}

function principalRole(role: Role): PrincipalRole {
  if (role === Role.ATTENDEE) throw badInput("role", "role must be PRESENTER or ORGANIZER: attendees need no list.");
  return role;
}

export class EventService {
  /** Work done in the transaction that ends an event (its live sessions end with it). */
  readonly onEventEnded: Array<(manager: EntityManager, event: EventEntity, at: Date) => Promise<void>> = [];

  /** Events by "companyId/how/what" as callers name them, so any change to an event drops them all. */
  private readonly cached: NodeCache<EventEntity | null>;

  constructor(private readonly deps: EventServiceDeps) {
    this.cached = new NodeCache({
      clock: deps.clock,
      ttlMs: EVENT_CACHE_MS,
      maxEntries: EVENT_CACHE_MAX,
      changes: { feed: deps.changes, topic: "event", drop: "all", onlyWhileLive: true },
    });
  }

  /** Announces a change to an event inside the transaction that makes it, and forgets events here. */
  private async changed(manager: EntityManager, eventId: string): Promise<void> {
    await announce(manager, "event", eventId);
    this.cached.clear();
  }

  /** A cached event, loaded by `load` on a miss; each caller gets its own copy. */
  private async cachedEvent(key: string, load: () => Promise<EventEntity | null>): Promise<EventEntity | null> {
    const event = await this.cached.get(key, load);
    return event ? Object.assign(new EventEntity(), event) : null;
  }

  /** The company's event with this id (minting), from this node's cache. Not inside a transaction. */
  async findById(companyId: string, id: string): Promise<EventEntity | null> {
    if (!v.isUuid(id)) return null;
    return this.cachedEvent(`${companyId}/id/${id}`, () =>
      this.deps.dataSource.getRepository(EventEntity).findOneBy({ id, companyId }),
    );
  }

  toType(event: EventEntity): EventType {
    return {
      id: event.id,
      companyId: event.companyId,
      name: event.name,
      slug: event.slug,
      privacy: event.privacy as EventPrivacy,
      knockingEnabled: event.knockingEnabled,
      startsAt: event.startsAt,
      endsAt: event.endsAt,
      endedAt: event.endedAt,
      status: eventStatus(event, this.deps.clock.now()),
      capacity: event.capacity,
      sessionPolicy: event.sessionPolicy as SessionPolicy,
      maxSessionsPerUser: event.maxSessionsPerUser,
      joinUrl: `${this.deps.publicUrl}/j/${encodeURIComponent(event.slug)}`,
      createdAt: event.createdAt,
      updatedAt: event.updatedAt,
    };
  }

  /** The caller's event by id; another company's event is NOT_FOUND, exactly like a missing one. */
  async get(ctx: RequestContext, id: string): Promise<EventEntity> {
    const event = await this.find(companyIdOf(ctx), id);
    if (!event) throw notFound("The event");
    return event;
  }

  async find(companyId: string, id: string): Promise<EventEntity | null> {
    if (!v.isUuid(id)) return null;
    return this.deps.dataSource.getRepository(EventEntity).findOneBy({ id, companyId });
  }

  /**
   * An event named by id or slug, within one company (joins, the join page, token exchange):
   * from this node's cache, which every change to an event, on any node, empties. Each caller
   * gets its own copy. Not inside a transaction.
   */
  async findByIdOrSlug(companyId: string, idOrSlug: string): Promise<EventEntity | null> {
    return this.cachedEvent(`${companyId}/ref/${idOrSlug}`, async () => {
      const repo = this.deps.dataSource.getRepository(EventEntity);
      if (v.isUuid(idOrSlug)) {
        const byId = await repo.findOneBy({ id: idOrSlug, companyId });
        if (byId) return byId;
      }
      return repo.findOneBy({ slug: idOrSlug, companyId });
    });
  }

  /**
   * The event of this company that a reference names: its id, its slug, or
   * "companySlug/eventSlug" (the form of the join page's address), as everywhere an event is named.
   * Another company's event is NOT_FOUND, like a missing one.
   */
  async eventOf(companyId: string, ref: string): Promise<EventEntity> {
    const trimmed = isStorable(ref) ? ref.trim() : "";
    if (trimmed.includes("/")) {
      const event = await this.publicEventOf(trimmed);
      if (event.companyId !== companyId) throw notFound("The event");
      return event;
    }
    const event = trimmed ? await this.findByIdOrSlug(companyId, trimmed) : null;
    if (!event) throw notFound("The event");
    return event;
  }

  /**
   * An event named without a credential: by id, by "companySlug/eventSlug", or by a slug that
   * only one company uses.
   */
  async publicEventOf(ref: string): Promise<EventEntity> {
    const trimmed = ref.trim();
    // No event has such a name, and PostgreSQL would refuse the text itself.
    if (!isStorable(trimmed)) throw notFound("The event");
    const repo = this.deps.dataSource.getRepository(EventEntity);
    if (v.isUuid(trimmed)) {
      const byId = await repo.findOneBy({ id: trimmed });
      if (byId) return byId;
    }
    const slash = trimmed.indexOf("/");
    if (slash > 0) {
      const company = await this.deps.dataSource
        .getRepository(CompanyEntity)
        .findOneBy({ slug: trimmed.slice(0, slash) });
      const event = company ? await repo.findOneBy({ companyId: company.id, slug: trimmed.slice(slash + 1) }) : null;
      if (event) return event;
      throw notFound("The event");
    }
    const matches = await repo.find({ where: { slug: trimmed }, take: 2 });
    if (matches.length === 1) return matches[0];
    if (matches.length > 1)
      throw badInput("event", "Several companies use this slug: name the event by its id or as companySlug/eventSlug.");
    throw notFound("The event");
  }

  async create(ctx: RequestContext, input: CreateEventInput): Promise<EventEntity> {
    const companyId = companyIdOf(ctx);
    const name = v.requiredText("name", input.name);
    const givenSlug = input.slug === undefined || input.slug === null ? null : v.slug("slug", input.slug);
    const startsAt = input.startsAt ?? null;
    const endsAt = input.endsAt ?? null;
    v.dateOrder("endsAt", startsAt, endsAt);
    const capacity =
      input.capacity === undefined || input.capacity === null
        ? null
        : v.intInRange("capacity", input.capacity, 1, 1_000_000);
    const maxSessionsPerUser = v.intInRange("maxSessionsPerUser", input.maxSessionsPerUser ?? 1, 1, 100);
    const presenters = normalizePrincipals("presenters", input.presenters);
    const organizers = normalizePrincipals("organizers", input.organizers);

    const baseSlug = givenSlug ?? v.slugify(name);
    for (let attempt = 0; attempt < 5; attempt++) {
      const slug = attempt === 0 ? baseSlug : `${baseSlug}-${Math.random().toString(36).slice(2, 8)}`;
      try {
        return await this.deps.dataSource.transaction(async (manager) => {
          const event = await manager.save(
            manager.create(EventEntity, {
              companyId,
              name,
              slug,
              privacy: input.privacy ?? EventPrivacy.PRIVATE,
              knockingEnabled: input.knockingEnabled ?? false,
              startsAt,
              endsAt,
              capacity,
              sessionPolicy: input.sessionPolicy ?? SessionPolicy.REPLACE_OLDEST,
              maxSessionsPerUser,
            }),
          );
          await this.insertPrincipals(manager, event, "PRESENTER", presenters);
          await this.insertPrincipals(manager, event, "ORGANIZER", organizers);
          return event;
        });
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (givenSlug)
          throw new AppError("SLUG_TAKEN", `The slug "${givenSlug}" is taken by another event; choose another.`);
      }
    }
    throw new AppError("SLUG_TAKEN", "Could not find a free slug for this name; pass one explicitly.");
  }

  async update(ctx: RequestContext, id: string, input: UpdateEventInput): Promise<EventEntity> {
    const event = await this.get(ctx, id);
    if (event.endedAt) throw new AppError("EVENT_ENDED", "The event has ended and can no longer be changed.");
    const patch: Partial<EventEntity> = {};
    if (input.name !== undefined && input.name !== null) patch.name = v.requiredText("name", input.name);
    if (input.slug !== undefined && input.slug !== null) patch.slug = v.slug("slug", input.slug);
    if (input.privacy !== undefined && input.privacy !== null) patch.privacy = input.privacy;
    if (input.knockingEnabled !== undefined && input.knockingEnabled !== null)
      patch.knockingEnabled = input.knockingEnabled;
    if (input.startsAt !== undefined) patch.startsAt = input.startsAt;
    if (input.endsAt !== undefined) patch.endsAt = input.endsAt;
    if (input.capacity !== undefined) {
      patch.capacity = input.capacity === null ? null : v.intInRange("capacity", input.capacity, 1, 1_000_000);
    }
    if (input.sessionPolicy !== undefined && input.sessionPolicy !== null) patch.sessionPolicy = input.sessionPolicy;
    if (input.maxSessionsPerUser !== undefined && input.maxSessionsPerUser !== null) {
      patch.maxSessionsPerUser = v.intInRange("maxSessionsPerUser", input.maxSessionsPerUser, 1, 100);
    }
    v.dateOrder(
      "endsAt",
      patch.startsAt !== undefined ? patch.startsAt : event.startsAt,
      patch.endsAt !== undefined ? patch.endsAt : event.endsAt,
    );
    if (Object.keys(patch).length === 0) return event;
    try {
      await this.deps.dataSource.transaction(async (manager) => {
        await manager.update(EventEntity, { id: event.id, companyId: event.companyId }, patch);
        await this.changed(manager, event.id);
      });
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AppError("SLUG_TAKEN", `The slug "${patch.slug}" is taken by another event; choose another.`);
      throw error;
    }
    return this.deps.dataSource.getRepository(EventEntity).findOneByOrFail({ id: event.id });
  }

  /** Ends the event now; idempotent. Live sessions see it on their next heartbeat. */
  async end(ctx: RequestContext, id: string): Promise<EventEntity> {
    const event = await this.get(ctx, id);
    if (event.endedAt) return event;
    const at = this.deps.clock.now();
    return this.deps.dataSource.transaction(async (manager) => {
      const result = await manager
        .createQueryBuilder()
        .update(EventEntity)
        .set({ endedAt: at })
        .where("id = :id AND ended_at IS NULL", { id: event.id })
        .execute();
      if (result.affected) {
        await this.changed(manager, event.id);
        for (const hook of this.onEventEnded) await hook(manager, event, at);
      }
      return manager.findOneByOrFail(EventEntity, { id: event.id });
    });
  }

  async list(
    ctx: RequestContext,
    first: number | null | undefined,
    after: string | null | undefined,
    filter?: EventFilter,
  ) {
    const companyId = companyIdOf(ctx);
    const limit = pageSize(first);
    const cursor = decodeCreatedAtCursor(after);
    const now = this.deps.clock.now();
    const qb = this.deps.dataSource
      .getRepository(EventEntity)
      .createQueryBuilder("e")
      .where("e.company_id = :companyId", { companyId })
      .orderBy("e.created_at", "ASC")
      .addOrderBy("e.id", "ASC")
      .take(limit + 1);
    if (cursor) {
      qb.andWhere("(e.created_at, e.id) > (:cAt, :cId)", { cAt: cursor.createdAt, cId: cursor.id });
    }
    if (filter?.privacy) qb.andWhere("e.privacy = :privacy", { privacy: filter.privacy });
    if (filter?.startsAfter) qb.andWhere("e.starts_at >= :startsAfter", { startsAfter: filter.startsAfter });
    if (filter?.startsBefore) qb.andWhere("e.starts_at < :startsBefore", { startsBefore: filter.startsBefore });
    if (filter?.status) {
      const ended = "(e.ended_at IS NOT NULL OR (e.ends_at IS NOT NULL AND e.ends_at <= :now))";
      qb.setParameter("now", now);
      if (filter.status === EventStatus.ENDED) qb.andWhere(ended);
      else {
        qb.andWhere(`NOT ${ended}`);
        qb.andWhere(
          filter.status === EventStatus.SCHEDULED
            ? "e.starts_at > :now"
            : new Brackets((w) => w.where("e.starts_at IS NULL").orWhere("e.starts_at <= :now")),
        );
      }
    }
    const rows = await qb.getMany();
    return toConnection(rows, limit, createdAtCursorOf, (e) => this.toType(e));
  }

  /**
   * The company's events that can still be joined (live, then upcoming by start), for the page a
   * company-wide link opens. At most `limit`.
   */
  async openEvents(companyId: string, limit = 100): Promise<EventEntity[]> {
    const now = this.deps.clock.now();
    return this.deps.dataSource
      .getRepository(EventEntity)
      .createQueryBuilder("e")
      .where("e.company_id = :companyId", { companyId })
      .andWhere("e.ended_at IS NULL AND (e.ends_at IS NULL OR e.ends_at > :now)", { now })
      .orderBy("CASE WHEN e.starts_at IS NULL OR e.starts_at <= :now THEN 0 ELSE 1 END", "ASC")
      .addOrderBy("e.starts_at", "ASC", "NULLS FIRST")
      .addOrderBy("e.created_at", "ASC")
      .take(limit)
      .getMany();
  }

  async addPrincipals(ctx: RequestContext, input: EventPrincipalsInput): Promise<EventEntity> {
    const role = principalRole(input.role);
    const principals = normalizePrincipals("principals", input.principals);
    const event = await this.get(ctx, input.eventId);
    await this.insertPrincipals(this.deps.dataSource.manager, event, role, principals);
    return event;
  }

  async removePrincipals(ctx: RequestContext, input: EventPrincipalsInput): Promise<EventEntity> {
    const role = principalRole(input.role);
    const principals = normalizePrincipals("principals", input.principals);
    const event = await this.get(ctx, input.eventId);
    const ids = principals.filter((p) => p.userExternalId).map((p) => p.userExternalId);
    const emails = principals.filter((p) => p.email).map((p) => p.email);
    await this.deps.dataSource
      .createQueryBuilder()
      .delete()
      .from(EventPrincipalEntity)
      .where("event_id = :eventId AND company_id = :companyId AND role = :role", {
        eventId: event.id,
        companyId: event.companyId,
        role,
      })
      .andWhere(
        new Brackets((w) =>
          w.where("user_external_id = ANY(:ids)", { ids }).orWhere("email = ANY(:emails)", { emails }),
        ),
      )
      .execute();
    return event;
  }

  private async insertPrincipals(
    manager: EntityManager,
    event: Pick<EventEntity, "id" | "companyId">,
    role: PrincipalRole,
    principals: NormalizedPrincipal[],
  ) {
    if (principals.length === 0) return;
    await manager
      .createQueryBuilder()
      .insert()
      .into(EventPrincipalEntity)
      .values(
        principals.map((p) => ({
          companyId: event.companyId,
          eventId: event.id,
          role,
          userExternalId: p.userExternalId,
          email: p.email,
        })),
      )
      .orIgnore()
      .execute();
  }
}
