import { codeOf, GqlResponse, ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";

/** F3 registrations through HTTP: register, join with the link, duplicates, cancel, access. */

const t = useTestApp();

const REGISTER = `mutation($input: RegisterForEventInput!) {
  registerForEvent(input: $input) { id eventId name email metadata createdAt cancelledAt active joinUrl }
}`;
const CANCEL = `mutation($id: ID!) { cancelRegistration(id: $id) { id active cancelledAt } }`;
const JOIN = `mutation($input: JoinEventInput!) {
  joinEvent(input: $input) { role sessionToken session { id registrantId credentialType metadata user { email name } } }
}`;
const BEAT = `mutation($t: String!) { heartbeat(sessionToken: $t) { active endReason sessionToken } }`;
const SESSION = `query($id: ID!) { session(id: $id) { id active endReason registrant { id email active } } }`;
const REGISTRANT_BY_EMAIL = `query($e: ID, $email: String) { registrant(eventId: $e, email: $email) { id email active } }`;
const COUNT = `query($id: ID!) { event(id: $id) { live: registrants { totalCount } all: registrants(includeCancelled: true) { totalCount } } }`;

const tokenOf = (joinUrl: string): string => new URL(joinUrl).searchParams.get("token")!;

async function register(company: TestCompany, event: TestEvent, email: string, extra: Record<string, unknown> = {}) {
  return ok(
    await t.gql(REGISTER, { input: { eventId: event.id, name: "Reggie", email, ...extra } }, { key: company.key }),
  ).registerForEvent;
}

async function counts(company: TestCompany, event: TestEvent): Promise<{ live: number; all: number }> {
  const data = ok(await t.gql(COUNT, { id: event.id }, { key: company.key }));
  return { live: data.event.live.totalCount, all: data.event.all.totalCount };
}

const join = (event: string, credential: string, credentialType?: string) =>
  t.gql(JOIN, { input: { event, credential, ...(credentialType ? { credentialType } : {}) } });

describe("registerForEvent", () => {
  it("returns a join URL whose registration token joins this event as the registrant", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, { slug: "launch" });
    const reg = await register(company, event, "  Grace.Hopper@Example.com ", {
      metadata: { company: "Navy", jobTitle: "Admiral" },
    });
    expect(reg).toMatchObject({
      eventId: event.id,
      name: "Reggie",
      email: "Grace.Hopper@Example.com",
      metadata: { company: "Navy", jobTitle: "Admiral" },
      cancelledAt: null,
      active: true,
    });
    expect(reg.joinUrl).toMatch(/^http:\/\/admit\.test\/j\/launch\?token=[\w-]+\.[\w-]+\.[\w-]+$/);

    const token = tokenOf(reg.joinUrl);
    const validation = ok(
      await t.gql(`query($t: String!) { validateToken(token: $t) { valid tokenType claims } }`, { t: token }),
    );
    expect(validation.validateToken).toMatchObject({ valid: true, tokenType: "registration" });
    expect(validation.validateToken.claims).toMatchObject({ sub: reg.id, jti: reg.id, evt: event.id });

    const joined = ok(await join("launch", token, "REGISTRATION_TOKEN")).joinEvent;
    expect(joined.role).toBe("ATTENDEE");
    expect(joined.session).toMatchObject({
      registrantId: reg.id,
      credentialType: "REGISTRATION_TOKEN",
      metadata: { company: "Navy", jobTitle: "Admiral" },
      user: { email: "Grace.Hopper@Example.com", name: "Reggie" },
    });
    const session = ok(await t.gql(SESSION, { id: joined.session.id }, { key: company.key })).session;
    expect(session.registrant).toEqual({ id: reg.id, email: "Grace.Hopper@Example.com", active: true });

    // The typ tells the kind: the credentialType may be left out, and the event named by id.
    const again = ok(await join(event.id, token)).joinEvent;
    expect(again.session.registrantId).toBe(reg.id);
  });

  it("refuses the same email again, in another case and with spaces, and stores no second row", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const first = await register(company, event, "ada@example.com");
    const res = await t.gql(
      REGISTER,
      { input: { eventId: event.id, name: "Ada again", email: "  ADA@Example.COM  " } },
      { key: company.key },
    );
    expect(codeOf(res)).toBe("EMAIL_ALREADY_REGISTERED");
    expect(res.errors![0].message).not.toMatch(/duplicate|constraint|idx_|registrants/i);
    expect(res.data?.registerForEvent ?? null).toBeNull();
    expect(await counts(company, event)).toEqual({ live: 1, all: 1 });
    const found = ok(
      await t.gql(REGISTRANT_BY_EMAIL, { e: event.id, email: "ADA@example.com" }, { key: company.key }),
    ).registrant;
    expect(found).toEqual({ id: first.id, email: "ada@example.com", active: true });

    // Another event of the same company takes the same email.
    const other = await makeEvent(t, company);
    await register(company, other, "ada@example.com");
  });

  it("lets exactly one of 8 concurrent registrations of one email through", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        t.gql(
          REGISTER,
          {
            input: { eventId: event.id, name: `Racer ${i}`, email: i % 2 ? "racer@example.com" : "RACER@example.com" },
          },
          { key: company.key },
        ),
      ),
    );
    const codes = results.map((r) => (r.errors ? codeOf(r) : "OK"));
    expect(codes.filter((c) => c === "OK")).toHaveLength(1);
    expect(codes.filter((c) => c === "EMAIL_ALREADY_REGISTERED")).toHaveLength(7);
    expect(await counts(company, event)).toEqual({ live: 1, all: 1 });
  });

  it("refuses bad input with the field, and changes nothing", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const cases: [Record<string, unknown>, string][] = [
      [{ name: "   " }, "name"],
      [{ name: "n".repeat(201) }, "name"],
      [{ email: "not-an-email" }, "email"],
      [{ email: "" }, "email"],
      [{ metadata: { blob: "x".repeat(8200) } }, "metadata"],
    ];
    for (const [override, field] of cases) {
      const res = await t.gql(
        REGISTER,
        { input: { eventId: event.id, name: "Ok", email: "ok@example.com", ...override } },
        { key: company.key },
      );
      expect({ field, code: codeOf(res), got: res.errors?.[0]?.extensions?.field }).toEqual({
        field,
        code: "BAD_USER_INPUT",
        got: field,
      });
    }
    // A name of exactly 200 characters and metadata just under 8 KB are fine.
    await register(company, event, "edge@example.com", { name: "n".repeat(200), metadata: { blob: "x".repeat(8000) } });
    expect(await counts(company, event)).toEqual({ live: 1, all: 1 });
  });

  it("refuses an ended event with EVENT_ENDED and an unknown one with NOT_FOUND", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: event.id }, { key: company.key }));
    const ended = await t.gql(
      REGISTER,
      { input: { eventId: event.id, name: "Late", email: "late@example.com" } },
      { key: company.key },
    );
    expect(codeOf(ended)).toBe("EVENT_ENDED");
    expect(await counts(company, event)).toEqual({ live: 0, all: 0 });

    const soon = await makeEvent(t, company, { endsAt: new Date(t.clock.now().getTime() + 60_000).toISOString() });
    t.clock.advance(61);
    expect(
      codeOf(
        await t.gql(
          REGISTER,
          { input: { eventId: soon.id, name: "Late", email: "late@example.com" } },
          { key: company.key },
        ),
      ),
    ).toBe("EVENT_ENDED");

    for (const eventId of ["00000000-0000-4000-8000-000000000000", "not-a-uuid"]) {
      expect(
        codeOf(await t.gql(REGISTER, { input: { eventId, name: "X", email: "x@example.com" } }, { key: company.key })),
      ).toBe("NOT_FOUND");
    }
  });
});

