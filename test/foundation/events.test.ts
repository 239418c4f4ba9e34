import { codeOf, GqlResponse, ok, useTestApp } from "../support/harness";
import { companySnapshot, makeCompany, makeEvent, TestCompany } from "../support/factories";

const t = useTestApp();

const EVENT_FIELDS = `id name slug privacy knockingEnabled startsAt endsAt endedAt status capacity sessionPolicy maxSessionsPerUser joinUrl`;
const CREATE = `mutation($input: CreateEventInput!) { createEvent(input: $input) { ${EVENT_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateEventInput!) { updateEvent(id: $id, input: $input) { ${EVENT_FIELDS} } }`;
const END = `mutation($id: ID!) { endEvent(id: $id) { ${EVENT_FIELDS} } }`;
const GET = `query($id: ID!) { event(id: $id) { ${EVENT_FIELDS} } }`;
const LIST = `query($first: Int, $after: String, $filter: EventFilter) {
  events(first: $first, after: $after, filter: $filter) { edges { cursor node { id name status privacy } } pageInfo { hasNextPage endCursor } }
}`;

const inSeconds = (seconds: number) => new Date(t.clock.now().getTime() + seconds * 1000).toISOString();

function expectBadInput(res: GqlResponse, field: string) {
  expect(res.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field });
}

/** Every event of the company, following pages: the names in list order. */
async function allEventNames(company: TestCompany, filter?: Record<string, unknown>): Promise<string[]> {
  const names: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page: any = ok(await t.gql(LIST, { first: 100, after, filter }, { key: company.key })).events;
    names.push(...page.edges.map((e: any) => e.node.name));
    if (!page.pageInfo.hasNextPage) return names;
    after = page.pageInfo.endCursor;
  }
}

