import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { createApp } from "../../src/app";
import { ManualClock } from "../../src/clock";
import { createLogger } from "../../src/logger";
import { addressSubject, usernameSubject } from "../../src/auth/rate-limit";
import { codeOf, GqlResponse, ok, startTestApp, TestApp, useTestApp, usingPglite } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestUser } from "../support/factories";
import { BEAT, dbState, expectRefused, JOIN, joinRaw, updateSettings } from "../join/join-helpers";

const t = useTestApp();

const SET_PASSWORD = `mutation($input: SetUserPasswordInput!) { setUserPassword(input: $input) { id externalId isGuest } }`;
const PASSWORD = "correct horse battery staple";

async function setPassword(company: TestCompany, userId: string, password = PASSWORD): Promise<GqlResponse> {
  return t.gql(SET_PASSWORD, { input: { userId, password } }, { key: company.key });
}

/** A company with passwords on, a private event and a user with PASSWORD. */
async function setup(): Promise<{
  company: TestCompany;
  event: { id: string; slug: string };
  user: TestUser;
  email: string;
}> {
  const company = await makeCompany(t);
  await updateSettings(t, company, { passwordAuthEnabled: true });
  const event = await makeEvent(t, company, { privacy: "PRIVATE" });
  const email = `Ada.${randomBytes(3).toString("hex")}@Example.com`;
  const user = await makeUser(t, company, { email, name: "Ada" });
  ok(await setPassword(company, user.id));
  return { company, event, user, email };
}

function passwordJoin(event: string, username: string | undefined, password: string | undefined): Promise<GqlResponse> {
  return joinRaw(t, { event, credentialType: "PASSWORD", username, password });
}

/**
 * A GraphQL POST from a chosen loopback address (127.0.0.2, …), so tests can be several clients:
 * the server sees that address as the caller's.
 */
