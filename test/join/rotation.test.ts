import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import type { JsonWebKey } from "node:crypto";
import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, TestCompany } from "../support/factories";
import { beat, decodePart, expectRefused, join, joinRaw, mint, updateSettings, VALIDATE } from "./join-helpers";

const t = useTestApp();

const ROTATE = `mutation { rotateSigningKey { kid alg current createdAt retiresAt } }`;
const KEYS = `query { company { signingKeys { kid alg current retiresAt } } }`;

interface Jwk extends JsonWebKey {
  kid: string;
}

async function jwksOf(company: TestCompany): Promise<Jwk[]> {
  const response = await fetch(`${t.url}/c/${company.slug}/.well-known/jwks.json`);
  expect(response.status).toBe(200);
  return ((await response.json()) as { keys: Jwk[] }).keys;
}

function verifiesWith(keys: Jwk[], token: string): boolean {
  const [header, payload, signature] = token.split(".");
  const jwk = keys.find((k) => k.kid === decodePart(token, 0).kid);
  if (!jwk) return false;
  return cryptoVerify(
    null,
    Buffer.from(`${header}.${payload}`),
    createPublicKey({ key: jwk, format: "jwk" }),
    Buffer.from(signature, "base64url"),
  );
}

const keysOf = async (company: TestCompany) =>
  ok(await t.gql(KEYS, {}, { key: company.key })).company.signingKeys as {
    kid: string;
    current: boolean;
    retiresAt: string | null;
  }[];
const validate = async (token: string) => ok(await t.gql(VALIDATE, { token })).validateToken;

it("new tokens carry the new kid, old tokens keep working until the old key retires, then the key leaves the JWKS", async () => {
  const company = await makeCompany(t);
  const bystander = await makeCompany(t);
  const bystanderKeys = await keysOf(bystander);
  const event = await makeEvent(t, company);

  const [first] = await keysOf(company);
  expect(first).toMatchObject({ current: true, retiresAt: null });
  // Used once before the rotation, so this node has the old key cached as it was while current.
  const used = await mint(t, company, { eventId: event.id, user: { id: "before-1" } });
  const session = await join(t, event.id, used.token);
  const unused = await mint(t, company, { eventId: event.id, user: { id: "before-2" }, ttlSeconds: 30 * 24 * 3600 });
  const registration = new URL(
    ok(
      await t.gql(
        `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { joinUrl } }`,
        { input: { eventId: event.id, name: "Early Bird", email: "early@example.com" } },
        { key: company.key },
      ),
    ).registerForEvent.joinUrl,
  ).searchParams.get("token")!;
  expect(decodePart(unused.token, 0).kid).toBe(first.kid);
  expect(decodePart(registration, 0).kid).toBe(first.kid);

  const rotated = ok(await t.gql(ROTATE, {}, { key: company.key })).rotateSigningKey;
  expect(rotated).toMatchObject({ alg: "EdDSA", current: true, retiresAt: null });
  expect(rotated.kid).not.toBe(first.kid);

  // This node signs with the new key at once.
  const fresh = await mint(t, company, { eventId: event.id, user: { id: "after-1" } });
  expect(decodePart(fresh.token, 0).kid).toBe(rotated.kid);
  expect((await join(t, event.id, fresh.token)).session.active).toBe(true);

  // The old key still verifies: unused old token, registration link, live session.
  expect((await join(t, event.id, unused.token)).session.active).toBe(true);
  const refreshed = await beat(t, session.sessionToken);
  expect(refreshed.active).toBe(true);
  expect(decodePart(refreshed.sessionToken!, 0).kid).toBe(rotated.kid);

  const keys = await keysOf(company);
  expect(keys.map((k) => [k.kid, k.current])).toEqual([
    [rotated.kid, true],
    [first.kid, false],
  ]);
  const retiresAt = new Date(keys[1].retiresAt!);
  // Kept at least as long as any token the old key signed can live (registration tokens: 180 days).
  expect(retiresAt.getTime()).toBeGreaterThanOrEqual(t.clock.now().getTime() + 180 * 24 * 3600 * 1000);

  const jwksBoth = await jwksOf(company);
  expect(jwksBoth.map((k) => k.kid)).toEqual([rotated.kid, first.kid]);
  expect(verifiesWith(jwksBoth, unused.token)).toBe(true);
  expect(verifiesWith(jwksBoth, fresh.token)).toBe(true);

  // Someone else's keys are untouched.
  expect(await keysOf(bystander)).toEqual(bystanderKeys);

  // The longest-lived token the old key signed, just before it expires: still accepted.
  const registrationExp = decodePart(registration, 1).exp * 1000;
  expect(registrationExp).toBeLessThanOrEqual(retiresAt.getTime());
  t.clock.set(new Date(registrationExp - 60_000));
  expect((await join(t, event.id, registration)).session.active).toBe(true);
  expect(await validate(unused.token)).toMatchObject({ valid: false, errorCode: "TOKEN_EXPIRED" });

  // Just before retirement: the old key is still known (its tokens are merely expired).
  t.clock.set(new Date(retiresAt.getTime() - 1_000));
  expect(await validate(unused.token)).toMatchObject({ valid: false, errorCode: "TOKEN_EXPIRED" });
  expect(await validate(registration)).toMatchObject({ valid: false, errorCode: "TOKEN_EXPIRED" });
  expect((await jwksOf(company)).map((k) => k.kid)).toEqual([rotated.kid, first.kid]);

  // Past it: the old key verifies nothing and is gone from the JWKS and from signingKeys.
  t.clock.set(new Date(retiresAt.getTime() + 1_000));
  expect(await validate(unused.token)).toMatchObject({ valid: false, errorCode: "TOKEN_INVALID" });
  expect(await validate(registration)).toMatchObject({ valid: false, errorCode: "TOKEN_INVALID" });
  await expectRefused(t, () => joinRaw(t, { event: event.id, credential: registration }), "TOKEN_INVALID");
  const jwksAfter = await jwksOf(company);
  expect(jwksAfter.map((k) => k.kid)).toEqual([rotated.kid]);
  expect(verifiesWith(jwksAfter, unused.token)).toBe(false);
  expect((await keysOf(company)).map((k) => k.kid)).toEqual([rotated.kid]);

  const later = await mint(t, company, { eventId: event.id, user: { id: "after-2" } });
  expect(decodePart(later.token, 0).kid).toBe(rotated.kid);
  expect((await join(t, event.id, later.token)).session.active).toBe(true);
});

