import { Extensions } from "type-graphql";

/**
 * Who may read a field: one rule per field, declared on the field with `@Access(rule)` and
 * enforced for every field of the schema by `applyAccessRules` (src/graphql/access-guard.ts).
 * Every field of every type that a caller without an API key can reach carries one
 * (test/foundation/public-fields.test.ts holds the written list); a field without one answers API
 * keys and the platform admin key only.
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

/** The part of a request's context the grants below write to. */
interface Granting {
  access: AccessState;
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
  ctx: Granting,
  session: { id: string; companyId: string; eventId: string; userId: string },
  liveOrganizer: boolean,
): void {
  ctx.access.grants.push({
    companyId: session.companyId,
    eventId: session.eventId,
    sessionId: session.id,
    userId: session.userId,
    organizer: liveOrganizer,
  });
}

/** The knock a requester's secret (or a new knock) resolved to. */
export function grantJoinRequest(ctx: Granting, request: { id: string; companyId: string; eventId: string }): void {
  ctx.access.grants.push({
    companyId: request.companyId,
    eventId: request.eventId,
    joinRequestId: request.id,
    organizer: false,
  });
}

/** An operation has just verified that the bearer is a live organizer of its event: no second check. */
export function noteBearerIsOrganizer(ctx: Granting): void {
  ctx.access.bearerIsOrganizer = Promise.resolve(true);
}