function gqlFrom(
  localAddress: string,
  query: string,
  variables: Record<string, unknown>,
  url = t.url,
): Promise<GqlResponse> {
  const body = JSON.stringify({ query, variables });
  const target = new URL(`${url}/graphql`);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        localAddress,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
          resolve({
            status: res.statusCode ?? 0,
            data: parsed.data ?? undefined,
            errors: parsed.errors,
            headers: new Headers(),
          });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

const joinFrom = (address: string, event: string, username: string, password: string, url?: string) =>
  gqlFrom(address, JOIN, { input: { event, credentialType: "PASSWORD", username, password } }, url);

const passwordRows = (userId: string): Promise<{ password_hash: string; company_id: string }[]> =>
  t.db.dataSource.query("SELECT password_hash, company_id FROM user_passwords WHERE user_id = $1", [userId]);

describe("setUserPassword", () => {
  it("stores an argon2id hash (its parameters in it) in user_passwords only, never the password", async () => {
    const { company, user } = await setup();
    const rows = await passwordRows(user.id);
    expect(rows).toHaveLength(1);
    expect(rows[0].company_id).toBe(company.id);
    expect(rows[0].password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/);
    expect(JSON.stringify(await dbState(t))).not.toContain(PASSWORD);
    expect(t.logs.join("")).not.toContain(PASSWORD);
  });

  it("replaces the old password: one row, the old one stops working", async () => {
    const { company, event, user, email } = await setup();
    const newPassword = "a different passphrase";
    const updated = ok(await setPassword(company, user.id, newPassword)).setUserPassword;
    expect(updated).toEqual({ id: user.id, externalId: user.externalId, isGuest: false });
    expect(await passwordRows(user.id)).toHaveLength(1);
    expect(codeOf(await passwordJoin(event.id, email, PASSWORD))).toBe("INVALID_CREDENTIALS");
    expect(ok(await passwordJoin(event.id, email, newPassword)).joinEvent.session.userId).toBe(user.id);
  });

  it.each([
    ["eleven chars", "short pass!"],
    ["257 characters", "x".repeat(257)],
    ["only spaces", " ".repeat(12)],
    ["only whitespace of other kinds", "\t\n\u00a0\u2003".repeat(3)],
    ["11 code points of 22 UTF-16 units", "😀".repeat(11)],
    ["a NUL", `${"a".repeat(12)}\u0000`],
  ])("refuses a password of %s (BAD_USER_INPUT on password), changing nothing", async (_name, password) => {
    const company = await makeCompany(t);
    const user = await makeUser(t, company);
    await expectRefused(t, () => setPassword(company, user.id, password), "BAD_USER_INPUT", "password");
  });

  it("counts code points, not UTF-16 units: 12 emoji are enough, 256 emoji are not too many", async () => {
    const company = await makeCompany(t);
    const user = await makeUser(t, company);
    ok(await setPassword(company, user.id, "😀".repeat(12)));
    ok(await setPassword(company, user.id, "😀".repeat(256)));
    await expectRefused(t, () => setPassword(company, user.id, "😀".repeat(257)), "BAD_USER_INPUT", "password");
  });

  it("refuses guests (BAD_USER_INPUT on userId), unknown and other companies' users (NOT_FOUND), and keys without MANAGE_USERS", async () => {
    const company = await makeCompany(t);
    const publicEvent = await makeEvent(t, company, { privacy: "PUBLIC" });
    const guest = ok(await joinRaw(t, { event: publicEvent.id, displayName: "Visitor" })).joinEvent.session.user;
    expect(guest.isGuest).toBe(true);
    await expectRefused(t, () => setPassword(company, guest.id), "BAD_USER_INPUT", "userId");

    await expectRefused(t, () => setPassword(company, "00000000-0000-4000-8000-000000000000"), "NOT_FOUND");
    await expectRefused(t, () => setPassword(company, "not-a-uuid"), "NOT_FOUND");
    const other = await makeCompany(t);
    const theirs = await makeUser(t, other);
    await expectRefused(t, () => setPassword(company, theirs.id), "NOT_FOUND");

    const user = await makeUser(t, company);
    const narrow = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "events", scopes: [MANAGE_EVENTS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    await expectRefused(
      t,
      () => t.gql(SET_PASSWORD, { input: { userId: user.id, password: PASSWORD } }, { key: narrow }),
      "FORBIDDEN",
    );
    await expectRefused(
      t,
      () => t.gql(SET_PASSWORD, { input: { userId: user.id, password: PASSWORD } }),
      "UNAUTHENTICATED",
    );
  });
});

describe("joinEvent with PASSWORD", () => {
  it("admits by email (any case) or external id, as the user, with credentialType PASSWORD", async () => {
    const { company, event, user, email } = await setup();
    const byEmail = ok(await passwordJoin(event.id, `  ${email.toUpperCase()} `, PASSWORD)).joinEvent;
    expect(byEmail.role).toBe("ATTENDEE");
    expect(byEmail.session.credentialType).toBe("PASSWORD");
    expect(byEmail.session.user).toMatchObject({ id: user.id, externalId: user.externalId, isGuest: false });
    const byExternalId = ok(await passwordJoin(`${company.slug}/${event.slug}`, user.externalId, PASSWORD)).joinEvent;
    expect(byExternalId.session.userId).toBe(user.id);
    // The organizer lists apply as to any user.
    ok(
      await t.gql(
        `mutation($input: EventPrincipalsInput!) { addEventPrincipals(input: $input) { id } }`,
        { input: { eventId: event.id, role: "ORGANIZER", principals: [{ email: email.toLowerCase() }] } },
        { key: company.key },
      ),
    );
    expect(ok(await passwordJoin(event.id, user.externalId, PASSWORD)).joinEvent.role).toBe("ORGANIZER");
    expect(t.logs.join("")).not.toContain(PASSWORD);
  });

  it("is off by default: PASSWORD_AUTH_DISABLED before anything else, and again once switched off", async () => {
    const company = await makeCompany(t);
    const event = await makeEvent(t, company);
    const user = await makeUser(t, company, { email: "off@example.com" });
    ok(await setPassword(company, user.id));
    await expectRefused(t, () => passwordJoin(event.id, "off@example.com", PASSWORD), "PASSWORD_AUTH_DISABLED");
    // Even without a username or password: the credential type itself is refused.
    await expectRefused(t, () => passwordJoin(event.id, undefined, undefined), "PASSWORD_AUTH_DISABLED");

    await updateSettings(t, company, { passwordAuthEnabled: true });
    ok(await passwordJoin(event.id, "off@example.com", PASSWORD));
    await updateSettings(t, company, { passwordAuthEnabled: false });
    await expectRefused(t, () => passwordJoin(event.id, "off@example.com", PASSWORD), "PASSWORD_AUTH_DISABLED");
  });

  it("asks for a missing username or password (BAD_USER_INPUT), changing nothing", async () => {
    const { event, email } = await setup();
    await expectRefused(t, () => passwordJoin(event.id, undefined, PASSWORD), "BAD_USER_INPUT", "username");
    await expectRefused(t, () => passwordJoin(event.id, "   ", PASSWORD), "BAD_USER_INPUT", "username");
    await expectRefused(t, () => passwordJoin(event.id, email, undefined), "BAD_USER_INPUT", "password");
    await expectRefused(t, () => passwordJoin(event.id, email, ""), "BAD_USER_INPUT", "password");
  });

  it("answers an unknown user, a user without a password, a guest's name and a wrong password alike", async () => {
    const { company, event, email } = await setup();
    const noPassword = await makeUser(t, company, { email: "nopass@example.com" });
    const publicEvent = await makeEvent(t, company, { privacy: "PUBLIC" });
    ok(await joinRaw(t, { event: publicEvent.id, displayName: "guest@example.com" }));
    const attempts = [
      await passwordJoin(event.id, email, "wrong password, long enough"),
      await passwordJoin(event.id, "nobody@example.com", PASSWORD),
      await passwordJoin(event.id, noPassword.externalId, PASSWORD),
      await passwordJoin(event.id, "guest@example.com", PASSWORD),
      await passwordJoin(event.id, "x".repeat(5000), PASSWORD),
      await passwordJoin(event.id, "nul\u0000name", "y".repeat(3000)),
    ];
    const seen = attempts.map((r) => ({
      code: codeOf(r),
      message: r.errors?.[0]?.message,
      extensions: r.errors?.[0]?.extensions,
      data: r.data ?? null,
    }));
    for (const answer of seen) expect(answer).toEqual(seen[0]);
    expect(seen[0].code).toBe("INVALID_CREDENTIALS");
  });

  it("takes about as long for an unknown user as for a wrong password (a dummy hash is verified)", async () => {
    const { event, email } = await setup();
    const time = async (username: string) => {
      const started = process.hrtime.bigint();
      expect(codeOf(await passwordJoin(event.id, username, "wrong password, long enough"))).toBe("INVALID_CREDENTIALS");
      return Number(process.hrtime.bigint() - started) / 1e6;
    };
    // Warm up both paths, then compare medians of a few runs each.
    await time(email);
    await time("ghost@example.com");
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await time(email));
      unknown.push(await time("ghost@example.com"));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1];
    // Without the dummy hash an unknown user would answer in a small fraction of the time.
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.5);
  });

  it("refuses an ended event before any password is checked", async () => {
    const { company, event, email } = await setup();
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: event.id }, { key: company.key }));
    await expectRefused(t, () => passwordJoin(event.id, email, PASSWORD), "EVENT_ENDED");
  });

  it("ends a password session on revokeUserTokens; a login after it works", async () => {
    const { company, event, user, email } = await setup();
    const before = ok(await passwordJoin(event.id, email, PASSWORD)).joinEvent;
    t.clock.advance(1);
    ok(await t.gql(`mutation($id: ID!) { revokeUserTokens(userId: $id) }`, { id: user.id }, { key: company.key }));
    const beat = ok(await t.gql(BEAT, { t: before.sessionToken })).heartbeat;
    expect(beat).toMatchObject({ active: false, endReason: "REVOKED" });
    const after = ok(await passwordJoin(event.id, email, PASSWORD)).joinEvent;
    expect(ok(await t.gql(BEAT, { t: after.sessionToken })).heartbeat.active).toBe(true);
  });

  it("endSession with ban keeps the user's password out of that event (TOKEN_REVOKED, nothing created), not out of others", async () => {
    const { company, user, email } = await setup();
    // Two live sessions per user, so the ban is seen to end the other one too.
    const event = await makeEvent(t, company, { privacy: "PRIVATE", maxSessionsPerUser: 2 });
    const other = await makeEvent(t, company, { privacy: "PRIVATE" });
    const first = ok(await passwordJoin(event.id, email, PASSWORD)).joinEvent;
    const second = ok(await passwordJoin(event.id, user.externalId, PASSWORD)).joinEvent;
    const END = `mutation($id: ID!) { endSession(id: $id, ban: true) { active endReason } }`;
    expect(ok(await t.gql(END, { id: first.session.id }, { key: company.key })).endSession).toEqual({
      active: false,
      endReason: "KICKED",
    });

    const refused = await expectRefused(t, () => passwordJoin(event.id, email, PASSWORD), "TOKEN_REVOKED");
    expect(refused.errors![0].message).toBe("You were removed from this event.");
    await expectRefused(
      t,
      () => passwordJoin(`${company.slug}/${event.slug}`, user.externalId, PASSWORD),
      "TOKEN_REVOKED",
    );
    // Only the right password learns of the ban: a guesser is told what any wrong password gets.
    expect(codeOf(await passwordJoin(event.id, email, "a wrong password, long enough"))).toBe("INVALID_CREDENTIALS");
    // The user's other password session of the event ends at its next heartbeat.
    expect(ok(await t.gql(BEAT, { t: second.sessionToken })).heartbeat).toMatchObject({
      active: false,
      endReason: "REVOKED",
    });

    const elsewhere = ok(await passwordJoin(other.id, email, PASSWORD)).joinEvent;
    expect(elsewhere.session.userId).toBe(user.id);
    expect(ok(await t.gql(BEAT, { t: elsewhere.sessionToken })).heartbeat.active).toBe(true);
  });
});

