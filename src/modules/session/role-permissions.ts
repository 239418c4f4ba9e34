import { Role } from "../../graphql/enums";
import { badInput } from "../../errors";

/** What each role may do in a media server, unless the company says otherwise (rolePermissions). */
export const DEFAULT_ROLE_PERMISSIONS: Readonly<Record<Role, readonly string[]>> = Object.freeze({
  ATTENDEE: Object.freeze(["view"]),
  PRESENTER: Object.freeze(["view", "publish", "screenshare"]),
  ORGANIZER: Object.freeze(["view", "publish", "screenshare", "moderate", "record"]),
});

/** A company's stored setting: only the roles it changed; the others keep the defaults. */
export type RolePermissionsSetting = Partial<Record<Role, string[]>>;

/**
 * Short and simple, so a media server can compare them as they are: lower-case letters, digits
 * and `_ . : -`, starting with a letter.
 */
const PERMISSION = /^[a-z][a-z0-9_.:-]{0,39}$/;
const MAX_PERMISSIONS_PER_ROLE = 20;

/** The permissions a role carries in session tokens of a company with this setting. */
export function permissionsOf(setting: RolePermissionsSetting | null | undefined, role: Role): readonly string[] {
  return setting?.[role] ?? DEFAULT_ROLE_PERMISSIONS[role];
}

/** The role → permissions table a company shows: every role, its setting or the default. */
export function rolePermissionsTable(
  setting: RolePermissionsSetting | null | undefined,
): { role: Role; permissions: string[] }[] {
  return (Object.keys(DEFAULT_ROLE_PERMISSIONS) as Role[]).map((role) => ({
    role,
    permissions: [...permissionsOf(setting, role)],
  }));
}

/**
 * Validates updateCompanySettings' rolePermissions and merges it over the current setting: each
 * role named is replaced, the others stay. Refuses unknown roles, a role named twice, and
 * permission strings that are not short and simple.
 */
export function mergeRolePermissions(
  current: RolePermissionsSetting | null,
  input: { role: string; permissions: string[] }[],
): RolePermissionsSetting {
  const next: RolePermissionsSetting = { ...(current ?? {}) };
  const seen = new Set<string>();
  for (const entry of input) {
    if (!(entry.role in DEFAULT_ROLE_PERMISSIONS)) throw badInput("rolePermissions", `Unknown role ${entry.role}.`);
    if (seen.has(entry.role)) throw badInput("rolePermissions", `The role ${entry.role} is named twice.`);
    seen.add(entry.role);
    if (entry.permissions.length > MAX_PERMISSIONS_PER_ROLE) {
      throw badInput("rolePermissions", `A role may carry at most ${MAX_PERMISSIONS_PER_ROLE} permissions.`);
    }
    for (const permission of entry.permissions) {
      if (typeof permission !== "string" || !PERMISSION.test(permission)) {
        throw badInput(
          "rolePermissions",
          "A permission is 1 to 40 characters: lower-case letters, digits, '_', '.', ':' or '-', starting with a letter.",
        );
      }
    }
    next[entry.role as Role] = [...new Set(entry.permissions)];
  }
  return next;
}
