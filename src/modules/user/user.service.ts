import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { DataSource, EntityManager } from "typeorm";
import type { Clock } from "../../clock";
import { companyIdOf, RequestContext } from "../../graphql/context";
import { AppError, badInput } from "../../graphql/errors";
import { createdAtCursorOf, decodeCreatedAtCursor, pageSize, toConnection } from "../../graphql/connection";
import * as v from "../../graphql/validate";
import { isUniqueViolation } from "../../db/errors";
import { CompanyEntity } from "../company/company.entity";
import type { QueryDeepPartialEntity } from "typeorm/query-builder/QueryPartialEntity";
import { UserEntity } from "./user.entity";
import type { UpsertUserInput } from "./user.inputs";
import type { UserConnection, UserType } from "./user.types";

export interface UserServiceDeps {
  dataSource: DataSource;
  clock: Clock;
}

/** What a credential or the API says about a user; absent fields are left as they are. */
export interface UserProfile {
  externalId: string;
  email?: string | null;
  name?: string | null;
  avatarUrl?: string | null;
  metadata?: Record<string, unknown> | null;
}

export function gravatarUrl(normalizedEmail: string): string {
  const hash = createHash("sha256").update(normalizedEmail).digest("hex");
  return `https://gravatar.com/avatar/${hash}?d=identicon`;
}

export function toUserType(user: UserEntity): UserType {
  return {
    id: user.id,
    externalId: user.externalId,
    email: user.email,
    name: user.name,
    avatarUrl: user.avatarUrl ?? (user.emailNormalized ? gravatarUrl(user.emailNormalized) : null),
    metadata: user.metadata ?? {},
    isGuest: user.isGuest,
    createdAt: user.createdAt,
    updatedAt: user.updatedAt,
  };
}

/** Validates a profile from input or a credential; `prefix` names fields in errors. */
export function validateProfile(input: UpsertUserInput | UserProfile, prefix = "") {
  const externalId = v.requiredText(`${prefix}externalId`, input.externalId, 255);
  const email = input.email === undefined ? undefined : v.optionalEmail(`${prefix}email`, input.email);
  const name = input.name === undefined ? undefined : v.optionalText(`${prefix}name`, input.name);
  const avatarUrl =
    input.avatarUrl === undefined || input.avatarUrl === null ? input.avatarUrl : v.httpUrl(`${prefix}avatarUrl`, input.avatarUrl);
  const metadata = input.metadata === undefined ? undefined : v.metadata(`${prefix}metadata`, input.metadata);
  return { externalId, email, name, avatarUrl, metadata };
}

