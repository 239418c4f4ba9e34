import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import {
  dbState,
  decodePart,
  epoch,
  expectRefused,
  join,
  joinRaw,
  mint,
  MINT,
  tableCounts,
  updateSettings,
  VALIDATE,
} from "./join-helpers";

const t = useTestApp();
let company: TestCompany;
beforeAll(async () => {
  company = await makeCompany(t);
});

const mintRaw = (input: Record<string, unknown>, key: string | null = company.key) => t.gql(MINT, { input }, { key });
const inSeconds = (seconds: number) => new Date(t.clock.now().getTime() + seconds * 1000).toISOString();

describe("mintJoinToken carries every field of its input", () => {
  it("puts user, role, expiry, not-before, ejection and metadata in the token, and each reaches the session", async () => {
    const event = await makeEvent(t, company);
    const notBefore = inSeconds(-5);
    const minted = await mint(t, company, {
      eventId: event.id,
      eventSpecific: true,
      user: {
        id: "emp-42",
        name: "Grace Hopper",
        email: "Grace@Example.com",
        avatarUrl: "https://cdn.example.com/grace.png",
        metadata: { department: "R&D" },
      },
      role: "PRESENTER",
      ttlSeconds: 900,
      notBefore,
      ejectAfterElapsedSeconds: 600,
      ejectAtTokenExpiry: true,
      metadata: { company: "Navy", jobTitle: "Rear Admiral" },
    });
    expect(minted.joinUrl).toBe(`http://admit.test/j/${event.slug}?token=${minted.token}`);
    expect(epoch(minted.expiresAt!)).toBe(epoch(inSeconds(900)));
    expect(epoch(minted.notBefore!)).toBe(epoch(notBefore));

    const header = decodePart(minted.token, 0);
    expect(header).toMatchObject({ alg: "EdDSA", typ: "join+jwt" });
    expect(typeof header.kid).toBe("string");
    const claims = decodePart(minted.token, 1);
    expect(claims).toMatchObject({
      iss: `http://admit.test/c/${company.slug}`,
      aud: "admit:join",
      sub: "emp-42",
      jti: minted.jti,
      evt: event.id,
      role: "PRESENTER",
      exp: epoch(minted.expiresAt!),
      nbf: epoch(notBefore),
      usr: {
        name: "Grace Hopper",
        email: "Grace@Example.com",
        avatarUrl: "https://cdn.example.com/grace.png",
        metadata: { department: "R&D" },
      },
      md: { company: "Navy", jobTitle: "Rear Admiral" },
    });

    const joined = await join(t, event.id, minted.token);
    expect(joined.role).toBe("PRESENTER");
    expect(joined.session.user).toMatchObject({
      externalId: "emp-42",
      name: "Grace Hopper",
      email: "Grace@Example.com",
      isGuest: false,
      metadata: { department: "R&D" },
    });
    expect(joined.session.metadata).toEqual({ company: "Navy", jobTitle: "Rear Admiral" });
    // The earlier of the two limits: joined + 600 s (token expiry is 900 s away).
    expect(new Date(joined.session.ejectAt!).getTime()).toBe(new Date(joined.session.joinedAt).getTime() + 600_000);
    const user = ok(await t.gql(`query { user(externalId: "emp-42") { avatarUrl email } }`, {}, { key: company.key }));
    expect(user.user).toEqual({ avatarUrl: "https://cdn.example.com/grace.png", email: "Grace@Example.com" });
  });

  it("without ttlSeconds or expiresAt the token lives the company's defaultTokenTtlSeconds", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "default-ttl" } });
    expect(epoch(minted.expiresAt!)).toBe(epoch(inSeconds(3600)));
    expect(minted.notBefore).toBeNull();
    expect(decodePart(minted.token, 1).exp).toBe(epoch(inSeconds(3600)));
  });

  it("an ORGANIZER grant makes an organizer; a PRESENTER grant a presenter; no grant an attendee", async () => {
    const event = await makeEvent(t, company);
    for (const [role, expected] of [
      ["ORGANIZER", "ORGANIZER"],
      ["PRESENTER", "PRESENTER"],
      [null, "ATTENDEE"],
    ] as const) {
      const minted = await mint(t, company, {
        eventId: event.id,
        user: { id: `grant-${role}` },
        ...(role ? { role } : {}),
      });
      const joined = await join(t, event.id, minted.token);
      expect(joined.role).toBe(expected);
      expect(joined.session.role).toBe(expected);
    }
  });

  it("metadata of exactly 1000 serialized characters is accepted; 1001 is BAD_USER_INPUT on metadata", async () => {
    const event = await makeEvent(t, company);
    const fits = { note: "x".repeat(1000 - JSON.stringify({ note: "" }).length) };
    expect(JSON.stringify(fits)).toHaveLength(1000);
    const minted = await mint(t, company, { eventId: event.id, user: { id: "md-fit" }, metadata: fits });
    expect((await join(t, event.id, minted.token)).session.metadata).toEqual(fits);

    const tooBig = { note: `${fits.note}y` };
    const res = await expectRefused(
      t,
      () => mintRaw({ eventId: event.id, user: { id: "md-big" }, metadata: tooBig }),
      "BAD_USER_INPUT",
      "metadata",
    );
    expect(res.errors![0].message).toMatch(/1000/);
  });

  it("user metadata too large to fit in a usable token is refused at mint, not at join", async () => {
    const event = await makeEvent(t, company);
    await expectRefused(
      t,
      () => mintRaw({ eventId: event.id, user: { id: "big-user", metadata: { bio: "z".repeat(8000) } } }),
      "BAD_USER_INPUT",
      "user.metadata",
    );
    const minted = await mint(t, company, {
      eventId: event.id,
      user: { id: "big-user", metadata: { bio: "z".repeat(4000) } },
    });
    const joined = await join(t, event.id, minted.token);
    expect(joined.session.user.metadata).toEqual({ bio: "z".repeat(4000) });
  });

  it("minting writes nothing: every table has the same rows before and after", async () => {
    const event = await makeEvent(t, company);
    const countsBefore = await tableCounts(t);
    const before = await dbState(t);
    const a = await mint(t, company, {
      eventId: event.id,
      user: { id: "never-seen", email: "never@example.com", name: "Never" },
    });
    const b = await mint(t, company, {
      eventId: event.id,
      user: { id: "never-seen" },
      role: "ORGANIZER",
      metadata: { a: 1 },
    });
    await mint(t, company, { eventSpecific: false, user: { id: "never-seen-2" } });
    expect(a.jti).not.toBe(b.jti);
    expect(await tableCounts(t)).toEqual(countsBefore);
    expect(await dbState(t)).toEqual(before);
    expect(
      ok(await t.gql(`query { user(externalId: "never-seen") { id } }`, {}, { key: company.key })).user,
    ).toBeNull();
  });
});