describe("password rate limits", () => {
  const failuresOf = async (companyId: string): Promise<Record<string, number>> => {
    const rows: { subject: string; failures: number }[] = await t.db.dataSource.query(
      "SELECT subject, failures FROM auth_failures WHERE company_id = $1",
      [companyId],
    );
    return Object.fromEntries(rows.map((r) => [r.subject, Number(r.failures)]));
  };

  it("after 5 wrong passwords the 6th attempt is RATE_LIMITED even with the right one, until the window ends", async () => {
    const { company, event, user, email } = await setup();
    const subject = usernameSubject(email);
    for (let i = 0; i < 5; i++)
      expect(codeOf(await passwordJoin(event.id, email, `wrong password ${i}!!`))).toBe("INVALID_CREDENTIALS");
    const limited = await passwordJoin(event.id, email, PASSWORD);
    expect(codeOf(limited)).toBe("RATE_LIMITED");
    expect(limited.errors![0].message).toMatch(/try again in 15 minutes/);
    expect(limited.errors![0].extensions!.retryAfterSeconds).toBe(900);
    // The username in any case and spacing is the same username.
    expect(codeOf(await passwordJoin(event.id, `  ${email.toUpperCase()} `, PASSWORD))).toBe("RATE_LIMITED");
    expect((await failuresOf(company.id))[subject]).toBe(7);

    t.clock.advance(600);
    const later = await passwordJoin(event.id, email, PASSWORD);
    expect(codeOf(later)).toBe("RATE_LIMITED");
    expect(later.errors![0].extensions!.retryAfterSeconds).toBe(300);

    t.clock.advance(301);
    const joined = ok(await passwordJoin(event.id, email, PASSWORD)).joinEvent;
    expect(joined.session.userId).toBe(user.id);
    // A success clears the username's count.
    expect((await failuresOf(company.id))[subject]).toBeUndefined();
  });

  it("a success clears the user's count: 4 wrong, right, 4 wrong, right", async () => {
    const { event, email } = await setup();
    for (const round of [1, 2]) {
      for (let i = 0; i < 4; i++)
        expect(codeOf(await passwordJoin(event.id, email, `wrong ${round}-${i} password`))).toBe("INVALID_CREDENTIALS");
      ok(await passwordJoin(event.id, email, PASSWORD));
    }
  });

  it("counts an unknown username like a real one: the 6th attempt of each is RATE_LIMITED, the answers identical", async () => {
    const { company, event, email } = await setup();
    const attempts = async (username: string) => {
      const answers = [];
      for (let i = 0; i < 6; i++) {
        const r = await passwordJoin(event.id, username, `wrong password number ${i}`);
        answers.push({
          code: codeOf(r),
          message: r.errors?.[0]?.message,
          extensions: r.errors?.[0]?.extensions,
          data: r.data ?? null,
        });
      }
      return answers;
    };
    const nobody = `nobody.${randomBytes(3).toString("hex")}@example.com`;
    const real = await attempts(email);
    const unknown = await attempts(nobody);
    expect(real.map((a) => a.code)).toEqual([...Array(5).fill("INVALID_CREDENTIALS"), "RATE_LIMITED"]);
    expect(unknown).toEqual(real);
    // Both counted alike, under a hash of the username: no row names a user or a username.
    const failures = await failuresOf(company.id);
    expect(failures).toEqual({ "ip:127.0.0.1": 12, [usernameSubject(email)]: 6, [usernameSubject(nobody)]: 6 });
    expect(JSON.stringify(failures)).not.toContain("nobody");
  });

  it("a right password clears the counts of all the user's usernames (email and external id)", async () => {
    const { event, user, email } = await setup();
    for (let i = 0; i < 4; i++)
      expect(codeOf(await passwordJoin(event.id, email, `wrong by email ${i}!`))).toBe("INVALID_CREDENTIALS");
    for (let i = 0; i < 4; i++)
      expect(codeOf(await passwordJoin(event.id, user.externalId, `wrong by id ${i}!!`))).toBe("INVALID_CREDENTIALS");
    ok(await passwordJoin(event.id, user.externalId, PASSWORD));
    for (let i = 0; i < 5; i++)
      expect(codeOf(await passwordJoin(event.id, email, `wrong again ${i}!!`))).toBe("INVALID_CREDENTIALS");
    expect(codeOf(await passwordJoin(event.id, email, PASSWORD))).toBe("RATE_LIMITED");
  });

  it("holds the username limit under concurrent guesses: of 10 at once, at most 5 are checked", async () => {
    const { company, event, email } = await setup();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => passwordJoin(event.id, email, `concurrent guess ${i}`)),
    );
    const codes = answers.map(codeOf);
    expect(codes.filter((c) => c === "INVALID_CREDENTIALS")).toHaveLength(5);
    expect(codes.filter((c) => c === "RATE_LIMITED")).toHaveLength(5);
    expect((await failuresOf(company.id))[usernameSubject(email)]).toBe(10);
  });

  it("limits one address across usernames (20 per window) while other addresses still sign in", async () => {
    const { company, event, user, email } = await setup();
    for (let i = 0; i < 20; i++) {
      expect(codeOf(await joinFrom("127.0.0.2", event.id, `stranger${i}@example.com`, PASSWORD))).toBe(
        "INVALID_CREDENTIALS",
      );
    }
    const limited = await joinFrom("127.0.0.2", event.id, email, PASSWORD);
    expect(codeOf(limited)).toBe("RATE_LIMITED");
    expect(limited.errors![0].extensions!.retryAfterSeconds).toBe(900);
    expect(await failuresOf(company.id)).toMatchObject({ "ip:127.0.0.2": 21 });

    const elsewhere = await joinFrom("127.0.0.3", event.id, email, PASSWORD);
    expect(ok(elsewhere).joinEvent.session.userId).toBe(user.id);
    // The success from 127.0.0.3 is not counted against it.
    expect((await failuresOf(company.id))["ip:127.0.0.3"]).toBe(0);

    t.clock.advance(901);
    expect(ok(await joinFrom("127.0.0.2", event.id, email, PASSWORD)).joinEvent.session.userId).toBe(user.id);
  });

  it("counts per company: one company's failures do not limit another's", async () => {
    const first = await setup();
    const second = await setup();
    for (let i = 0; i < 20; i++) await joinFrom("127.0.0.4", first.event.id, `nobody${i}@example.com`, PASSWORD);
    expect(codeOf(await joinFrom("127.0.0.4", first.event.id, first.email, PASSWORD))).toBe("RATE_LIMITED");
    ok(await joinFrom("127.0.0.4", second.event.id, second.email, PASSWORD));
  });

  it("shares the counts between two app instances on one database", async () => {
    const { event, email } = await setup();
    const other = await startSecondNode(t);
    try {
      for (let i = 0; i < 3; i++)
        expect(codeOf(await passwordJoin(event.id, email, `wrong on A ${i}!!`))).toBe("INVALID_CREDENTIALS");
      for (let i = 0; i < 2; i++)
        expect(codeOf(await joinFrom("127.0.0.1", event.id, email, `wrong on B ${i}!!`, other.url))).toBe(
          "INVALID_CREDENTIALS",
        );
      expect(codeOf(await passwordJoin(event.id, email, PASSWORD))).toBe("RATE_LIMITED");
      expect(codeOf(await joinFrom("127.0.0.1", event.id, email, PASSWORD, other.url))).toBe("RATE_LIMITED");
    } finally {
      await other.close();
    }
  });
});

