import { defaultFieldResolver, GraphQLFieldResolver, GraphQLResolveInfo, GraphQLSchema, isObjectType } from "graphql";
import { Extensions } from "type-graphql";
import { organizerCompany } from "./auth-checker";
import { companyIdOf, type RequestContext } from "./context";
import { AppError, isAppError } from "../errors";

/**
 * Who may read a field: one rule per field, declared on the field with `@Access(rule)` and
 * enforced for every field of the schema by {@link applyAccessRules}. Every field of every type
 * that a caller without an API key can reach carries one (test/foundation/public-fields.test.ts
 * holds the written list); a field without one answers API keys and the platform admin key only.
 *
 * - `public`: whoever received the object: the field that returned it already decided (a page of
 *   a list, the answer to a token the caller presented). On Query and Mutation: an operation
 *   callable without an API key, which checks the credential it is given itself.
 * - `self`: the caller's own: the session, user or knock that a credential of this request
 *   resolved to (joinEvent, heartbeat, leaveEvent, requestToJoin, joinRequest with its secret,
 *   a session token as bearer); or organizer-or-key of the object's event.
 * - `participant`: the public face of an event the caller is in (a session of this request in
 *   it, whatever its state or role); or organizer-or-key.
 * - `organizer-or-key`: an API key of the object's company, or an ORGANIZER session of the
 *   object's event: a live session of this request whose role is ORGANIZER (as joinEvent or
 *   heartbeat resolved it just now), or a session token as bearer whose user is an organizer of
 *   that event now (checked once per request).
 * - `key`: an API key of the object's company.
 *
 * - A report link's token as bearer passes every rule but `key` for the objects of its one event
 *   (an organizer's reading), and none for anything else.
 *
 * An API key passes every rule for its own company's objects and none for another company's.
 * A refused field is a FORBIDDEN error (UNAUTHENTICATED when it needs a key and none was sent):
 * GraphQL puts null in its place, and a non-null field's null reaches its nearest nullable parent.
 * One answer for every kind of field: a null alone would read as "none" (no organizers, no limit).
 */
export const ACCESS_RULES = ["public", "self", "participant", "organizer-or-key", "key"] as const;
export type AccessRule = (typeof ACCESS_RULES)[number];

/** What an object belongs to, for the rules: its company, its event, and who it is "self" to. */
export interface Owner {
  companyId: string;
  /** The event whose organizers and participants the rules admit; null for a user. */
  eventId: string | null;
  sessionId?: string;
  userId?: string;
  joinRequestId?: string;
}

/** A credential this request presented, as the operation that verified it resolved it. */
export interface Grant {
  companyId: string;
  eventId: string;
  sessionId?: string;
  userId?: string;
  joinRequestId?: string;
  /** A live session whose role is ORGANIZER, as resolved by the operation. */
  organizer: boolean;
}

/** Per request: the grants the keyless operations made, and the bearer's organizer check. */
export interface AccessState {
  grants: Grant[];
  bearerIsOrganizer: Promise<boolean> | null;
}

export const newAccessState = (): AccessState => ({ grants: [], bearerIsOrganizer: null });

/**
 * Who may open an event's analytics (eventAnalytics): an API key with READ_ANALYTICS, or the token
 * of a report link made for that event. Returns the company to read it in; past this, the field
 * rules of EventAnalytics and what it leads to decide as for any object.
 * @throws AppError UNAUTHENTICATED or FORBIDDEN.
 */
export function analyticsReaderCompany(ctx: RequestContext, eventId: string): string {
  const principal = ctx.principal;
  if (principal.kind === "report") {
    if (principal.eventId !== eventId) throw new AppError("FORBIDDEN", "This report link is for another event.");
    return principal.companyId;
  }
  if (principal.kind === "apiKey" && !principal.scopes.includes("READ_ANALYTICS")) {
    throw new AppError("FORBIDDEN", "This API key lacks the scope READ_ANALYTICS.");
  }
  return companyIdOf(ctx);
}

/** Declares who may read this field (see {@link AccessRule}). */
export function Access(rule: AccessRule): MethodDecorator & PropertyDecorator {
  return Extensions({ access: rule });
}

/** Declares what an object type belongs to, for the rules of its fields. */
export function AccessOwner<T>(ownerOf: (root: T) => Owner): ClassDecorator {
  return Extensions({ accessOwner: ownerOf });
}

/** The session a credential of this request resolved to: its own fields and its event become readable. */
export function grantSession(
  ctx: RequestContext,
  session: { id: string; companyId: string; eventId: string; userId: string },
  liveOrganizer: boolean,
): void {
  ctx.access.grants.push({ companyId: session.companyId, eventId: session.eventId, sessionId: session.id, userId: session.userId, organizer: liveOrganizer });
}

/** The knock a requester's secret (or a new knock) resolved to. */
export function grantJoinRequest(ctx: RequestContext, request: { id: string; companyId: string; eventId: string }): void {
  ctx.access.grants.push({ companyId: request.companyId, eventId: request.eventId, joinRequestId: request.id, organizer: false });
}

/** An operation has just verified that the bearer is a live organizer of its event: no second check. */
export function noteBearerIsOrganizer(ctx: RequestContext): void {
  ctx.access.bearerIsOrganizer = Promise.resolve(true);
}