describe("eventSpecific", () => {
  it("defaults to true: the token opens its own event only (TOKEN_WRONG_EVENT elsewhere, nothing changed)", async () => {
    const own = await makeEvent(t, company);
    const other = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: own.id, user: { id: "specific-1" } });
    expect(decodePart(minted.token, 1).evt).toBe(own.id);
    await expectRefused(t, () => joinRaw(t, { event: other.id, credential: minted.token }), "TOKEN_WRONG_EVENT");
    await expectRefused(t, () => joinRaw(t, { event: other.slug, credential: minted.token }), "TOKEN_WRONG_EVENT");
    expect((await join(t, own.slug, minted.token)).session.eventId).toBe(own.id);
  });

  it("true without eventId is BAD_USER_INPUT on eventId", async () => {
    await expectRefused(t, () => mintRaw({ user: { id: "no-event" } }), "BAD_USER_INPUT", "eventId");
    await expectRefused(
      t,
      () => mintRaw({ eventSpecific: true, user: { id: "no-event" } }),
      "BAD_USER_INPUT",
      "eventId",
    );
  });

  it("false opens every event of the company, and never another company's", async () => {
    const first = await makeEvent(t, company);
    const second = await makeEvent(t, company);
    const minted = await mint(t, company, { eventSpecific: false, user: { id: "roamer" } });
    expect(decodePart(minted.token, 1)).not.toHaveProperty("evt");
    expect((await join(t, first.id, minted.token)).session.eventId).toBe(first.id);
    expect((await join(t, second.slug, minted.token)).session.eventId).toBe(second.id);

    const rival = await makeCompany(t);
    const rivalEvent = await makeEvent(t, rival, { slug: `rival-${Date.now()}` });
    const rivalPublic = await makeEvent(t, rival, { privacy: "PUBLIC" });
    for (const ref of [rivalEvent.id, rivalEvent.slug, rivalPublic.id, `${rival.slug}/${rivalEvent.slug}`]) {
      await expectRefused(t, () => joinRaw(t, { event: ref, credential: minted.token }), [
        "NOT_FOUND",
        "TOKEN_INVALID",
      ]);
    }
    // The rival's events have no session of ours.
    const rivalSessions = await t.db.dataSource.query(
      `SELECT count(*)::int AS n FROM sessions WHERE event_id IN ($1, $2)`,
      [rivalEvent.id, rivalPublic.id],
    );
    expect(rivalSessions[0].n).toBe(0);
  });

  it("false with an event id names that event in the join URL and still opens the others", async () => {
    const shown = await makeEvent(t, company);
    const elsewhere = await makeEvent(t, company);
    const minted = await mint(t, company, { eventId: shown.id, eventSpecific: false, user: { id: "roamer-2" } });
    expect(minted.joinUrl).toBe(`http://admit.test/j/${shown.slug}?token=${minted.token}`);
    expect((await join(t, elsewhere.id, minted.token)).session.eventId).toBe(elsewhere.id);
  });

  it("a slug that another company also uses resolves inside the token's own company", async () => {
    const rival = await makeCompany(t);
    const slug = `same-slug-${Date.now()}`;
    const rivalEvent = await makeEvent(t, rival, { slug });
    const minted = await mint(t, company, { eventSpecific: false, user: { id: "slug-user" } });
    await expectRefused(t, () => joinRaw(t, { event: slug, credential: minted.token }), "NOT_FOUND");
    const ours = await makeEvent(t, company, { slug });
    const joined = await join(t, slug, minted.token);
    expect(joined.session.eventId).toBe(ours.id);
    expect(joined.session.eventId).not.toBe(rivalEvent.id);
  });
});