describe("the client's address behind a proxy (TRUST_PROXY)", () => {
  const failuresOf = async (companyId: string): Promise<Record<string, number>> => {
    const rows: { subject: string; failures: number }[] = await t.db.dataSource.query(
      "SELECT subject, failures FROM auth_failures WHERE company_id = $1 AND subject LIKE 'ip:%'",
      [companyId],
    );
    return Object.fromEntries(rows.map((r) => [r.subject, Number(r.failures)]));
  };
  const joinVia = (url: string, event: string, username: string, forwardedFor: string) =>
    fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-forwarded-for": forwardedFor },
      body: JSON.stringify({
        query: JOIN,
        variables: { input: { event, credentialType: "PASSWORD", username, password: PASSWORD } },
      }),
    }).then(
      async (r) =>
        ({
          status: r.status,
          ...((await r.json()) as { data?: any; errors?: any[] }),
          headers: r.headers,
        }) as GqlResponse,
    );

  it("behind a trusted proxy counts each X-Forwarded-For client apart, and a client cannot pick its own address", async () => {
    const { company, event } = await setup();
    const proxied = await startNodeOn(t, { trustProxy: ["127.0.0.1"] });
    try {
      for (let i = 0; i < 20; i++) {
        expect(codeOf(await joinVia(proxied.url, event.id, `stranger${i}@example.com`, "203.0.113.5"))).toBe(
          "INVALID_CREDENTIALS",
        );
      }
      expect(codeOf(await joinVia(proxied.url, event.id, "stranger@example.com", "203.0.113.5"))).toBe("RATE_LIMITED");
      // Another client behind the same proxy is not locked out by the first one.
      expect(codeOf(await joinVia(proxied.url, event.id, "stranger@example.com", "203.0.113.6"))).toBe(
        "INVALID_CREDENTIALS",
      );
      // An address the client wrote in front of the one the proxy appended is not believed.
      expect(codeOf(await joinVia(proxied.url, event.id, "stranger@example.com", "198.51.100.1, 203.0.113.5"))).toBe(
        "RATE_LIMITED",
      );
      expect(await failuresOf(company.id)).toEqual({ "ip:203.0.113.5": 22, "ip:203.0.113.6": 1 });
    } finally {
      await proxied.close();
    }
  });

  it("without TRUST_PROXY ignores X-Forwarded-For: the connecting address is the client's", async () => {
    const { company, event } = await setup();
    expect(codeOf(await joinVia(t.url, event.id, "someone@example.com", "203.0.113.7"))).toBe("INVALID_CREDENTIALS");
    expect(codeOf(await joinVia(t.url, event.id, "someone@example.com", "203.0.113.8"))).toBe("INVALID_CREDENTIALS");
    expect(await failuresOf(company.id)).toEqual({ "ip:127.0.0.1": 2 });
  });
});

