import { randomUUID } from "node:crypto";
import { signToken } from "../../src/auth/tokens";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany, TestEvent } from "../support/factories";
import { dbState, epoch, join, mint, VALIDATE } from "./join-helpers";

const t = useTestApp();
let company: TestCompany;
let event: TestEvent;
beforeAll(async () => {
  company = await makeCompany(t);
  event = await makeEvent(t, company);
});

interface Validation {
  valid: boolean;
  errorCode: string | null;
  tokenType: string | null;
  claims: Record<string, any> | null;
  expiresAt: string | null;
}
const validate = async (token: string, key: string | null = null): Promise<Validation> =>
  ok(await t.gql(VALIDATE, { token }, { key })).validateToken;

async function register(email: string): Promise<{ id: string; token: string }> {
  const r = ok(
    await t.gql(
      `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { id joinUrl } }`,
      { input: { eventId: event.id, name: "Val Idator", email } },
      { key: company.key },
    ),
  ).registerForEvent;
  return { id: r.id, token: new URL(r.joinUrl).searchParams.get("token")! };
}

it("a valid join token: its kind, verified claims and expiry", async () => {
  const minted = await mint(t, company, {
    eventId: event.id,
    user: { id: "val-1", email: "val@example.com" },
    role: "PRESENTER",
    metadata: { tier: "gold" },
  });
  const v = await validate(minted.token);
  expect(v).toMatchObject({ valid: true, errorCode: null, tokenType: "join", expiresAt: minted.expiresAt });
  expect(v.claims).toMatchObject({
    iss: `http://admit.test/c/${company.slug}`,
    aud: "admit:join",
    sub: "val-1",
    jti: minted.jti,
    evt: event.id,
    role: "PRESENTER",
    md: { tier: "gold" },
    usr: { email: "val@example.com" },
    exp: epoch(minted.expiresAt!),
  });
});

it("a valid session token", async () => {
  const joined = await join(t, event.id, (await mint(t, company, { eventId: event.id, user: { id: "val-2" } })).token);
  const v = await validate(joined.sessionToken);
  expect(v).toMatchObject({
    valid: true,
    errorCode: null,
    tokenType: "session",
    expiresAt: joined.sessionTokenExpiresAt,
  });
  expect(v.claims).toMatchObject({
    sub: joined.session.id,
    aud: `http://admit.test/c/${company.slug}`,
    evt: event.id,
    role: "ATTENDEE",
    permissions: ["view"],
  });
});

it("a valid registration token, from registerForEvent and signed directly", async () => {
  const registered = await register("reg-valid@example.com");
  expect(await validate(registered.token)).toMatchObject({ valid: true, errorCode: null, tokenType: "registration" });

  const now = t.clock.now();
  const signed = await signToken({
    kind: "registration",
    key: await t.app.services.signingKeys.currentKey(company.id),
    issuer: `http://admit.test/c/${company.slug}`,
    subject: registered.id,
    jti: registered.id,
    issuedAt: now,
    expiresAt: new Date(now.getTime() + 3600_000),
    claims: { evt: event.id },
  });
  const v = await validate(signed);
  expect(v).toMatchObject({
    valid: true,
    tokenType: "registration",
    expiresAt: new Date(epoch(now) * 1000 + 3600_000).toISOString(),
  });
  expect(v.claims).toMatchObject({ sub: registered.id, aud: "admit:registration" });
});

it("expired and not-yet-valid tokens: the code, the kind, no claims", async () => {
  const expiring = await mint(t, company, { eventId: event.id, user: { id: "val-exp" }, ttlSeconds: 60 });
  const future = await mint(t, company, {
    eventId: event.id,
    user: { id: "val-nbf" },
    ttlSeconds: 7200,
    notBefore: new Date(t.clock.now().getTime() + 3600_000).toISOString(),
  });
  expect(await validate(future.token)).toEqual({
    valid: false,
    errorCode: "TOKEN_NOT_YET_VALID",
    tokenType: "join",
    claims: null,
    expiresAt: null,
  });
  expect((await validate(expiring.token)).valid).toBe(true);
  t.clock.advance(60 + 31);
  expect(await validate(expiring.token)).toEqual({
    valid: false,
    errorCode: "TOKEN_EXPIRED",
    tokenType: "join",
    claims: null,
    expiresAt: null,
  });
});

it("revoked tokens: by jti, by revokeUserTokens, by a cancelled registration", async () => {
  const byJti = await mint(t, company, { eventId: event.id, user: { id: "val-rev-1" } });
  ok(await t.gql(`mutation($j: ID!) { revokeToken(jti: $j) }`, { j: byJti.jti }, { key: company.key }));
  const v = await validate(byJti.token);
  expect(v).toMatchObject({ valid: false, errorCode: "TOKEN_REVOKED", tokenType: "join" });
  expect(v.claims).toMatchObject({ jti: byJti.jti });

  const byUser = await mint(t, company, { eventId: event.id, user: { id: "val-rev-2" } });
  const joined = await join(t, event.id, byUser.token);
  ok(
    await t.gql(
      `mutation($id: ID!) { revokeUserTokens(userId: $id) }`,
      { id: joined.session.userId },
      { key: company.key },
    ),
  );
  expect(await validate(byUser.token)).toMatchObject({ valid: false, errorCode: "TOKEN_REVOKED", tokenType: "join" });

  const registered = await register("reg-cancel@example.com");
  ok(
    await t.gql(
      `mutation($id: ID!) { cancelRegistration(id: $id) { id } }`,
      { id: registered.id },
      { key: company.key },
    ),
  );
  expect(await validate(registered.token)).toMatchObject({
    valid: false,
    errorCode: "TOKEN_REVOKED",
    tokenType: "registration",
  });
});

it("garbage: TOKEN_INVALID, no kind, no claims", async () => {
  for (const token of [
    "",
    "garbage",
    "a.b.c",
    `${Buffer.from('{"alg":"none","typ":"join+jwt"}').toString("base64url")}.e30.`,
  ]) {
    expect(await validate(token)).toEqual({
      valid: false,
      errorCode: "TOKEN_INVALID",
      tokenType: null,
      claims: null,
      expiresAt: null,
    });
  }
  const stranger = await signToken({
    kind: "join",
    key: await t.app.services.signingKeys.currentKey(company.id),
    issuer: "http://admit.test/c/no-such-company",
    subject: "x",
    jti: randomUUID(),
    issuedAt: t.clock.now(),
    expiresAt: new Date(t.clock.now().getTime() + 60_000),
  });
  expect(await validate(stranger)).toMatchObject({ valid: false, errorCode: "TOKEN_INVALID", claims: null });
});

it("needs no API key, answers the same with one, and writes nothing", async () => {
  const minted = await mint(t, company, { eventId: event.id, user: { id: "val-none" } });
  const before = await dbState(t);
  const anonymous = await validate(minted.token);
  const keyed = await validate(minted.token, company.key);
  expect(keyed).toEqual(anonymous);
  expect(anonymous.valid).toBe(true);
  expect(await dbState(t)).toEqual(before);
});