describe("createEvent", () => {
  it("makes the slug from the name, and a second event of the same name gets another slug", async () => {
    const company = await makeCompany(t);
    const first = ok(await t.gql(CREATE, { input: { name: "Q3 All-Hands!" } }, { key: company.key })).createEvent;
    const second = ok(await t.gql(CREATE, { input: { name: "Q3 All-Hands!" } }, { key: company.key })).createEvent;
    expect(first.slug).toBe("q3-all-hands");
    expect(second.slug).toMatch(/^q3-all-hands-[a-z0-9]+$/);
    expect(second.slug).not.toBe(first.slug);
    expect(first).toMatchObject({
      privacy: "PRIVATE",
      knockingEnabled: false,
      status: "LIVE",
      sessionPolicy: "REPLACE_OLDEST",
      maxSessionsPerUser: 1,
    });
    expect(first.joinUrl).toBe("http://admit.test/j/q3-all-hands");
    // Both are there, each under its own slug.
    const one = ok(await t.gql(GET, { id: first.id }, { key: company.key })).event;
    const two = ok(await t.gql(GET, { id: second.id }, { key: company.key })).event;
    expect([one.slug, two.slug]).toEqual([first.slug, second.slug]);
  });

  it("refuses a chosen slug that is taken in the company, and creates nothing", async () => {
    const company = await makeCompany(t);
    await makeEvent(t, company, { slug: "town-hall" });
    const before = await allEventNames(company);
    const res = await t.gql(CREATE, { input: { name: "Another", slug: "town-hall" } }, { key: company.key });
    expect(codeOf(res)).toBe("SLUG_TAKEN");
    expect(await allEventNames(company)).toEqual(before);
  });

  it("allows the same slug in two companies", async () => {
    const a = await makeCompany(t);
    const b = await makeCompany(t);
    const inA = ok(await t.gql(CREATE, { input: { name: "Launch", slug: "launch" } }, { key: a.key })).createEvent;
    const inB = ok(await t.gql(CREATE, { input: { name: "Launch", slug: "launch" } }, { key: b.key })).createEvent;
    expect([inA.slug, inB.slug]).toEqual(["launch", "launch"]);
    expect(inA.id).not.toBe(inB.id);
  });

  it("keeps what it was given", async () => {
    const company = await makeCompany(t);
    const startsAt = inSeconds(3600);
    const endsAt = inSeconds(7200);
    const event = ok(
      await t.gql(
        CREATE,
        {
          input: {
            name: "  Webinar  ",
            privacy: "PUBLIC",
            knockingEnabled: true,
            startsAt,
            endsAt,
            capacity: 50,
            sessionPolicy: "REJECT_NEW",
            maxSessionsPerUser: 3,
          },
        },
        { key: company.key },
      ),
    ).createEvent;
    expect(event).toMatchObject({
      name: "Webinar",
      privacy: "PUBLIC",
      knockingEnabled: true,
      startsAt,
      endsAt,
      status: "SCHEDULED",
      capacity: 50,
      sessionPolicy: "REJECT_NEW",
      maxSessionsPerUser: 3,
    });
  });

  it.each([
    ["an empty name", { name: "   " }, "name"],
    ["a name over 200 characters", { name: "x".repeat(201) }, "name"],
    ["a slug with spaces", { slug: "Town Hall" }, "slug"],
    ["a slug ending with a dash", { slug: "town-" }, "slug"],
    ["endsAt before startsAt", { startsAt: "2031-01-01T10:00:00.000Z", endsAt: "2031-01-01T09:00:00.000Z" }, "endsAt"],
    [
      "endsAt equal to startsAt",
      { startsAt: "2031-01-01T10:00:00.000Z", endsAt: "2031-01-01T10:00:00.000Z" },
      "endsAt",
    ],
    ["capacity 0", { capacity: 0 }, "capacity"],
    ["maxSessionsPerUser 101", { maxSessionsPerUser: 101 }, "maxSessionsPerUser"],
    [
      "a presenter with both userId and email",
      { presenters: [{ userId: "u1", email: "u1@example.com" }] },
      "presenters.0",
    ],
    ["an organizer with neither userId nor email", { organizers: [{ userId: "ok" }, {}] }, "organizers.1"],
    ["an organizer with a bad email", { organizers: [{ email: "not-an-email" }] }, "organizers.0.email"],
  ])("refuses %s with the field, and creates nothing", async (_what, input, field) => {
    const company = await makeCompany(t);
    const res = await t.gql(CREATE, { input: { name: "Planned", ...input } }, { key: company.key });
    expectBadInput(res, field);
    expect(await allEventNames(company)).toEqual([]);
  });
});

describe("updateEvent", () => {
  it("changes only the fields given", async () => {
    const company = await makeCompany(t);
    const made = await makeEvent(t, company, { name: "Before", capacity: 10, startsAt: inSeconds(600) });
    const updated = ok(
      await t.gql(
        UPDATE,
        { id: made.id, input: { name: "After", privacy: "PUBLIC", capacity: null } },
        { key: company.key },
      ),
    ).updateEvent;
    expect(updated).toMatchObject({
      name: "After",
      privacy: "PUBLIC",
      capacity: null,
      slug: made.slug,
      status: "SCHEDULED",
    });
    expect(ok(await t.gql(GET, { id: made.id }, { key: company.key })).event).toEqual(updated);
  });

  it("refuses a slug taken by another event of the company, and changes nothing", async () => {
    const company = await makeCompany(t);
    await makeEvent(t, company, { slug: "taken" });
    const other = await makeEvent(t, company, { slug: "mine" });
    const before = await companySnapshot(t, company);
    const res = await t.gql(UPDATE, { id: other.id, input: { slug: "taken", name: "Renamed" } }, { key: company.key });
    expect(codeOf(res)).toBe("SLUG_TAKEN");
    expect(await companySnapshot(t, company)).toEqual(before);
  });

  it.each([
    ["an empty name", { name: "" }, "name"],
    ["a bad slug", { slug: "-bad" }, "slug"],
    ["capacity 0", { capacity: 0 }, "capacity"],
    ["maxSessionsPerUser 0", { maxSessionsPerUser: 0 }, "maxSessionsPerUser"],
    ["endsAt before the stored startsAt", { endsAt: "2031-01-01T09:00:00.000Z" }, "endsAt"],
    ["startsAt after the stored endsAt", { startsAt: "2031-01-01T13:00:00.000Z" }, "endsAt"],
  ])("refuses %s with the field, and changes nothing", async (_what, input, field) => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, {
      startsAt: "2031-01-01T10:00:00.000Z",
      endsAt: "2031-01-01T12:00:00.000Z",
    });
    const before = await companySnapshot(t, company);
    const res = await t.gql(UPDATE, { id: event.id, input: { name: "Changed", ...input } }, { key: company.key });
    expectBadInput(res, field);
    expect(await companySnapshot(t, company)).toEqual(before);
  });

  it("an id that is not a uuid is NOT_FOUND", async () => {
    const company = await makeCompany(t);
    expect(codeOf(await t.gql(UPDATE, { id: "not-an-id", input: { name: "x" } }, { key: company.key }))).toBe(
      "NOT_FOUND",
    );
  });
});

