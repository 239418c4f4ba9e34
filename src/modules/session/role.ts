import { Role, ROLE_RANK } from "../../graphql/enums";
import type { EventPrincipalEntity } from "../event/event-principal.entity";

export enum RoleSource {
  DEFAULT = "DEFAULT",
  TOKEN_GRANT = "TOKEN_GRANT",
  PRESENTER_LIST = "PRESENTER_LIST",
  ORGANIZER_LIST = "ORGANIZER_LIST",
}

export interface RoleResolution {
  role: Role;
  source: RoleSource;
}

/** Who is asking: the company's external id and/or a lower-cased email. */
export interface RoleSubject {
  externalId: string | null;
  emailNormalized: string | null;
}

/** A user as the event's lists name people: by external id and normalized email. */
export function subjectOf(user: RoleSubject): RoleSubject {
  return { externalId: user.externalId, emailNormalized: user.emailNormalized };
}

/** A credential's admin/owner grant becomes ORGANIZER. */
export function normalizeGrant(grant: string | null | undefined): Role | null {
  if (!grant) return null;
  const upper = grant.toUpperCase();
  if (upper === "ADMIN" || upper === "OWNER" || upper === "ORGANIZER") return Role.ORGANIZER;
  if (upper === "PRESENTER") return Role.PRESENTER;
  if (upper === "ATTENDEE") return Role.ATTENDEE;
  return null;
}

/**
 * The role at this moment (F9): ORGANIZER if listed as organizer or granted; else PRESENTER if
 * listed or granted; else ATTENDEE. A list match is named as the source over an equal grant.
 */
export function resolveRole(
  principals: EventPrincipalEntity[],
  subject: RoleSubject,
  grant: Role | null,
): RoleResolution {
  const listedRoles = principals
    .filter(
      (p) =>
        (p.userExternalId !== null && subject.externalId !== null && p.userExternalId === subject.externalId) ||
        (p.email !== null && subject.emailNormalized !== null && p.email === subject.emailNormalized),
    )
    .map((p) => p.role);
  return roleFromLists(listedRoles, grant);
}

/** The same decision from the list roles that already match the subject (heartbeat asks SQL for them). */
export function roleFromLists(listedRoles: readonly string[], grant: Role | null): RoleResolution {
  const candidates: RoleResolution[] = [{ role: Role.ATTENDEE, source: RoleSource.DEFAULT }];
  if (grant) candidates.push({ role: grant, source: RoleSource.TOKEN_GRANT });
  if (listedRoles.includes("PRESENTER")) candidates.push({ role: Role.PRESENTER, source: RoleSource.PRESENTER_LIST });
  if (listedRoles.includes("ORGANIZER")) candidates.push({ role: Role.ORGANIZER, source: RoleSource.ORGANIZER_LIST });
  // Later candidates win ties, so a list beats an equal grant.
  return candidates.reduce((best, c) => (ROLE_RANK[c.role] >= ROLE_RANK[best.role] ? c : best));
}
