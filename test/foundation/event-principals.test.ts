import { GqlResponse, ok, useTestApp } from "../support/harness";
import { companySnapshot, makeCompany, makeEvent, TestCompany } from "../support/factories";

/** Presenter and organizer lists: entries are an external user id or an email, never both. */

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const LISTS = `presenters { role userId email } organizers { role userId email }`;
const ADD = `mutation($input: EventPrincipalsInput!) { addEventPrincipals(input: $input) { id ${LISTS} } }`;
const REMOVE = `mutation($input: EventPrincipalsInput!) { removeEventPrincipals(input: $input) { id ${LISTS} } }`;
const GET = `query($id: ID!) { event(id: $id) { ${LISTS} } }`;

interface Principal {
  role: string;
  userId: string | null;
  email: string | null;
}

/** The lists in a fixed order: entries added in one call share a creation time, so their order is not part of the contract. */
function sorted(lists: { presenters: Principal[]; organizers: Principal[] }) {
  const key = (p: Principal) => `${p.userId ?? ""}\u0000${p.email ?? ""}`;
  const sort = (list: Principal[]) => [...list].sort((x, y) => (key(x) < key(y) ? -1 : key(x) > key(y) ? 1 : 0));
  return { presenters: sort(lists.presenters), organizers: sort(lists.organizers) };
}

async function listsOf(eventId: string) {
  return sorted(ok(await t.gql(GET, { id: eventId }, { key: company.key })).event);
}

function expectBadInput(res: GqlResponse, field: string) {
  expect(res.errors?.[0]?.extensions).toEqual({ code: "BAD_USER_INPUT", field });
}

it("createEvent stores emails trimmed and lower-cased, and ignores duplicates", async () => {
  const event = await makeEvent(t, company, {
    presenters: [
      { email: "  Speaker@Example.COM " },
      { email: "speaker@example.com" },
      { userId: "u-1" },
      { userId: "u-1" },
    ],
    organizers: [{ email: "Host@Example.com" }],
  });
  expect(await listsOf(event.id)).toEqual({
    presenters: [
      { role: "PRESENTER", userId: null, email: "speaker@example.com" },
      { role: "PRESENTER", userId: "u-1", email: null },
    ],
    organizers: [{ role: "ORGANIZER", userId: null, email: "host@example.com" }],
  });
});

it("addEventPrincipals adds to one list, ignores entries already there, and keeps the lists apart", async () => {
  const event = await makeEvent(t, company, { presenters: [{ userId: "u-1" }] });
  const added = ok(
    await t.gql(
      ADD,
      {
        input: {
          eventId: event.id,
          role: "ORGANIZER",
          principals: [{ userId: "u-1" }, { email: " Boss@Example.com" }, { email: "BOSS@example.com" }],
        },
      },
      { key: company.key },
    ),
  ).addEventPrincipals;
  const expected = {
    presenters: [{ role: "PRESENTER", userId: "u-1", email: null }],
    organizers: [
      { role: "ORGANIZER", userId: null, email: "boss@example.com" },
      { role: "ORGANIZER", userId: "u-1", email: null },
    ],
  };
  expect(sorted(added)).toEqual(expected);
  // Adding the same again changes nothing.
  ok(
    await t.gql(
      ADD,
      {
        input: { eventId: event.id, role: "ORGANIZER", principals: [{ email: "boss@EXAMPLE.com" }, { userId: "u-1" }] },
      },
      { key: company.key },
    ),
  );
  expect(await listsOf(event.id)).toEqual(expected);
});

it("user ids are kept exactly: another case is another principal", async () => {
  const event = await makeEvent(t, company);
  ok(
    await t.gql(
      ADD,
      { input: { eventId: event.id, role: "PRESENTER", principals: [{ userId: "Ann" }, { userId: "ann" }] } },
      { key: company.key },
    ),
  );
  expect((await listsOf(event.id)).presenters.map((p: any) => p.userId)).toEqual(["Ann", "ann"]);
});

it("removeEventPrincipals removes by user id and by email in any case, from the named list only", async () => {
  const event = await makeEvent(t, company, {
    presenters: [{ userId: "u-1" }, { email: "p@example.com" }, { userId: "u-2" }],
    organizers: [{ userId: "u-1" }, { email: "p@example.com" }],
  });
  const removed = ok(
    await t.gql(
      REMOVE,
      {
        input: { eventId: event.id, role: "PRESENTER", principals: [{ userId: "u-1" }, { email: " P@Example.com " }] },
      },
      { key: company.key },
    ),
  ).removeEventPrincipals;
  const expected = {
    presenters: [{ role: "PRESENTER", userId: "u-2", email: null }],
    organizers: [
      { role: "ORGANIZER", userId: null, email: "p@example.com" },
      { role: "ORGANIZER", userId: "u-1", email: null },
    ],
  };
  expect(sorted(removed)).toEqual(expected);
  expect(await listsOf(event.id)).toEqual(expected);
});

it("removing an entry that is not there is not an error and changes nothing", async () => {
  const event = await makeEvent(t, company, { organizers: [{ userId: "u-1" }] });
  ok(
    await t.gql(
      REMOVE,
      { input: { eventId: event.id, role: "ORGANIZER", principals: [{ userId: "U-1" }, { email: "x@example.com" }] } },
      { key: company.key },
    ),
  );
  expect((await listsOf(event.id)).organizers).toEqual([{ role: "ORGANIZER", userId: "u-1", email: null }]);
});

describe.each([
  ["addEventPrincipals", ADD],
  ["removeEventPrincipals", REMOVE],
])("%s refuses bad input with the field and changes nothing", (_name, mutation) => {
  it.each([
    ["role ATTENDEE", { role: "ATTENDEE", principals: [{ userId: "u-9" }] }, "role"],
    [
      "an entry with both userId and email",
      { principals: [{ userId: "u-9", email: "u9@example.com" }] },
      "principals.0",
    ],
    ["an entry with neither", { principals: [{ userId: "u-9" }, {}] }, "principals.1"],
    ["an entry with a blank userId", { principals: [{ userId: "   " }] }, "principals.0.userId"],
    ["an entry with a bad email", { principals: [{ email: "nobody" }] }, "principals.0.email"],
    [
      "more than 1000 entries",
      { principals: Array.from({ length: 1001 }, (_, i) => ({ userId: `u-${i}` })) },
      "principals",
    ],
  ])("%s", async (_what, input, field) => {
    const event = await makeEvent(t, company, {
      presenters: [{ userId: "u-1" }],
      organizers: [{ email: "o@example.com" }],
    });
    const before = await companySnapshot(t, company);
    const res = await t.gql(
      mutation,
      { input: { eventId: event.id, role: "ORGANIZER", ...input } },
      { key: company.key },
    );
    expectBadInput(res, field);
    expect(await companySnapshot(t, company)).toEqual(before);
  });
});
