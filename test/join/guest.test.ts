import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { beat, expectRefused, join, joinRaw, Joined, mint } from "./join-helpers";

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const seatsUsed = async (c: TestCompany): Promise<number> =>
  ok(await t.gql(`query { company { seatsUsed } }`, {}, { key: c.key })).company.seatsUsed;
const guestJoin = async (event: string, displayName: string): Promise<Joined> =>
  ok(await joinRaw(t, { event, displayName })).joinEvent;

describe("guests of a PUBLIC event", () => {
  it("a display name is enough: an ATTENDEE guest user that takes no seat", async () => {
    const event = await makeEvent(t, company, { privacy: "PUBLIC" });
    const seats = await seatsUsed(company);
    const joined = await guestJoin(event.id, "  Curious Visitor ");
    expect(joined.role).toBe("ATTENDEE");
    expect(joined.session).toMatchObject({ credentialType: "GUEST", active: true, eventId: event.id });
    expect(joined.session.user).toMatchObject({
      isGuest: true,
      externalId: null,
      name: "Curious Visitor",
      email: null,
    });
    expect(await seatsUsed(company)).toBe(seats);
    expect((await beat(t, joined.sessionToken)).active).toBe(true);
  });

  it("the event may be named by id, by companySlug/eventSlug, or by a slug only one company uses", async () => {
    const event = await makeEvent(t, company, { privacy: "PUBLIC", slug: `open-house-${Date.now()}` });
    for (const ref of [event.id, `${company.slug}/${event.slug}`, event.slug]) {
      expect((await guestJoin(ref, "Visitor")).session.eventId).toBe(event.id);
    }
  });

  it("each guest join is a guest of its own, none taking a seat even at the seat limit", async () => {
    const full = await makeCompany(t, { seatLimit: 0 });
    const event = await makeEvent(t, full, { privacy: "PUBLIC" });
    const a = await guestJoin(event.id, "Same Name");
    const b = await guestJoin(event.id, "Same Name");
    expect(a.session.userId).not.toBe(b.session.userId);
    expect((await beat(t, a.sessionToken)).active).toBe(true);
    expect(await seatsUsed(full)).toBe(0);
  });

  it("without a display name, BAD_USER_INPUT on displayName and nothing changed", async () => {
    const event = await makeEvent(t, company, { privacy: "PUBLIC" });
    await expectRefused(t, () => joinRaw(t, { event: event.id }), "BAD_USER_INPUT", "displayName");
    await expectRefused(t, () => joinRaw(t, { event: event.id, displayName: "   " }), "BAD_USER_INPUT", "displayName");
    await expectRefused(
      t,
      () => joinRaw(t, { event: event.id, displayName: "x".repeat(101) }),
      "BAD_USER_INPUT",
      "displayName",
    );
    await expectRefused(
      t,
      () => joinRaw(t, { event: event.id, displayName: "Null\u0000Byte" }),
      "BAD_USER_INPUT",
      "displayName",
    );
    await expectRefused(
      t,
      () => joinRaw(t, { event: event.id, credentialType: "GUEST" }),
      "BAD_USER_INPUT",
      "displayName",
    );
  });

  it("an unknown event is NOT_FOUND, whatever text names it", async () => {
    for (const ref of [
      "no-such-event-anywhere",
      "00000000-0000-4000-8000-000000000000",
      `${company.slug}/nope`,
      "nul\u0000slug",
      "x".repeat(500),
    ]) {
      await expectRefused(t, () => joinRaw(t, { event: ref, displayName: "Lost" }), "NOT_FOUND");
    }
  });
});

describe("PRIVATE events", () => {
  it("refuse a join without a credential with CREDENTIAL_REQUIRED, knocking on or off, display name or not", async () => {
    const closed = await makeEvent(t, company, { privacy: "PRIVATE" });
    const knocking = await makeEvent(t, company, { privacy: "PRIVATE", knockingEnabled: true });
    const defaulted = await makeEvent(t, company);
    for (const event of [closed, knocking, defaulted]) {
      await expectRefused(t, () => joinRaw(t, { event: event.id, displayName: "Gate Crasher" }), "CREDENTIAL_REQUIRED");
      await expectRefused(t, () => joinRaw(t, { event: event.id }), "CREDENTIAL_REQUIRED");
      await expectRefused(t, () => joinRaw(t, { event: event.id, credential: "   " }), "CREDENTIAL_REQUIRED");
    }
    // A credential still works.
    const minted = await mint(t, company, { eventId: closed.id, user: { id: "invited" } });
    expect((await join(t, closed.id, minted.token)).role).toBe("ATTENDEE");
  });
});

describe("the seat limit", () => {
  it("with seatLimit 1, the second new user named by a join token is SEAT_LIMIT_REACHED; known users and guests still get in", async () => {
    const small = await makeCompany(t, { seatLimit: 1 });
    const event = await makeEvent(t, small, { privacy: "PUBLIC" });
    const first = await mint(t, small, { eventId: event.id, user: { id: "first-user" } });
    const second = await mint(t, small, { eventId: event.id, user: { id: "second-user" } });
    expect((await join(t, event.id, first.token)).session.user.externalId).toBe("first-user");
    expect(await seatsUsed(small)).toBe(1);

    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: second.token }), "SEAT_LIMIT_REACHED");
    expect(await seatsUsed(small)).toBe(1);
    expect(ok(await t.gql(`query { user(externalId: "second-user") { id } }`, {}, { key: small.key })).user).toBeNull();

    // The seated user comes back without a new seat; a guest needs none.
    t.clock.advance(1);
    expect((await join(t, event.id, first.token)).session.active).toBe(true);
    expect((await guestJoin(event.id, "Walk-in")).session.user.isGuest).toBe(true);
    expect(await seatsUsed(small)).toBe(1);
  });
});