describe("addressSubject", () => {
  it("counts IPv4 by address, IPv4-mapped IPv6 as its IPv4, and IPv6 by its /64", () => {
    expect(addressSubject("203.0.113.7")).toBe("ip:203.0.113.7");
    expect(addressSubject("::ffff:203.0.113.7")).toBe("ip:203.0.113.7");
    expect(addressSubject("2001:db8:0:12:abcd::1")).toBe("ip:2001:db8:0:12::/64");
    expect(addressSubject("2001:DB8:0000:0012:ffff:1:2:3")).toBe("ip:2001:db8:0:12::/64");
    expect(addressSubject("2001:db8::1")).toBe("ip:2001:db8:0:0::/64");
    expect(addressSubject("fe80::1%eth0")).toBe("ip:fe80:0:0:0::/64");
    expect(addressSubject("::1")).toBe("ip:0:0:0:0::/64");
    expect(addressSubject("unknown")).toBe("ip:unknown");
  });
});

/**
 * A second app instance on the same database: on PostgreSQL a whole second test app (its own
 * pool), on PGlite (one in-memory database per app) a second app over the first one's data
 * source. Its clock is the first one's time. Only refusals are asked of it (its master key differs,
 * so it cannot sign for the first one's companies).
 */
async function startSecondNode(first: TestApp): Promise<{ url: string; close: () => Promise<void> }> {
  if (!usingPglite()) {
    const second = await startTestApp();
    second.clock.set(first.clock.now());
    return { url: second.url, close: () => second.close() };
  }
  const clock = new ManualClock(first.clock.now());
  const app = await createApp({
    config: { publicUrl: "http://admit.test", adminApiKey: first.adminKey, nodeEnv: "test" },
    masterKey: randomBytes(32),
    dataSource: first.db.dataSource,
    clock,
    log: createLogger("silent"),
  });
  await app.fastify.listen({ port: 0, host: "127.0.0.1" });
  return { url: `http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}`, close: () => app.close() };
}

