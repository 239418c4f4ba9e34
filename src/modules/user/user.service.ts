import { createHash } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { DataSource, EntityManager, IsNull } from "typeorm";
import type { Clock } from "../../clock";
import { companyIdOf, RequestContext } from "../../request-context";
import { AppError, badInput } from "../../errors";
import { createdAtCursorOf, decodeCreatedAtCursor, pageSize, toConnection } from "../../graphql/connection";
import * as v from "../../graphql/validate";
import { UserEntity } from "./user.entity";
import { queryRows } from "../../db/raw";
import { INSERT_USER, UPDATE_USER_PROFILE, USER_BY_EXTERNAL_ID, userOfRow, type UserRow } from "./user.sql";
import type { UpsertUserInput } from "./user.inputs";
import type { UserFilter, UserType } from "./user.types";

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
    companyId: user.companyId,
    externalId: user.externalId,
    email: user.email,
    name: user.name,
    avatarUrl: user.avatarUrl ?? (user.emailNormalized ? gravatarUrl(user.emailNormalized) : null),
    metadata: user.metadata ?? {},
    isGuest: user.isGuest,
    createdVia: user.createdVia,
    suspendedAt: user.suspendedAt,
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
    input.avatarUrl === undefined || input.avatarUrl === null
      ? input.avatarUrl
      : v.httpUrl(`${prefix}avatarUrl`, input.avatarUrl);
  const metadata = input.metadata === undefined ? undefined : v.metadata(`${prefix}metadata`, input.metadata);
  return { externalId, email, name, avatarUrl, metadata };
}

/** The profile columns an upsert writes, in the order of its statements' parameters. */
const USER_FIELDS = ["email", "emailNormalized", "name", "avatarUrl", "metadata"] as const;

/** jsonb parameters go as JSON text, which pg and PGlite both accept. */
const jsonbParam = (value: unknown): unknown =>
  value !== null && typeof value === "object" ? JSON.stringify(value) : value;

/** A user named by an operation: by Admit's id or by the company's own id, exactly one. */
export interface UserRef {
  userId?: string | null;
  externalId?: string | null;
}

const NAME_THE_USER =
  "Name the user by userId (Admit's User.id) or by externalId (your own id for it, as in upsertUser and mintJoinToken).";

/**
 * The Admit id of the caller's company's user `ref` names. An operation that takes a user accepts
 * either id, since integrators hold their own; a miss says which id was looked up and where the
 * other one goes, because "not found" alone does not tell a UUID from an external id.
 */
export async function userIdOfRef(
  manager: DataSource | EntityManager,
  companyId: string,
  ref: UserRef,
): Promise<string> {
  const given = (["userId", "externalId"] as const).filter((k) => ref[k] !== undefined && ref[k] !== null);
  if (given.length !== 1) {
    throw new AppError(
      "BAD_USER_INPUT",
      given.length ? "Give userId or externalId, not both." : "Give userId or externalId.",
      {
        field: given[1] ?? "userId",
        hint: NAME_THE_USER,
      },
    );
  }
  const repo = manager.getRepository(UserEntity);
  if (given[0] === "userId") {
    const user = v.isUuid(ref.userId!)
      ? await repo.findOne({ where: { id: ref.userId!, companyId }, select: { id: true } })
      : null;
    if (user) return user.id;
    throw new AppError("NOT_FOUND", `No user of your company has the Admit id "${ref.userId}".`, {
      hint: v.isUuid(ref.userId!)
        ? NAME_THE_USER
        : "userId is Admit's id (a UUID, User.id); to name the user by your own id, pass it as externalId.",
    });
  }
  const user = await repo.findOne({ where: { externalId: ref.externalId!, companyId }, select: { id: true } });
  if (user) return user.id;
  throw new AppError("NOT_FOUND", `No user of your company has the external id "${ref.externalId}".`, {
    hint: "Create it with upsertUser (or a join) first, or name it by Admit's id as userId.",
  });
}