describe("expiry", () => {
  it("ttlSeconds and expiresAt together are BAD_USER_INPUT", async () => {
    const event = await makeEvent(t, company);
    await expectRefused(
      t,
      () => mintRaw({ eventId: event.id, user: { id: "both" }, ttlSeconds: 60, expiresAt: inSeconds(120) }),
      "BAD_USER_INPUT",
      "expiresAt",
    );
  });

  it("beyond the company's maxTokenTtlSeconds is BAD_USER_INPUT (ttlSeconds and expiresAt alike)", async () => {
    const capped = await makeCompany(t);
    await updateSettings(t, capped, { maxTokenTtlSeconds: 7200, defaultTokenTtlSeconds: 600 });
    const event = await makeEvent(t, capped);
    const raw = (input: Record<string, unknown>) =>
      mintRaw({ eventId: event.id, user: { id: "cap" }, ...input }, capped.key);
    await expectRefused(t, () => raw({ ttlSeconds: 7201 }), "BAD_USER_INPUT", "ttlSeconds");
    await expectRefused(t, () => raw({ expiresAt: inSeconds(7260) }), "BAD_USER_INPUT", "expiresAt");
    await expectRefused(t, () => raw({ ttlSeconds: -1 }), "BAD_USER_INPUT", "ttlSeconds");
    await expectRefused(t, () => raw({ expiresAt: inSeconds(-1) }), "BAD_USER_INPUT", "expiresAt");
    expect(ok(await raw({ ttlSeconds: 7200 })).mintJoinToken.expiresAt).toBe(
      new Date(epoch(inSeconds(7200)) * 1000).toISOString(),
    );
    expect(epoch(ok(await raw({ expiresAt: inSeconds(7100) })).mintJoinToken.expiresAt)).toBe(epoch(inSeconds(7100)));
  });

  it("ttlSeconds 0 means no expiry only where the company allows it", async () => {
    const open = await makeCompany(t);
    const event = await makeEvent(t, open);
    const raw = (input: Record<string, unknown>) =>
      mintRaw({ eventId: event.id, user: { id: "forever" }, ...input }, open.key);
    await expectRefused(t, () => raw({ ttlSeconds: 0 }), "BAD_USER_INPUT", "ttlSeconds");

    await updateSettings(t, open, { allowNonExpiringTokens: true });
    const minted = ok(await raw({ ttlSeconds: 0 })).mintJoinToken;
    expect(minted.expiresAt).toBeNull();
    expect(decodePart(minted.token, 1)).not.toHaveProperty("exp");
    await expectRefused(
      t,
      () => raw({ ttlSeconds: 0, ejectAtTokenExpiry: true }),
      "BAD_USER_INPUT",
      "ejectAtTokenExpiry",
    );

    const validation = ok(await t.gql(VALIDATE, { token: minted.token })).validateToken;
    expect(validation).toMatchObject({ valid: true, errorCode: null, tokenType: "join", expiresAt: null });

    t.clock.advance(400 * 24 * 3600);
    const joined = await join(t, event.id, minted.token);
    expect(joined.session.active).toBe(true);
  });

  it("expires: accepted 20 s after exp (30 s clock skew), TOKEN_EXPIRED after that, with nothing changed", async () => {
    const event = await makeEvent(t, company);
    const early = await mint(t, company, { eventId: event.id, user: { id: "skew-1" }, ttlSeconds: 60 });
    const late = await mint(t, company, { eventId: event.id, user: { id: "skew-2" }, ttlSeconds: 60 });
    t.clock.advance(60 + 20);
    expect((await join(t, event.id, early.token)).session.active).toBe(true);
    t.clock.advance(15);
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: late.token }), "TOKEN_EXPIRED");
    expect(ok(await t.gql(VALIDATE, { token: late.token })).validateToken).toMatchObject({
      valid: false,
      errorCode: "TOKEN_EXPIRED",
      tokenType: "join",
    });
  });

  it("notBefore in the future: TOKEN_NOT_YET_VALID until the clock reaches it", async () => {
    const event = await makeEvent(t, company);
    const minted = await mint(t, company, {
      eventId: event.id,
      user: { id: "patient" },
      notBefore: inSeconds(300),
      ttlSeconds: 3600,
    });
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: minted.token }), "TOKEN_NOT_YET_VALID");
    t.clock.advance(240);
    await expectRefused(t, () => joinRaw(t, { event: event.id, credential: minted.token }), "TOKEN_NOT_YET_VALID");
    t.clock.advance(60);
    expect((await join(t, event.id, minted.token)).session.active).toBe(true);
  });

  it("notBefore at or after the expiry is BAD_USER_INPUT on notBefore", async () => {
    const event = await makeEvent(t, company);
    await expectRefused(
      t,
      () => mintRaw({ eventId: event.id, user: { id: "nbf" }, ttlSeconds: 60, notBefore: inSeconds(61) }),
      "BAD_USER_INPUT",
      "notBefore",
    );
  });

  it("ejectAfterElapsedSeconds must be a positive number of seconds", async () => {
    const event = await makeEvent(t, company);
    await expectRefused(
      t,
      () => mintRaw({ eventId: event.id, user: { id: "ej" }, ejectAfterElapsedSeconds: 0 }),
      "BAD_USER_INPUT",
      "ejectAfterElapsedSeconds",
    );
  });
});

