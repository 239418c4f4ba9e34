import { defaultFieldResolver, GraphQLFieldResolver, GraphQLResolveInfo, GraphQLSchema, isObjectType } from "graphql";
import { ACCESS_RULES, type AccessRule, type Owner } from "./access";
import { organizerOf } from "./auth-checker";
import type { RequestContext } from "./context";
import { AppError, isAppError } from "../errors";

// Enforces the field rules that src/graphql/access.ts declares (see AccessRule there). Apart from
// the declarations because it needs the whole GraphQL context (a bearer's organizer check asks
// the session service), which the types that declare rules must not import.

type OwnerOf = (root: unknown) => Owner;
type Resolver = GraphQLFieldResolver<unknown, RequestContext>;

/**
 * Wraps every field's resolver with its rule, once, after the schema is built. Root fields are
 * left to their operations (`@Authorized`, or the credential check of a keyless operation).
 * Decisions that need no database stay synchronous: no promise per field of a long list.
 */
export function applyAccessRules(schema: GraphQLSchema): void {
  const roots = new Set(
    [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()].filter(Boolean),
  );
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
      if (!ACCESS_RULES.includes(rule))
        throw new Error(`${type.name}.${field.name}: unknown access rule "${String(rule)}".`);
      if (!ownerOf)
        throw new Error(
          `${type.name}.${field.name} has the access rule "${rule}", but ${type.name} declares no @AccessOwner.`,
        );
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
  if (principal.kind === "report")
    return principal.companyId === owner.companyId && owner.eventId !== null && owner.eventId === principal.eventId;
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
  if (rule === "participant" && (grants.some((g) => g.eventId === owner.eventId) || bearer?.eventId === owner.eventId))
    return true;
  if (grants.some((g) => g.organizer && g.eventId === owner.eventId)) return true;
  if (bearer?.eventId === owner.eventId) return bearerIsOrganizer(ctx);
  return false;
}

/** Whether the session token as bearer is a live ORGANIZER of its event now: asked once per request. */
function bearerIsOrganizer(ctx: RequestContext): Promise<boolean> {
  ctx.access.bearerIsOrganizer ??= organizerOf(ctx).then(
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
  "organizer-or-key":
    "is shown only to the event's organizers (an ORGANIZER session of the event) and the company's API key",
  key: "needs an API key of the company it belongs to",
};

function refusal(ctx: RequestContext, rule: Exclude<AccessRule, "public">, info: GraphQLResolveInfo): AppError {
  const keyless = ctx.principal.kind === "anonymous" || ctx.principal.kind === "invalid";
  if (rule === "key" && keyless)
    return new AppError("UNAUTHENTICATED", `${where(info)} ${REFUSALS.key} (Authorization: Bearer adm_…).`);
  return new AppError("FORBIDDEN", `${where(info)} ${REFUSALS[rule]}.`);
}
