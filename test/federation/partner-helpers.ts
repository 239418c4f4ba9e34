import { createHash, createHmac } from "node:crypto";
import { SignJWT } from "jose";
import { GqlResponse, ok, TestApp } from "../support/harness";
import { TestCompany } from "../support/factories";
import { b64json } from "../join/join-helpers";

/** Helpers of the partner-JWT, OIDC and token-exchange tests. */

export const CREATE_SECRET = `mutation($input: CreatePartnerSecretInput!) {
  createPartnerSecret(input: $input) { secret partnerSecret { id name createdAt lastUsedAt revokedAt } }
}`;
export const REVOKE_SECRET = `mutation($id: ID!) { revokePartnerSecret(id: $id) { id name createdAt lastUsedAt revokedAt } }`;
export const ADD_PROVIDER = `mutation($input: AddIdentityProviderInput!) {
  addIdentityProvider(input: $input) {
    id kind name issuer jwksUri audience algorithms jitEnabled createdAt disabledAt
    claimMapping { externalId email name }
  }
}`;
export const PARTNER_JOIN = `mutation($input: JoinEventInput!) {
  joinEvent(input: $input) {
    role sessionToken
    session { id userId role credentialType metadata user { id externalId name email avatarUrl isGuest metadata } event { id slug } }
  }
}`;

export const END_SESSION = `mutation($id: ID!, $ban: Boolean) { endSession(id: $id, ban: $ban) { id active endReason } }`;
export const REVOKE_TOKEN = `mutation($jti: ID!) { revokeToken(jti: $jti) }`;

/** The jti Admit knows a token without one by (a ban or revokeToken takes it). */
export const syntheticJtiOf = (token: string): string => `sha256:${createHash("sha256").update(token).digest("hex")}`;

/** The issuer of the company's own Admit tokens: the `aud` a PARTNER_KEYS token without a configured audience needs. */
export const companyIssuer = (company: TestCompany): string => `http://admit.test/c/${company.slug}`;

export interface PartnerSecret {
  id: string;
  secret: string;
}

export async function createSecret(t: TestApp, company: TestCompany, name = "partner"): Promise<PartnerSecret> {
  const data = ok(await t.gql(CREATE_SECRET, { input: { name } }, { key: company.key })).createPartnerSecret;
  return { id: data.partnerSecret.id, secret: data.secret };
}

/** Seconds since the epoch on the app's clock. */
export const nowSeconds = (t: TestApp): number => Math.floor(t.clock.now().getTime() / 1000);

/** An HS256 JWT signed with a partner secret (the UTF-8 bytes of the shown secret are the key). */
export async function signPartner(
  secret: PartnerSecret,
  claims: Record<string, unknown>,
  options: { alg?: string; header?: Record<string, unknown>; omitKid?: boolean } = {},
): Promise<string> {
  const header = {
    alg: options.alg ?? "HS256",
    typ: "JWT",
    ...(options.omitKid ? {} : { kid: secret.id }),
    ...(options.header ?? {}),
  };
  return new SignJWT(claims).setProtectedHeader(header).sign(new TextEncoder().encode(secret.secret));
}

/** HS256 by hand, for headers jose will not sign (crit naming unknown parameters). */
export function signRawHs256(
  secret: PartnerSecret,
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
): string {
  const input = `${b64json(header)}.${b64json(claims)}`;
  return `${input}.${createHmac("sha256", secret.secret).update(input).digest("base64url")}`;
}

/** Claims valid for 10 minutes from the app's clock, plus `extra`. */
export const fresh = (t: TestApp, extra: Record<string, unknown>): Record<string, unknown> => ({
  iat: nowSeconds(t),
  exp: nowSeconds(t) + 600,
  ...extra,
});

/** An unsigned token (alg none). */
export const unsigned = (
  claims: Record<string, unknown>,
  header: Record<string, unknown> = { alg: "none", typ: "JWT" },
): string => `${b64json(header)}.${b64json(claims)}.`;

export function partnerJoin(t: TestApp, event: string, credential: string): Promise<GqlResponse> {
  return t.gql(PARTNER_JOIN, { input: { event, credential, credentialType: "PARTNER_JWT" } });
}

export function oidcJoin(t: TestApp, event: string, credential: string): Promise<GqlResponse> {
  return t.gql(PARTNER_JOIN, { input: { event, credential, credentialType: "OIDC_ID_TOKEN" } });
}

export async function addProvider(t: TestApp, company: TestCompany, input: Record<string, unknown>) {
  return ok(await t.gql(ADD_PROVIDER, { input }, { key: company.key })).addIdentityProvider;
}

export async function userCount(t: TestApp, companyId: string): Promise<number> {
  return (await t.db.dataSource.query(`SELECT count(*)::int AS n FROM users WHERE company_id = $1`, [companyId]))[0].n;
}

export async function seatsUsed(t: TestApp, company: TestCompany): Promise<number> {
  return ok(await t.gql(`query { company { seatsUsed } }`, {}, { key: company.key })).company.seatsUsed;
}

/** How many of each error code (OK for a success). */
export const tally = (codes: (string | undefined)[]) =>
  codes.reduce<Record<string, number>>((acc, code) => ({ ...acc, [code ?? "OK"]: (acc[code ?? "OK"] ?? 0) + 1 }), {});