type OwnerOf = (root: unknown) => Owner;
type Resolver = GraphQLFieldResolver<unknown, RequestContext>;

/**
 * Wraps every field's resolver with its rule, once, after the schema is built. Root fields are
 * left to their operations (`@Authorized`, or the credential check of a keyless operation).
 * Decisions that need no database stay synchronous: no promise per field of a long list.
 */
export function applyAccessRules(schema: GraphQLSchema): void {
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(Boolean));
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith("__") || roots.has(type)) continue;
    const ownerOf = type.extensions.accessOwner as OwnerOf | undefined;
    for (const field of Object.values(type.getFields())) {
      const rule = field.extensions.access as AccessRule | undefined;
      if (rule === "public") continue;
      const resolve: Resolver = field.resolve ?? defaultFieldResolver;
      if (rule === undefined) {
        field.resolve = keysOnly(resolve);
        continue;
      }
      if (!ACCESS_RULES.includes(rule)) throw new Error(`${type.name}.${field.name}: unknown access rule "${String(rule)}".`);
      if (!ownerOf) throw new Error(`${type.name}.${field.name} has the access rule "${rule}", but ${type.name} declares no @AccessOwner.`);
      field.resolve = guarded(rule, ownerOf, resolve);
    }
  }
}

/** A field without a rule: never reached by a caller without a key (the allow-list test sees to it); refused if it is. */
function keysOnly(resolve: Resolver): Resolver {
  return (root, args, ctx, info) => {
    const kind = ctx.principal.kind;
    if (kind === "apiKey" || kind === "platformAdmin") return resolve(root, args, ctx, info);
    throw new AppError("FORBIDDEN", `${where(info)} is readable with an API key only.`);
  };
}

function guarded(rule: Exclude<AccessRule, "public">, ownerOf: OwnerOf, resolve: Resolver): Resolver {
  return (root, args, ctx, info) => {
    const verdict = decide(ctx, rule, ownerOf(root));
    if (verdict === true) return resolve(root, args, ctx, info);
    if (verdict === false) throw refusal(ctx, rule, info);
    return verdict.then((allowed) => {
      if (!allowed) throw refusal(ctx, rule, info);
      return resolve(root, args, ctx, info);
    });
  };
}

function decide(ctx: RequestContext, rule: Exclude<AccessRule, "public">, owner: Owner): boolean | Promise<boolean> {
  const principal = ctx.principal;
  if (principal.kind === "apiKey") return principal.companyId === owner.companyId;
  if (rule === "key") return false;
  // A report link reads what an organizer of its event reads, and nothing of any other event.
  if (principal.kind === "report") return principal.companyId === owner.companyId && owner.eventId !== null && owner.eventId === principal.eventId;
  const grants = ctx.access.grants.filter((g) => g.companyId === owner.companyId);
  const bearer = principal.kind === "session" && principal.companyId === owner.companyId ? principal : null;
  if (rule === "self") {
    const own = (g: { sessionId?: string; userId?: string; joinRequestId?: string }) =>
      (owner.sessionId !== undefined && g.sessionId === owner.sessionId) ||
      (owner.userId !== undefined && g.userId === owner.userId) ||
      (owner.joinRequestId !== undefined && g.joinRequestId === owner.joinRequestId);
    if (grants.some(own) || (bearer && own(bearer))) return true;
  }
  if (owner.eventId === null) return false;
  if (rule === "participant" && (grants.some((g) => g.eventId === owner.eventId) || bearer?.eventId === owner.eventId)) return true;
  if (grants.some((g) => g.organizer && g.eventId === owner.eventId)) return true;
  if (bearer?.eventId === owner.eventId) return bearerIsOrganizer(ctx);
  return false;
}

/** Whether the session token as bearer is a live ORGANIZER of its event now: asked once per request. */
function bearerIsOrganizer(ctx: RequestContext): Promise<boolean> {
  ctx.access.bearerIsOrganizer ??= organizerCompany(ctx).then(
    () => true,
    (error: unknown) => {
      if (isAppError(error) && error.code === "FORBIDDEN") return false;
      throw error;
    },
  );
  return ctx.access.bearerIsOrganizer;
}

const where = (info: GraphQLResolveInfo): string => `${info.parentType.name}.${info.fieldName}`;

const REFUSALS: Record<Exclude<AccessRule, "public">, string> = {
  self: "is shown only to the person it is about, the event's organizers and the company's API key",
  participant: "is shown only to people in the event, its organizers and the company's API key",
  "organizer-or-key": "is shown only to the event's organizers (an ORGANIZER session of the event) and the company's API key",
  key: "needs an API key of the company it belongs to",
};

function refusal(ctx: RequestContext, rule: Exclude<AccessRule, "public">, info: GraphQLResolveInfo): AppError {
  const keyless = ctx.principal.kind === "anonymous" || ctx.principal.kind === "invalid";
  if (rule === "key" && keyless) return new AppError("UNAUTHENTICATED", `${where(info)} ${REFUSALS.key} (Authorization: Bearer adm_…).`);
  return new AppError("FORBIDDEN", `${where(info)} ${REFUSALS[rule]}.`);
}
