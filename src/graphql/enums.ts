import { registerEnumType } from "type-graphql";

/** Enums shared by several domains, named as the API contract (schema.graphql) names them. */

/** A GraphQL enum object from a list of string literals (the entities own the lists). */
export function literalEnum<const T extends readonly string[]>(values: T): { [K in T[number]]: K } {
  return Object.fromEntries(values.map((value) => [value, value])) as { [K in T[number]]: K };
}

export enum Role {
  ATTENDEE = "ATTENDEE",
  PRESENTER = "PRESENTER",
  ORGANIZER = "ORGANIZER",
}
registerEnumType(Role, { name: "Role", description: "A participant's role in an event, resolved live." });

/** Higher wins when several sources grant a role. */
export const ROLE_RANK: Record<Role, number> = { ATTENDEE: 0, PRESENTER: 1, ORGANIZER: 2 };

export enum EventPrivacy {
  PUBLIC = "PUBLIC",
  PRIVATE = "PRIVATE",
}
registerEnumType(EventPrivacy, {
  name: "EventPrivacy",
  description: "PUBLIC admits anyone with a display name; PRIVATE needs a credential.",
});

export enum SessionPolicy {
  REPLACE_OLDEST = "REPLACE_OLDEST",
  REJECT_NEW = "REJECT_NEW",
}
registerEnumType(SessionPolicy, {
  name: "SessionPolicy",
  description: "What a join does when the user already has maxSessionsPerUser live sessions in the event.",
  valuesConfig: {
    REPLACE_OLDEST: { description: "The oldest live session ends as SUPERSEDED." },
    REJECT_NEW: { description: "The new join fails with ALREADY_IN_SESSION." },
  },
});

export enum EventStatus {
  SCHEDULED = "SCHEDULED",
  LIVE = "LIVE",
  ENDED = "ENDED",
}
registerEnumType(EventStatus, {
  name: "EventStatus",
  description: "SCHEDULED before startsAt, ENDED after endsAt or endEvent, LIVE in between.",
});