describe("endEvent", () => {
  it("ends the event; later changes are EVENT_ENDED and change nothing", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, { name: "Keynote" });
    const ended = ok(await t.gql(END, { id: event.id }, { key: company.key })).endEvent;
    expect(ended.status).toBe("ENDED");
    expect(ended.endedAt).toBe(t.clock.now().toISOString());
    const before = await companySnapshot(t, company);
    const res = await t.gql(UPDATE, { id: event.id, input: { name: "Encore" } }, { key: company.key });
    expect(codeOf(res)).toBe("EVENT_ENDED");
    expect(await companySnapshot(t, company)).toEqual(before);
    expect(ok(await t.gql(GET, { id: event.id }, { key: company.key })).event).toMatchObject({
      name: "Keynote",
      status: "ENDED",
    });
  });

  it("is idempotent: a second endEvent keeps the first end time", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const first = ok(await t.gql(END, { id: event.id }, { key: company.key })).endEvent;
    t.clock.advance(60);
    const second = ok(await t.gql(END, { id: event.id }, { key: company.key })).endEvent;
    expect(second.endedAt).toBe(first.endedAt);
  });

  it("an id that is not a uuid, or of no event, is NOT_FOUND", async () => {
    const company = await makeCompany(t);
    expect(codeOf(await t.gql(END, { id: "42" }, { key: company.key }))).toBe("NOT_FOUND");
    expect(codeOf(await t.gql(END, { id: "00000000-0000-4000-8000-000000000000" }, { key: company.key }))).toBe(
      "NOT_FOUND",
    );
  });
});

describe("event", () => {
  it("is null for an id that is not a uuid or names no event", async () => {
    const company = await makeCompany(t);
    expect(ok(await t.gql(GET, { id: "garbage" }, { key: company.key })).event).toBeNull();
    expect(ok(await t.gql(GET, { id: "00000000-0000-4000-8000-000000000000" }, { key: company.key })).event).toBeNull();
  });

  it("status follows the clock: SCHEDULED, then LIVE, then ENDED", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, { startsAt: inSeconds(60), endsAt: inSeconds(120) });
    const status = async () => ok(await t.gql(GET, { id: event.id }, { key: company.key })).event.status;
    expect(await status()).toBe("SCHEDULED");
    t.clock.advance(60);
    expect(await status()).toBe("LIVE");
    t.clock.advance(60);
    expect(await status()).toBe("ENDED");
  });
});