/**
 * Another app instance over the first one's data source (either database), with its own config:
 * like startSecondNode, it can only be asked for refusals.
 */
async function startNodeOn(
  first: TestApp,
  config: { trustProxy: readonly string[] },
): Promise<{ url: string; close: () => Promise<void> }> {
  const app = await createApp({
    config: { publicUrl: "http://admit.test", adminApiKey: first.adminKey, nodeEnv: "test", ...config },
    masterKey: randomBytes(32),
    dataSource: first.db.dataSource,
    clock: new ManualClock(first.clock.now()),
    log: createLogger("silent"),
  });
  await app.fastify.listen({ port: 0, host: "127.0.0.1" });
  return { url: `http://127.0.0.1:${(app.fastify.server.address() as AddressInfo).port}`, close: () => app.close() };
}

describe("old rate-limit windows", () => {
  it("are deleted a day after they ran out, and recent ones are kept", async () => {
    const { company, event, email } = await setup();
    expect(codeOf(await passwordJoin(event.id, email, "wrong password, surely"))).toBe("INVALID_CREDENTIALS");
    const rows = () => t.db.dataSource.query("SELECT subject FROM auth_failures WHERE company_id = $1", [company.id]);
    expect((await rows()).length).toBeGreaterThan(0);
    await t.app.services.authLimiter.purgeExpired();
    expect((await rows()).length).toBeGreaterThan(0);
    t.clock.advance(25 * 3600 * 1000);
    await t.app.services.authLimiter.purgeExpired();
    expect(await rows()).toEqual([]);
  });
});