it("rotating twice keeps both older keys until each retires", async () => {
  const company = await makeCompany(t);
  const event = await makeEvent(t, company);
  const a = await mint(t, company, { eventId: event.id, user: { id: "gen-a" } });
  const second = ok(await t.gql(ROTATE, {}, { key: company.key })).rotateSigningKey;
  const b = await mint(t, company, { eventId: event.id, user: { id: "gen-b" } });
  t.clock.advance(60);
  const third = ok(await t.gql(ROTATE, {}, { key: company.key })).rotateSigningKey;
  const c = await mint(t, company, { eventId: event.id, user: { id: "gen-c" } });
  expect(new Set([a, b, c].map((m) => decodePart(m.token, 0).kid)).size).toBe(3);
  expect(decodePart(c.token, 0).kid).toBe(third.kid);
  for (const m of [a, b, c]) expect((await join(t, event.id, m.token)).session.active).toBe(true);
  const keys = await keysOf(company);
  expect(keys.filter((k) => k.current).map((k) => k.kid)).toEqual([third.kid]);
  expect(keys).toHaveLength(3);
  expect(keys.find((k) => k.kid === second.kid)!.retiresAt).not.toBeNull();
});

it("where tokens may never expire, old keys are kept for good", async () => {
  const company = await makeCompany(t);
  await updateSettings(t, company, { allowNonExpiringTokens: true });
  const event = await makeEvent(t, company);
  const forever = await mint(t, company, { eventId: event.id, user: { id: "forever" }, ttlSeconds: 0 });
  ok(await t.gql(ROTATE, {}, { key: company.key }));
  const keys = await keysOf(company);
  expect(keys).toHaveLength(2);
  expect(keys[1]).toMatchObject({ current: false, retiresAt: null });
  t.clock.advance(3 * 365 * 24 * 3600);
  expect((await join(t, event.id, forever.token)).session.active).toBe(true);
  expect(await jwksOf(company)).toHaveLength(2);
});

it("only a key with MANAGE_COMPANY may rotate; a refused rotation changes nothing", async () => {
  const company = await makeCompany(t);
  const minter = ok(
    await t.gql(
      `mutation { createApiKey(input: { name: "minter", scopes: [MINT_TOKENS, MANAGE_EVENTS] }) { secret } }`,
      {},
      { key: company.key },
    ),
  ).createApiKey.secret;
  const before = await keysOf(company);
  await expectRefused(t, () => t.gql(ROTATE, {}, { key: minter }), "FORBIDDEN");
  await expectRefused(t, () => t.gql(ROTATE, {}, { key: null }), "UNAUTHENTICATED");
  await expectRefused(t, () => t.gql(ROTATE, {}, { key: t.adminKey }), "FORBIDDEN");
  expect(await keysOf(company)).toEqual(before);
});