describe("events", () => {
  it("pages through 5 events 2 at a time: no duplicates, no gaps, hasNextPage right", async () => {
    const company = await makeCompany(t);
    const made: string[] = [];
    for (let i = 1; i <= 5; i++) made.push((await makeEvent(t, company, { name: `Event ${i}` })).id);
    const pages: { ids: string[]; hasNextPage: boolean }[] = [];
    let after: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const page: any = ok(await t.gql(LIST, { first: 2, after }, { key: company.key })).events;
      pages.push({ ids: page.edges.map((e: any) => e.node.id), hasNextPage: page.pageInfo.hasNextPage });
      expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1].cursor);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(pages.map((p) => p.ids.length)).toEqual([2, 2, 1]);
    expect(pages.map((p) => p.hasNextPage)).toEqual([true, true, false]);
    expect(pages.flatMap((p) => p.ids)).toEqual(made);
  });

  it("an exact last page says there is no next page", async () => {
    const company = await makeCompany(t);
    for (let i = 0; i < 2; i++) await makeEvent(t, company);
    const page = ok(await t.gql(LIST, { first: 2 }, { key: company.key })).events;
    expect(page.edges).toHaveLength(2);
    expect(page.pageInfo.hasNextPage).toBe(false);
  });

  it.each([
    ["not base64 at all", "%%%not-a-cursor%%%"],
    ["base64 of something else", Buffer.from("hello").toString("base64url")],
    ["a cursor with the wrong parts", Buffer.from(JSON.stringify(["yesterday", "x"])).toString("base64url")],
    [
      "a cursor whose id is not a uuid",
      Buffer.from(JSON.stringify([new Date().toISOString(), "x"])).toString("base64url"),
    ],
  ])("refuses an after that is %s with field after", async (_what, after) => {
    const company = await makeCompany(t);
    await makeEvent(t, company);
    expectBadInput(await t.gql(LIST, { first: 2, after }, { key: company.key }), "after");
  });

  it.each([-1, 101])("refuses first: %i with field first", async (first) => {
    const company = await makeCompany(t);
    expectBadInput(await t.gql(LIST, { first }, { key: company.key }), "first");
  });

  it("filters by privacy", async () => {
    const company = await makeCompany(t);
    await makeEvent(t, company, { name: "open", privacy: "PUBLIC" });
    await makeEvent(t, company, { name: "closed", privacy: "PRIVATE" });
    await makeEvent(t, company, { name: "default" });
    expect(await allEventNames(company, { privacy: "PUBLIC" })).toEqual(["open"]);
    expect(await allEventNames(company, { privacy: "PRIVATE" })).toEqual(["closed", "default"]);
  });

  it("filters by status as of the clock, endEvent included", async () => {
    const company = await makeCompany(t);
    await makeEvent(t, company, { name: "later", startsAt: inSeconds(3600) });
    await makeEvent(t, company, { name: "now", startsAt: inSeconds(-60), endsAt: inSeconds(1800) });
    await makeEvent(t, company, { name: "open-ended" });
    await makeEvent(t, company, { name: "over", startsAt: inSeconds(-7200), endsAt: inSeconds(-3600) });
    const stopped = await makeEvent(t, company, { name: "stopped", startsAt: inSeconds(-60) });
    ok(await t.gql(END, { id: stopped.id }, { key: company.key }));

    expect(await allEventNames(company, { status: "SCHEDULED" })).toEqual(["later"]);
    expect(await allEventNames(company, { status: "LIVE" })).toEqual(["now", "open-ended"]);
    expect(await allEventNames(company, { status: "ENDED" })).toEqual(["over", "stopped"]);

    // Two hours on: "later" is live and "now" is over.
    t.clock.advance(7200);
    expect(await allEventNames(company, { status: "SCHEDULED" })).toEqual([]);
    expect(await allEventNames(company, { status: "LIVE" })).toEqual(["later", "open-ended"]);
    expect(await allEventNames(company, { status: "ENDED" })).toEqual(["now", "over", "stopped"]);
    // The status each node shows agrees with the filter it was found by.
    const live = ok(await t.gql(LIST, { filter: { status: "LIVE" } }, { key: company.key })).events.edges;
    expect(live.map((e: any) => e.node.status)).toEqual(["LIVE", "LIVE"]);
  });

  it("combines filters", async () => {
    const company = await makeCompany(t);
    await makeEvent(t, company, { name: "public-later", privacy: "PUBLIC", startsAt: inSeconds(3600) });
    await makeEvent(t, company, { name: "public-now", privacy: "PUBLIC" });
    await makeEvent(t, company, { name: "private-later", startsAt: inSeconds(3600) });
    expect(await allEventNames(company, { privacy: "PUBLIC", status: "SCHEDULED" })).toEqual(["public-later"]);
  });
});