describe("the user of a token", () => {
  it("a bad user field is BAD_USER_INPUT naming that field of the input", async () => {
    const event = await makeEvent(t, company);
    const raw = (user: Record<string, unknown>) => mintRaw({ eventId: event.id, user });
    await expectRefused(t, () => raw({ id: "  " }), "BAD_USER_INPUT", "user.id");
    await expectRefused(t, () => raw({ id: "x".repeat(256) }), "BAD_USER_INPUT", "user.id");
    await expectRefused(t, () => raw({ id: "ok", email: "not-an-email" }), "BAD_USER_INPUT", "user.email");
    await expectRefused(
      t,
      () => raw({ id: "ok", avatarUrl: "javascript:alert(1)" }),
      "BAD_USER_INPUT",
      "user.avatarUrl",
    );
    await expectRefused(t, () => raw({ id: "ok", name: "n".repeat(201) }), "BAD_USER_INPUT", "user.name");
  });

  it("a token that mints can join: text the database cannot store is refused at mint", async () => {
    const event = await makeEvent(t, company);
    const raw = (input: Record<string, unknown>) => mintRaw({ eventId: event.id, ...input });
    await expectRefused(t, () => raw({ user: { id: "nul", name: "Eve\u0000" } }), "BAD_USER_INPUT", "user.name");
    await expectRefused(t, () => raw({ user: { id: "nul\u0000" } }), "BAD_USER_INPUT", "user.id");
    await expectRefused(
      t,
      () => raw({ user: { id: "nul" }, metadata: { k: "v\u0000" } }),
      "BAD_USER_INPUT",
      "metadata",
    );
    await expectRefused(
      t,
      () => raw({ user: { id: "nul", metadata: { k: "\u0000" } } }),
      "BAD_USER_INPUT",
      "user.metadata",
    );
  });
});

describe("who may mint", () => {
  it("refuses an unauthenticated caller, a revoked or unknown key, a key without MINT_TOKENS, a session token, and another company's event", async () => {
    const event = await makeEvent(t, company);
    const input = { eventId: event.id, user: { id: "who" } };
    await expectRefused(t, () => mintRaw(input, null), "UNAUTHENTICATED");
    await expectRefused(t, () => mintRaw(input, "adm_not_a_real_key_at_all_0000000000"), "UNAUTHENTICATED");

    const limited = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "events only", scopes: [MANAGE_EVENTS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    await expectRefused(t, () => mintRaw(input, limited), "FORBIDDEN");

    const joined = await join(t, event.id, (await mint(t, company, { ...input, role: "ORGANIZER" })).token);
    await expectRefused(t, () => mintRaw(input, joined.sessionToken), "FORBIDDEN");

    const rival = await makeCompany(t);
    await expectRefused(t, () => mintRaw(input, rival.key), "NOT_FOUND");
    await expectRefused(t, () => mintRaw({ eventId: "not-a-uuid", user: { id: "who" } }), "NOT_FOUND");
  });
});
