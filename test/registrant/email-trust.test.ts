import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { mintAndJoin } from "../join/join-helpers";

/**
 * An unverified registration email confers no identity and no role: it never joins as the
 * company's existing user with that email, and never matches the organizer or presenter lists by
 * email (at join, on heartbeats, for organizer actions). Only `emailVerified: true` does.
 */

const t = useTestApp();

const REGISTER = `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { id email emailVerified joinUrl } }`;
const UPSERT = `mutation($input: UpsertUserInput!) { upsertUser(input: $input) { id externalId } }`;
const JOIN = `mutation($input: JoinEventInput!) {
  joinEvent(input: $input) { role sessionToken session { id user { id externalId email metadata } } }
}`;
const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active role } }`;
const KICK = `mutation($id: ID!) { endSession(id: $id) { id endReason } }`;

const tokenOf = (joinUrl: string): string => new URL(joinUrl).searchParams.get("token")!;

async function setUp(): Promise<{ company: TestCompany; event: TestEvent; ceo: { id: string } }> {
  const company = await makeCompany(t);
  const ceo = ok(
    await t.gql(
      UPSERT,
      { input: { externalId: "ceo-1", email: "ceo@acme.test", name: "The CEO", metadata: { level: "c" } } },
      { key: company.key },
    ),
  ).upsertUser;
  const event = await makeEvent(t, company, {
    organizers: [{ email: "ceo@acme.test" }],
    presenters: [{ email: "speaker@acme.test" }],
  });
  return { company, event, ceo };
}

async function registerAndJoin(company: TestCompany, event: TestEvent, email: string, emailVerified?: boolean) {
  const input = {
    eventId: event.id,
    name: "Mallory",
    email,
    ...(emailVerified === undefined ? {} : { emailVerified }),
  };
  const reg = ok(await t.gql(REGISTER, { input }, { key: company.key })).registerForEvent;
  const joined = ok(await t.gql(JOIN, { input: { event: event.id, credential: tokenOf(reg.joinUrl) } })).joinEvent;
  return { reg, joined };
}

describe("registration emails are trusted only when the company vouches for them", () => {
  it("an unverified registration with an existing user's email (other case) joins as a user of its own, as ATTENDEE", async () => {
    const { company, event, ceo } = await setUp();
    const { reg, joined } = await registerAndJoin(company, event, "CEO@Acme.TEST");
    expect(reg.emailVerified).toBe(false);
    expect(joined.role).toBe("ATTENDEE");
    expect(joined.session.user.id).not.toBe(ceo.id);
    expect(joined.session.user.externalId).toBeNull();
    expect(joined.session.user.metadata).toEqual({});

    // Still ATTENDEE on the next heartbeat, when the role is resolved again from the lists.
    expect(ok(await t.gql(BEAT, { t: joined.sessionToken })).heartbeat).toMatchObject({
      active: true,
      role: "ATTENDEE",
    });
    // …and its session token is no organizer's: it cannot kick another attendee.
    const victim = await mintAndJoin(t, company, event.id);
    const kick = await t.gql(KICK, { id: victim.session.id }, { key: joined.sessionToken });
    expect(kick.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(ok(await t.gql(BEAT, { t: victim.sessionToken })).heartbeat.active).toBe(true);
  });

  it("an unverified registration with a presenter's email is not a presenter", async () => {
    const { company, event } = await setUp();
    const { joined } = await registerAndJoin(company, event, "speaker@acme.test", false);
    expect(joined.role).toBe("ATTENDEE");
  });

  it("a registration the company marks emailVerified joins as the existing user, with the organizer role", async () => {
    const { company, event, ceo } = await setUp();
    const { reg, joined } = await registerAndJoin(company, event, "CEO@Acme.TEST", true);
    expect(reg.emailVerified).toBe(true);
    expect(joined.role).toBe("ORGANIZER");
    expect(joined.session.user).toMatchObject({ id: ceo.id, externalId: "ceo-1", metadata: { level: "c" } });
    // The same kick the unverified one was refused is this organizer's to make.
    const victim = await mintAndJoin(t, company, event.id);
    expect(ok(await t.gql(KICK, { id: victim.session.id }, { key: joined.sessionToken })).endSession.endReason).toBe(
      "KICKED",
    );
  });

  it("a verified registration with no matching user joins as a user of its own that matches the lists by email", async () => {
    const { company, event } = await setUp();
    const { joined } = await registerAndJoin(company, event, "Speaker@acme.test", true);
    expect(joined.role).toBe("PRESENTER");
    expect(joined.session.user.externalId).toBeNull();
  });
});
