import "reflect-metadata";
import { Role } from "../../src/graphql/enums";
import type { EventPrincipalEntity } from "../../src/modules/event/event-principal.entity";
import { normalizeGrant, resolveRole, roleFromLists, RoleSource } from "../../src/modules/session/role";
import {
  DEFAULT_ROLE_PERMISSIONS,
  mergeRolePermissions,
  permissionsOf,
  rolePermissionsTable,
} from "../../src/modules/session/role-permissions";

/** A participant's live role and what it may do, case by case, without a database. */

describe("normalizeGrant: a credential's role claim", () => {
  it.each<[string | null | undefined, Role | null]>([
    [null, null],
    [undefined, null],
    ["", null],
    ["admin", Role.ORGANIZER],
    ["Owner", Role.ORGANIZER],
    ["ORGANIZER", Role.ORGANIZER],
    ["presenter", Role.PRESENTER],
    ["Attendee", Role.ATTENDEE],
    ["moderator", null],
    ["organiser", null],
  ])("%j → %s", (grant, role) => {
    expect(normalizeGrant(grant)).toBe(role);
  });
});

describe("roleFromLists: the highest of the default, the grant and the lists", () => {
  it.each<[string, string[], Role | null, Role, RoleSource]>([
    ["nobody special", [], null, Role.ATTENDEE, RoleSource.DEFAULT],
    ["an attendee grant", [], Role.ATTENDEE, Role.ATTENDEE, RoleSource.TOKEN_GRANT],
    ["a presenter grant", [], Role.PRESENTER, Role.PRESENTER, RoleSource.TOKEN_GRANT],
    ["an organizer grant", [], Role.ORGANIZER, Role.ORGANIZER, RoleSource.TOKEN_GRANT],
    ["on the presenter list", ["PRESENTER"], null, Role.PRESENTER, RoleSource.PRESENTER_LIST],
    ["on the organizer list", ["ORGANIZER"], null, Role.ORGANIZER, RoleSource.ORGANIZER_LIST],
    ["on both lists", ["PRESENTER", "ORGANIZER"], null, Role.ORGANIZER, RoleSource.ORGANIZER_LIST],
    [
      "listed and granted the same role: the list is named",
      ["PRESENTER"],
      Role.PRESENTER,
      Role.PRESENTER,
      RoleSource.PRESENTER_LIST,
    ],
    [
      "organizer list and organizer grant: the list is named",
      ["ORGANIZER"],
      Role.ORGANIZER,
      Role.ORGANIZER,
      RoleSource.ORGANIZER_LIST,
    ],
    ["a grant above the list", ["PRESENTER"], Role.ORGANIZER, Role.ORGANIZER, RoleSource.TOKEN_GRANT],
    ["a list above the grant", ["ORGANIZER"], Role.PRESENTER, Role.ORGANIZER, RoleSource.ORGANIZER_LIST],
    ["a grant never lowers a list", ["PRESENTER"], Role.ATTENDEE, Role.PRESENTER, RoleSource.PRESENTER_LIST],
    ["list entries of other kinds count for nothing", ["ATTENDEE", "GUEST"], null, Role.ATTENDEE, RoleSource.DEFAULT],
  ])("%s", (_name, lists, grant, role, source) => {
    expect(roleFromLists(lists, grant)).toEqual({ role, source });
  });
});

describe("resolveRole: which list entries name the subject", () => {
  const entry = (role: string, userExternalId: string | null, email: string | null) =>
    ({ role, userExternalId, email }) as EventPrincipalEntity;
  const LISTS = [
    entry("PRESENTER", "u-1", null),
    entry("ORGANIZER", null, "boss@example.test"),
    entry("ORGANIZER", "u-9", null),
  ];

  it.each<[string, { externalId: string | null; emailNormalized: string | null }, Role | null, Role, RoleSource]>([
    ["by external id", { externalId: "u-1", emailNormalized: null }, null, Role.PRESENTER, RoleSource.PRESENTER_LIST],
    [
      "by email",
      { externalId: null, emailNormalized: "boss@example.test" },
      null,
      Role.ORGANIZER,
      RoleSource.ORGANIZER_LIST,
    ],
    [
      "by either: the higher list wins",
      { externalId: "u-1", emailNormalized: "boss@example.test" },
      null,
      Role.ORGANIZER,
      RoleSource.ORGANIZER_LIST,
    ],
    [
      "someone else's entries do not count",
      { externalId: "u-2", emailNormalized: "other@example.test" },
      null,
      Role.ATTENDEE,
      RoleSource.DEFAULT,
    ],
    [
      "a subject without id or email matches no entry without one",
      { externalId: null, emailNormalized: null },
      null,
      Role.ATTENDEE,
      RoleSource.DEFAULT,
    ],
    [
      "emails match as stored (the caller lower-cases)",
      { externalId: null, emailNormalized: "Boss@example.test" },
      null,
      Role.ATTENDEE,
      RoleSource.DEFAULT,
    ],
    [
      "the grant still counts",
      { externalId: "u-2", emailNormalized: null },
      Role.PRESENTER,
      Role.PRESENTER,
      RoleSource.TOKEN_GRANT,
    ],
  ])("%s", (_name, subject, grant, role, source) => {
    expect(resolveRole(LISTS, subject, grant)).toEqual({ role, source });
  });

  it("no lists: the grant or ATTENDEE", () => {
    expect(resolveRole([], { externalId: "u-1", emailNormalized: null }, null)).toEqual({
      role: Role.ATTENDEE,
      source: RoleSource.DEFAULT,
    });
    expect(resolveRole([], { externalId: "u-1", emailNormalized: null }, Role.ORGANIZER)).toEqual({
      role: Role.ORGANIZER,
      source: RoleSource.TOKEN_GRANT,
    });
  });
});