describe("the registration link", () => {
  it("opens its own event only: another event of the company is TOKEN_WRONG_EVENT", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const other = await makeEvent(t, company);
    const reg = await register(company, event, "wanderer@example.com");
    expect(codeOf(await join(other.slug, tokenOf(reg.joinUrl)))).toBe("TOKEN_WRONG_EVENT");
    expect(codeOf(await join(other.id, tokenOf(reg.joinUrl), "REGISTRATION_TOKEN"))).toBe("TOKEN_WRONG_EVENT");
  });

  it("keeps one active session per registrant: a second join supersedes the first", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company, { maxSessionsPerUser: 5 });
    const reg = await register(company, event, "twice@example.com");
    const first = ok(await join(event.slug, tokenOf(reg.joinUrl))).joinEvent;
    t.clock.advance(5);
    const second = ok(await join(event.slug, tokenOf(reg.joinUrl))).joinEvent;
    const old = ok(await t.gql(BEAT, { t: first.sessionToken })).heartbeat;
    expect(old).toMatchObject({ active: false, endReason: "SUPERSEDED", sessionToken: null });
    const current = ok(await t.gql(BEAT, { t: second.sessionToken })).heartbeat;
    expect(current.active).toBe(true);
  });

  it("is refused where a join token is required (credentialType JOIN_TOKEN → TOKEN_INVALID)", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const reg = await register(company, event, "typ@example.com");
    const res = await join(event.slug, tokenOf(reg.joinUrl), "JOIN_TOKEN");
    expect(codeOf(res)).toBe("TOKEN_INVALID");
    expect(
      ok(
        await t.gql(
          `query($id: ID!) { registrant(id: $id) { user { id } sessions { totalCount } } }`,
          { id: reg.id },
          { key: company.key },
        ),
      ).registrant,
    ).toEqual({
      user: null,
      sessions: { totalCount: 0 },
    });
  });

  it("is refused with TOKEN_REVOKED after revokeToken(jti: registrant id)", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const reg = await register(company, event, "revoked@example.com");
    ok(await t.gql(`mutation($j: ID!) { revokeToken(jti: $j) }`, { j: reg.id }, { key: company.key }));
    expect(codeOf(await join(event.slug, tokenOf(reg.joinUrl)))).toBe("TOKEN_REVOKED");
  });

  it("expires after the registration token lifetime (180 days)", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const reg = await register(company, event, "patient@example.com");
    t.clock.advance(181 * 24 * 3600);
    expect(codeOf(await join(event.slug, tokenOf(reg.joinUrl)))).toBe("TOKEN_EXPIRED");
  });
});

