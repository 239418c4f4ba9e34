import { createRemoteJWKSet, jwtVerify } from "jose";
import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent } from "../support/factories";
import { addPrincipals, beat, decodePart, mint, join, updateSettings } from "./join-helpers";

/** A media server's check, as README "Enforcing roles in your media server" shows it, against the running app. */
const t = useTestApp();

const SETTINGS = `{ company { settings { sessionTokenAudience rolePermissions { role permissions } } } }`;
const UPDATE = `mutation($input: UpdateCompanySettingsInput!) {
  updateCompanySettings(input: $input) { settings { sessionTokenAudience rolePermissions { role permissions } } }
}`;

/** The README's lines: verify with the company's JWKS, pin issuer and audience, read the grants. */
async function mediaServerCheck(jwksUrl: string, issuer: string, audience: string, sessionToken: string) {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload } = await jwtVerify(sessionToken, jwks, {
    issuer,
    audience,
    typ: "session+jwt",
    currentDate: t.clock.now(),
  });
  const permissions = payload.permissions as string[];
  return {
    role: payload.role as string,
    permissions,
    mayPublish: permissions.includes("publish"),
    event: payload.evt,
    user: payload.uid,
  };
}

describe("session tokens a media server can enforce", () => {
  it("carry role and default permissions, verify with the JWKS under the issuer as audience, and follow a role change on heartbeat", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const issuer = `http://admit.test/c/${company.slug}`;
    const jwksUrl = `${t.url}/c/${company.slug}/.well-known/jwks.json`;
    const settings = ok(await t.gql(SETTINGS, {}, { key: company.key })).company.settings;
    expect(settings.sessionTokenAudience).toBe(issuer);
    expect(settings.rolePermissions).toEqual([
      { role: "ATTENDEE", permissions: ["view"] },
      { role: "PRESENTER", permissions: ["view", "publish", "screenshare"] },
      { role: "ORGANIZER", permissions: ["view", "publish", "screenshare", "moderate", "record"] },
    ]);

    const joined = await join(
      t,
      event.id,
      (await mint(t, company, { eventId: event.id, user: { id: "viewer-1" } })).token,
    );
    const asAttendee = await mediaServerCheck(jwksUrl, issuer, issuer, joined.sessionToken);
    expect(asAttendee).toEqual({
      role: "ATTENDEE",
      permissions: ["view"],
      mayPublish: false,
      event: event.id,
      user: joined.session.userId,
    });

    // Promoted while in the room: the next heartbeat's token carries the new role.
    await addPrincipals(t, company, event.id, "PRESENTER", [{ userId: "viewer-1" }]);
    t.clock.advance(5);
    const refreshed = await beat(t, joined.sessionToken);
    expect(refreshed.role).toBe("PRESENTER");
    const asPresenter = await mediaServerCheck(jwksUrl, issuer, issuer, refreshed.sessionToken!);
    expect(asPresenter).toMatchObject({
      role: "PRESENTER",
      permissions: ["view", "publish", "screenshare"],
      mayPublish: true,
    });
    // The old token still says what it said: stale until it expires (10 minutes at most).
    expect(decodePart(joined.sessionToken, 1).role).toBe("ATTENDEE");
  });

  it("uses the company's rolePermissions and sessionTokenAudience, which a media server pins", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const issuer = `http://admit.test/c/${company.slug}`;
    const updated = ok(
      await t.gql(
        UPDATE,
        {
          input: {
            sessionTokenAudience: "urn:sfu:eu-1",
            rolePermissions: [{ role: "ATTENDEE", permissions: ["view", "chat"] }],
          },
        },
        { key: company.key },
      ),
    ).updateCompanySettings.settings;
    expect(updated.sessionTokenAudience).toBe("urn:sfu:eu-1");
    expect(updated.rolePermissions[0]).toEqual({ role: "ATTENDEE", permissions: ["view", "chat"] });
    expect(updated.rolePermissions[1].permissions).toEqual(["view", "publish", "screenshare"]);

    const joined = await join(t, event.id, (await mint(t, company, { eventId: event.id, user: { id: "u-2" } })).token);
    const jwksUrl = `${t.url}/c/${company.slug}/.well-known/jwks.json`;
    expect(await mediaServerCheck(jwksUrl, issuer, "urn:sfu:eu-1", joined.sessionToken)).toMatchObject({
      role: "ATTENDEE",
      permissions: ["view", "chat"],
    });
    // A server pinned to another audience refuses it.
    await expect(mediaServerCheck(jwksUrl, issuer, issuer, joined.sessionToken)).rejects.toMatchObject({
      code: "ERR_JWT_CLAIM_VALIDATION_FAILED",
    });
    // Admit itself still takes it for heartbeats.
    expect((await beat(t, joined.sessionToken)).active).toBe(true);

    // null restores the default.
    await updateSettings(t, company, { sessionTokenAudience: null });
    expect(ok(await t.gql(SETTINGS, {}, { key: company.key })).company.settings.sessionTokenAudience).toBe(issuer);
  });

  it.each([
    ["an unknown permission shape", [{ role: "ATTENDEE", permissions: ["View All"] }]],
    ["a permission too long", [{ role: "ATTENDEE", permissions: ["v".repeat(41)] }]],
    [
      "a role named twice",
      [
        { role: "ATTENDEE", permissions: ["view"] },
        { role: "ATTENDEE", permissions: ["chat"] },
      ],
    ],
  ])("refuses %s and changes nothing", async (_what, rolePermissions) => {
    const company = await makeCompany(t);
    const res = await t.gql(UPDATE, { input: { rolePermissions } }, { key: company.key });
    expect(res.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "rolePermissions" });
    expect(ok(await t.gql(SETTINGS, {}, { key: company.key })).company.settings.rolePermissions[0].permissions).toEqual(
      ["view"],
    );
  });

  it("refuses an unknown role and an audience with spaces", async () => {
    const company = await makeCompany(t);
    expect(
      codeOf(
        await t.gql(UPDATE, { input: { rolePermissions: [{ role: "OWNER", permissions: [] }] } }, { key: company.key }),
      ),
    ).toBe("BAD_USER_INPUT");
    const res = await t.gql(UPDATE, { input: { sessionTokenAudience: "my sfu" } }, { key: company.key });
    expect(res.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field: "sessionTokenAudience" });
  });
});