export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  async upsert(ctx: RequestContext, input: UpsertUserInput): Promise<UserEntity> {
    const companyId = companyIdOf(ctx);
    const profile = validateProfile(input);
    return this.deps.dataSource.transaction((manager) => this.upsertInTransaction(manager, companyId, profile));
  }

  /**
   * Creates or refreshes the user with this external id. A new user takes a seat on one of the
   * company's seat stripes, so the limit holds under concurrent creations.
   */
  async upsertInTransaction(
    manager: EntityManager,
    companyId: string,
    profile: ReturnType<typeof validateProfile>,
  ): Promise<UserEntity> {
    const { user, created } = await this.upsertUncharged(manager, companyId, profile);
    if (created) await this.chargeSeat(manager, companyId);
    return user;
  }

  /**
   * The upsert without the seat: the caller charges a new user's seat with chargeSeat, as late
   * in its transaction as it can, because the seat stripe it takes stays locked until COMMIT.
   */
  async upsertUncharged(
    manager: EntityManager,
    companyId: string,
    profile: ReturnType<typeof validateProfile>,
  ): Promise<{ user: UserEntity; created: boolean }> {
    const patch: Pick<Partial<UserEntity>, "email" | "emailNormalized" | "name" | "avatarUrl" | "metadata"> = {};
    if (profile.email !== undefined) {
      patch.email = profile.email?.email ?? null;
      patch.emailNormalized = profile.email?.normalized ?? null;
    }
    if (profile.name !== undefined) patch.name = profile.name;
    if (profile.avatarUrl !== undefined) patch.avatarUrl = profile.avatarUrl;
    if (profile.metadata !== undefined) patch.metadata = profile.metadata ?? {};

    const refresh = async (user: UserEntity) => {
      // Most joins present the same profile again: then there is nothing to write.
      const changed = (Object.keys(patch) as (keyof typeof patch)[]).some((k) => !isDeepStrictEqual(user[k], patch[k]));
      if (!changed) return { user, created: false };
      const [row] = await queryRows<UserRow>(manager, UPDATE_USER_PROFILE, [
        user.id,
        ...USER_FIELDS.map((k) => (k in patch ? patch[k] : user[k])).map(jsonbParam),
      ]);
      return { user: userOfRow(row), created: false };
    };

    const [existing] = await queryRows<UserRow>(manager, USER_BY_EXTERNAL_ID, [companyId, profile.externalId]);
    if (existing) return refresh(userOfRow(existing));
    // Yields to a concurrent creator of the same user (no row): then that user is the one.
    const [inserted] = await queryRows<UserRow>(manager, INSERT_USER, [
      companyId,
      profile.externalId,
      ...USER_FIELDS.map((k) => (k === "metadata" ? (patch.metadata ?? {}) : (patch[k] ?? null))).map(jsonbParam),
    ]);
    if (inserted) return { user: userOfRow(inserted), created: true };
    const [winner] = await queryRows<UserRow>(manager, USER_BY_EXTERNAL_ID, [companyId, profile.externalId]);
    return refresh(userOfRow(winner));
  }

  /** Takes a seat for a new user, or refuses with SEAT_LIMIT_REACHED (the limit holds under concurrency). */
  async chargeSeat(manager: EntityManager, companyId: string): Promise<void> {
    if (!(await this.takeSeat(manager, companyId))) {
      throw new AppError(
        "SEAT_LIMIT_REACHED",
        "The company has used every seat of its seat limit; raise seatLimit to add users.",
      );
    }
  }

  /** Takes a seat on one of the company's seat stripes (admit_take_seat); false when the limit is reached. */
  private async takeSeat(manager: EntityManager, companyId: string): Promise<boolean> {
    const [row] = await queryRows<{ taken: boolean }>(manager, "SELECT admit_take_seat($1) AS taken", [companyId]);
    return row.taken;
  }

  /** Seats in use: non-guest users the company has created (admit_seats_used). */
  async seatsUsed(companyId: string, manager: EntityManager = this.deps.dataSource.manager): Promise<number> {
    const [row] = await queryRows<{ used: number | null }>(manager, "SELECT admit_seats_used($1) AS used", [companyId]);
    return row?.used ?? 0;
  }

  /** user(id | externalId | email): exactly one must be given. */
  async findOne(ctx: RequestContext, by: { id?: string | null; externalId?: string | null; email?: string | null }) {
    const companyId = companyIdOf(ctx);
    const given = (["id", "externalId", "email"] as const).filter((k) => by[k] !== undefined && by[k] !== null);
    if (given.length !== 1) throw badInput(given[1] ?? "id", "Give exactly one of id, externalId and email.");
    const repo = this.deps.dataSource.getRepository(UserEntity);
    // Branch on which one was given, not on truthiness: an empty id must not fall through to email.
    // A deleted user's anonymous row is for analytics only: no lookup finds it.
    if (given[0] === "id")
      return v.isUuid(by.id!) ? repo.findOneBy({ id: by.id!, companyId, deletedAt: IsNull() }) : null;
    if (given[0] === "externalId") return repo.findOneBy({ externalId: by.externalId!, companyId });
    const { normalized } = v.normalizeEmail("email", by.email!);
    return repo.findOne({ where: { emailNormalized: normalized, companyId }, order: { createdAt: "ASC", id: "ASC" } });
  }

  async list(
    ctx: RequestContext,
    first: number | null | undefined,
    after: string | null | undefined,
    search?: string | null,
    filter?: UserFilter | null,
  ) {
    const companyId = companyIdOf(ctx);
    const limit = pageSize(first);
    const cursor = decodeCreatedAtCursor(after);
    const qb = this.deps.dataSource
      .getRepository(UserEntity)
      .createQueryBuilder("u")
      .where("u.company_id = :companyId", { companyId })
      .andWhere("u.deleted_at IS NULL")
      .orderBy("u.created_at", "ASC")
      .addOrderBy("u.id", "ASC")
      .take(limit + 1);
    if (cursor) qb.andWhere("(u.created_at, u.id) > (:cAt, :cId)", { cAt: cursor.createdAt, cId: cursor.id });
    if (filter?.createdVia) qb.andWhere("u.created_via = :createdVia", { createdVia: filter.createdVia });
    const term = search?.trim();
    if (term) {
      if (term.length > 200) throw badInput("search", "search must be at most 200 characters.");
      // The term is a bound parameter; LIKE's own wildcards in it are escaped so they match literally.
      const pattern = `%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      qb.andWhere("(u.name ILIKE :pattern OR u.email_normalized ILIKE :pattern OR u.external_id ILIKE :pattern)", {
        pattern,
      });
    }
    const rows = await qb.getMany();
    return toConnection(rows, limit, createdAtCursorOf, toUserType);
  }
}