describe("permissionsOf and rolePermissionsTable: a company's setting over the defaults", () => {
  const setting = { PRESENTER: ["view", "publish"] };

  it.each<[string, Partial<Record<Role, string[]>> | null | undefined, Role, readonly string[]]>([
    ["no setting: the default", null, Role.ORGANIZER, DEFAULT_ROLE_PERMISSIONS.ORGANIZER],
    ["an undefined setting: the default", undefined, Role.ATTENDEE, ["view"]],
    ["a role the setting names: the setting", setting, Role.PRESENTER, ["view", "publish"]],
    ["a role it does not name: the default", setting, Role.ATTENDEE, ["view"]],
    ["a role set to nothing carries nothing", { ATTENDEE: [] }, Role.ATTENDEE, []],
  ])("%s", (_name, current, role, permissions) => {
    expect(permissionsOf(current, role)).toEqual(permissions);
  });

  it("the table lists every role, in rank order, as copies", () => {
    const table = rolePermissionsTable(setting);
    expect(table).toEqual([
      { role: Role.ATTENDEE, permissions: ["view"] },
      { role: Role.PRESENTER, permissions: ["view", "publish"] },
      { role: Role.ORGANIZER, permissions: ["view", "publish", "screenshare", "moderate", "record"] },
    ]);
    table[0].permissions.push("changed");
    expect(DEFAULT_ROLE_PERMISSIONS.ATTENDEE).toEqual(["view"]);
  });
});

describe("mergeRolePermissions: updateCompanySettings' rolePermissions", () => {
  it("replaces each role it names, keeps the others, and drops repeated permissions", () => {
    const current = { ATTENDEE: ["view", "chat"], PRESENTER: ["view"] };
    expect(mergeRolePermissions(current, [{ role: "PRESENTER", permissions: ["view", "publish", "view"] }])).toEqual({
      ATTENDEE: ["view", "chat"],
      PRESENTER: ["view", "publish"],
    });
    expect(current.PRESENTER).toEqual(["view"]);
  });

  it.each<[string, { role: string; permissions: string[] }[]]>([
    ["the empty list of a role", [{ role: "ATTENDEE", permissions: [] }]],
    ["every allowed character", [{ role: "ORGANIZER", permissions: ["a", "room.mute:all_users-1"] }]],
    ["40 characters", [{ role: "ORGANIZER", permissions: [`p${"x".repeat(39)}`] }]],
    ["20 permissions", [{ role: "ORGANIZER", permissions: Array.from({ length: 20 }, (_, i) => `p${i}`) }]],
  ])("accepts %s", (_name, input) => {
    expect(() => mergeRolePermissions(null, input)).not.toThrow();
  });

  it.each<[string, { role: string; permissions: unknown[] }[]]>([
    ["an unknown role", [{ role: "GUEST", permissions: ["view"] }]],
    ["a role in lower case", [{ role: "presenter", permissions: ["view"] }]],
    [
      "a role named twice",
      [
        { role: "PRESENTER", permissions: ["view"] },
        { role: "PRESENTER", permissions: ["publish"] },
      ],
    ],
    ["21 permissions", [{ role: "ORGANIZER", permissions: Array.from({ length: 21 }, (_, i) => `p${i}`) }]],
    ["41 characters", [{ role: "ORGANIZER", permissions: [`p${"x".repeat(40)}`] }]],
    ["an empty permission", [{ role: "ORGANIZER", permissions: [""] }]],
    ["upper case", [{ role: "ORGANIZER", permissions: ["View"] }]],
    ["a leading digit", [{ role: "ORGANIZER", permissions: ["1view"] }]],
    ["a space", [{ role: "ORGANIZER", permissions: ["screen share"] }]],
    ["a slash", [{ role: "ORGANIZER", permissions: ["rooms/mute"] }]],
    ["not a string", [{ role: "ORGANIZER", permissions: [42] }]],
  ])("refuses %s with BAD_USER_INPUT on rolePermissions", (_name, input) => {
    expect(() => mergeRolePermissions(null, input as { role: string; permissions: string[] }[])).toThrow(
      expect.objectContaining({ code: "BAD_USER_INPUT", field: "rolePermissions" }),
    );
  });
});