describe("cancelRegistration", () => {
  it("refuses the link, ends its live session as REVOKED, and frees the email", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const reg = await register(company, event, "quitter@example.com");
    const joined = ok(await join(event.slug, tokenOf(reg.joinUrl))).joinEvent;

    const cancelled = ok(await t.gql(CANCEL, { id: reg.id }, { key: company.key })).cancelRegistration;
    expect(cancelled.active).toBe(false);
    expect(cancelled.cancelledAt).not.toBeNull();

    // Ended at once, before any heartbeat: dashboards see it gone.
    const session = ok(await t.gql(SESSION, { id: joined.session.id }, { key: company.key })).session;
    expect(session).toMatchObject({ active: false, endReason: "REVOKED", registrant: { id: reg.id, active: false } });
    const beat = ok(await t.gql(BEAT, { t: joined.sessionToken })).heartbeat;
    expect(beat).toMatchObject({ active: false, endReason: "REVOKED" });
    expect(codeOf(await join(event.slug, tokenOf(reg.joinUrl)))).toBe("TOKEN_REVOKED");

    // Idempotent: cancelling again answers the same cancellation.
    t.clock.advance(10);
    const again = ok(await t.gql(CANCEL, { id: reg.id }, { key: company.key })).cancelRegistration;
    expect(again).toEqual(cancelled);

    // The cancelled registration no longer holds the email, and is no longer found by it.
    expect(
      ok(await t.gql(REGISTRANT_BY_EMAIL, { e: event.id, email: "quitter@example.com" }, { key: company.key }))
        .registrant,
    ).toBeNull();
    const fresh = await register(company, event, "Quitter@Example.com");
    expect(fresh.id).not.toBe(reg.id);
    expect(await counts(company, event)).toEqual({ live: 1, all: 2 });
    const rejoined = ok(await join(event.slug, tokenOf(fresh.joinUrl))).joinEvent;
    expect(rejoined.session.registrantId).toBe(fresh.id);
    // A link of the old registration still does not work.
    expect(codeOf(await join(event.slug, tokenOf(reg.joinUrl)))).toBe("TOKEN_REVOKED");
  });
});

describe("registrant(...)", () => {
  it("finds by id, or by eventId and email case-insensitively; wrong combinations are BAD_USER_INPUT", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const reg = await register(company, event, "Finder@Example.com");
    const byId = ok(
      await t.gql(
        `query($id: ID) { registrant(id: $id) { id email event { id } } }`,
        { id: reg.id },
        { key: company.key },
      ),
    );
    expect(byId.registrant).toEqual({ id: reg.id, email: "Finder@Example.com", event: { id: event.id } });
    const byEmail = ok(
      await t.gql(REGISTRANT_BY_EMAIL, { e: event.id, email: " FINDER@example.COM " }, { key: company.key }),
    );
    expect(byEmail.registrant.id).toBe(reg.id);
    expect(
      ok(await t.gql(REGISTRANT_BY_EMAIL, { e: event.id, email: "nobody@example.com" }, { key: company.key }))
        .registrant,
    ).toBeNull();
    expect(ok(await t.gql(`{ registrant(id: "nope") { id } }`, {}, { key: company.key })).registrant).toBeNull();

    const wrong: [string, string][] = [
      [`{ registrant { id } }`, "eventId"],
      [`query($e: ID) { registrant(eventId: $e) { id } }`, "email"],
      [`{ registrant(email: "finder@example.com") { id } }`, "eventId"],
      [`query($id: ID) { registrant(id: $id, email: "finder@example.com") { id } }`, "id"],
      [`query($e: ID) { registrant(eventId: $e, email: "no-at-sign") { id } }`, "email"],
    ];
    for (const [query, field] of wrong) {
      const res = await t.gql(query, { e: event.id, id: reg.id }, { key: company.key });
      expect({ query, code: codeOf(res), field: res.errors?.[0]?.extensions?.field }).toEqual({
        query,
        code: "BAD_USER_INPUT",
        field,
      });
    }
  });
});

