import { codeOf, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent } from "../support/factories";

const t = useTestApp();

const MINT = `mutation($input: MintJoinTokenInput!) { mintJoinToken(input: $input) { token joinUrl jti expiresAt } }`;
const JOIN = `mutation($input: JoinEventInput!) { joinEvent(input: $input) { role sessionToken sessionTokenExpiresAt session { id active role user { externalId name } event { slug } } } }`;
const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active role endReason sessionToken } }`;

it("mints, joins, heartbeats with a live role change, and supersedes", async () => {
  const company = await makeCompany(t);
  const event = await makeEvent(t, company, { slug: "town-hall" });
  const minted = ok(
    await t.gql(
      MINT,
      { input: { eventId: event.id, user: { id: "u-1", name: "Ada", email: "Ada@Example.com" } } },
      { key: company.key },
    ),
  );
  expect(minted.mintJoinToken.joinUrl).toBe(`http://admit.test/j/town-hall?token=${minted.mintJoinToken.token}`);
  const joined = ok(await t.gql(JOIN, { input: { event: "town-hall", credential: minted.mintJoinToken.token } }));
  expect(joined.joinEvent.role).toBe("ATTENDEE");
  expect(joined.joinEvent.session.user).toEqual({ externalId: "u-1", name: "Ada" });

  ok(
    await t.gql(
      `mutation($e: ID!) { addEventPrincipals(input: { eventId: $e, role: ORGANIZER, principals: [{ email: "ada@example.com" }] }) { id } }`,
      { e: event.id },
      { key: company.key },
    ),
  );
  t.clock.advance(20);
  const beat = ok(await t.gql(BEAT, { t: joined.joinEvent.sessionToken }));
  expect(beat.heartbeat).toMatchObject({ active: true, role: "ORGANIZER" });

  const again = ok(await t.gql(JOIN, { input: { event: event.id, credential: minted.mintJoinToken.token } }));
  const old = ok(await t.gql(BEAT, { t: beat.heartbeat.sessionToken }));
  expect(old.heartbeat).toMatchObject({ active: false, endReason: "SUPERSEDED" });
  expect(again.joinEvent.role).toBe("ORGANIZER");

  const jwks = (await (await fetch(`${t.url}/c/${company.slug}/.well-known/jwks.json`)).json()) as { keys: object[] };
  expect(jwks.keys).toHaveLength(1);
  expect(jwks.keys[0]).not.toHaveProperty("d");
});

it("refuses a private event without a credential and admits guests to a public one", async () => {
  const company = await makeCompany(t);
  const priv = await makeEvent(t, company, { privacy: "PRIVATE" });
  expect(codeOf(await t.gql(JOIN, { input: { event: priv.id, displayName: "Bob" } }))).toBe("CREDENTIAL_REQUIRED");
  const pub = await makeEvent(t, company, { privacy: "PUBLIC" });
  const guest = ok(await t.gql(JOIN, { input: { event: pub.id, displayName: "Bob" } }));
  expect(guest.joinEvent.role).toBe("ATTENDEE");
});