export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  async upsert(ctx: RequestContext, input: UpsertUserInput): Promise<UserEntity> {
    const companyId = companyIdOf(ctx);
    const profile = validateProfile(input);
    return this.deps.dataSource.transaction((manager) => this.upsertInTransaction(manager, companyId, profile));
  }

  /**
   * Creates or refreshes the user with this external id. A new user takes a seat through one
   * conditional UPDATE of the company's counter, so the limit holds under concurrent creations.
   */
  async upsertInTransaction(
    manager: EntityManager,
    companyId: string,
    profile: ReturnType<typeof validateProfile>,
  ): Promise<UserEntity> {
    const repo = manager.getRepository(UserEntity);
    const patch: Pick<Partial<UserEntity>, "email" | "emailNormalized" | "name" | "avatarUrl" | "metadata"> = {};
    if (profile.email !== undefined) {
      patch.email = profile.email?.email ?? null;
      patch.emailNormalized = profile.email?.normalized ?? null;
    }
    if (profile.name !== undefined) patch.name = profile.name;
    if (profile.avatarUrl !== undefined) patch.avatarUrl = profile.avatarUrl;
    if (profile.metadata !== undefined) patch.metadata = profile.metadata ?? {};

    const byExternalId = { companyId, externalId: profile.externalId };
    const refresh = async (user: UserEntity) => {
      // Most joins present the same profile again: then there is nothing to write.
      const changed = (Object.keys(patch) as (keyof typeof patch)[]).some((k) => !isDeepStrictEqual(user[k], patch[k]));
      if (!changed) return user;
      await repo.update({ id: user.id }, patch as QueryDeepPartialEntity<UserEntity>);
      return repo.findOneByOrFail({ id: user.id });
    };

    const existing = await repo.findOneBy(byExternalId);
    if (existing) return refresh(existing);
    if (!(await this.takeSeat(manager, companyId))) {
      // A concurrent creator of this same user may have taken the last seat meanwhile: the
      // seat UPDATE waited for its commit, and this new statement sees its row.
      const createdMeanwhile = await repo.findOneBy(byExternalId);
      if (createdMeanwhile) return refresh(createdMeanwhile);
      throw new AppError("SEAT_LIMIT_REACHED", "The company has used every seat of its seat limit; raise seatLimit to add users.");
    }
    try {
      // A savepoint, so that losing the race to a concurrent creator leaves the transaction usable.
      return await manager.transaction(async (inner) => {
        const created = inner.create(UserEntity, { ...byExternalId, metadata: {}, ...patch });
        return inner.save(created);
      });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      await this.releaseSeat(manager, companyId);
      return refresh(await repo.findOneByOrFail(byExternalId));
    }
  }

  /** Takes a seat with one conditional UPDATE; false when the limit is reached. */
  private async takeSeat(manager: EntityManager, companyId: string): Promise<boolean> {
    const result = await manager
      .createQueryBuilder()
      .update(CompanyEntity)
      .set({ seatsUsed: () => "seats_used + 1" })
      .where("id = :companyId AND (seat_limit IS NULL OR seats_used < seat_limit)", { companyId })
      .execute();
    return Boolean(result.affected);
  }

  private async releaseSeat(manager: EntityManager, companyId: string): Promise<void> {
    await manager
      .createQueryBuilder()
      .update(CompanyEntity)
      .set({ seatsUsed: () => "seats_used - 1" })
      .where("id = :companyId", { companyId })
      .execute();
  }

  /** user(id | externalId | email): exactly one must be given. */
  async findOne(ctx: RequestContext, by: { id?: string | null; externalId?: string | null; email?: string | null }) {
    const companyId = companyIdOf(ctx);
    const given = (["id", "externalId", "email"] as const).filter((k) => by[k] !== undefined && by[k] !== null);
    if (given.length !== 1) throw badInput(given[1] ?? "id", "Give exactly one of id, externalId and email.");
    const repo = this.deps.dataSource.getRepository(UserEntity);
    // Branch on which one was given, not on truthiness: an empty id must not fall through to email.
    if (given[0] === "id") return v.isUuid(by.id!) ? repo.findOneBy({ id: by.id!, companyId }) : null;
    if (given[0] === "externalId") return repo.findOneBy({ externalId: by.externalId!, companyId });
    const { normalized } = v.normalizeEmail("email", by.email!);
    return repo.findOne({ where: { emailNormalized: normalized, companyId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  async list(ctx: RequestContext, first: number | null | undefined, after: string | null | undefined, search?: string | null) {
    const companyId = companyIdOf(ctx);
    const limit = pageSize(first);
    const cursor = decodeCreatedAtCursor(after);
    const qb = this.deps.dataSource
      .getRepository(UserEntity)
      .createQueryBuilder("u")
      .where("u.company_id = :companyId", { companyId })
      .orderBy("u.created_at", "ASC")
      .addOrderBy("u.id", "ASC")
      .take(limit + 1);
    if (cursor) qb.andWhere("(u.created_at, u.id) > (:cAt, :cId)", { cAt: cursor.createdAt, cId: cursor.id });
    const term = search?.trim();
    if (term) {
      if (term.length > 200) throw badInput("search", "search must be at most 200 characters.");
      // The term is a bound parameter; LIKE's own wildcards in it are escaped so they match literally.
      const pattern = `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.andWhere("(u.name ILIKE :pattern OR u.email_normalized ILIKE :pattern OR u.external_id ILIKE :pattern)", { pattern });
    }
    const rows = await qb.getMany();
    return toConnection(rows, limit, createdAtCursorOf, toUserType) as unknown as UserConnection;
  }
}