describe("access", () => {
  let owner: TestCompany;
  let intruder: TestCompany;
  let event: TestEvent;
  let reg: { id: string; joinUrl: string };

  beforeAll(async () => {
    owner = await makeCompany(t);
    intruder = await makeCompany(t);
    event = await makeEvent(t, owner);
    reg = await register(owner, event, "owned@example.com");
  });

  /** What the owner sees of its registrations: must not move when someone else is refused. */
  const ownerView = async () =>
    ok(
      await t.gql(
        `query($id: ID!) { event(id: $id) { registrants(includeCancelled: true) { totalCount edges { node { id email active cancelledAt } } } } }`,
        { id: event.id },
        { key: owner.key },
      ),
    );

  const expectCode = (res: GqlResponse, code: string) => {
    expect(codeOf(res)).toBe(code);
    expect(res.data?.registerForEvent ?? res.data?.cancelRegistration ?? null).toBeNull();
  };

  it("needs an API key: UNAUTHENTICATED without one", async () => {
    const before = await ownerView();
    expectCode(
      await t.gql(REGISTER, { input: { eventId: event.id, name: "Anon", email: "anon@example.com" } }),
      "UNAUTHENTICATED",
    );
    expectCode(await t.gql(CANCEL, { id: reg.id }), "UNAUTHENTICATED");
    expectCode(await t.gql(`query($id: ID) { registrant(id: $id) { id } }`, { id: reg.id }), "UNAUTHENTICATED");
    expectCode(
      await t.gql(CANCEL, { id: reg.id }, { key: "adm_notarealkey_0000000000000000000000" }),
      "UNAUTHENTICATED",
    );
    expect(await ownerView()).toEqual(before);
  });

  it("answers NOT_FOUND to another company, and changes nothing", async () => {
    const before = await ownerView();
    expectCode(
      await t.gql(
        REGISTER,
        { input: { eventId: event.id, name: "Spy", email: "spy@example.com" } },
        { key: intruder.key },
      ),
      "NOT_FOUND",
    );
    expectCode(await t.gql(CANCEL, { id: reg.id }, { key: intruder.key }), "NOT_FOUND");
    expect(
      ok(await t.gql(`query($id: ID) { registrant(id: $id) { id } }`, { id: reg.id }, { key: intruder.key }))
        .registrant,
    ).toBeNull();
    expect(
      ok(await t.gql(REGISTRANT_BY_EMAIL, { e: event.id, email: "owned@example.com" }, { key: intruder.key }))
        .registrant,
    ).toBeNull();
    expect(await ownerView()).toEqual(before);
    // The owner's link still works.
    expect(ok(await join(event.slug, tokenOf(reg.joinUrl))).joinEvent.session.registrantId).toBe(reg.id);
  });

  it("needs MANAGE_EVENTS to register, cancel, or read a join URL", async () => {
    const made = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "dashboard", scopes: [READ_ANALYTICS] }) { secret } }`,
        {},
        { key: owner.key },
      ),
    );
    const reader = made.createApiKey.secret as string;
    const before = await ownerView();
    expectCode(
      await t.gql(REGISTER, { input: { eventId: event.id, name: "R", email: "r@example.com" } }, { key: reader }),
      "FORBIDDEN",
    );
    expectCode(await t.gql(CANCEL, { id: reg.id }, { key: reader }), "FORBIDDEN");
    const read = await t.gql(
      `query($id: ID) { registrant(id: $id) { email joinUrl } }`,
      { id: reg.id },
      { key: reader },
    );
    expect(codeOf(read)).toBe("FORBIDDEN");
    expect(
      ok(await t.gql(`query($id: ID) { registrant(id: $id) { email } }`, { id: reg.id }, { key: reader })).registrant
        .email,
    ).toBe("owned@example.com");
    expect(await ownerView()).toEqual(before);
  });
});
