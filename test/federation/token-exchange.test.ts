import { ok, useTestApp } from "../support/harness";
import { makeCompany, makeEvent, makeUser, TestCompany, TestEvent } from "../support/factories";
import { TestJwksServer } from "../support/jwks-server";
import { decodePart, join, joinRaw, mint, tableCounts, VALIDATE } from "../join/join-helpers";
import {
  addProvider,
  companyIssuer,
  createSecret,
  END_SESSION,
  fresh,
  nowSeconds,
  PartnerSecret,
  partnerJoin,
  REVOKE_TOKEN,
  signPartner,
  syntheticJtiOf,
  unsigned,
  userCount,
} from "./partner-helpers";

const t = useTestApp();
let company: TestCompany;
let event: TestEvent;
let secret: PartnerSecret;

const GRANT = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT = "urn:ietf:params:oauth:token-type:jwt";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const uid = () => Math.random().toString(36).slice(2, 10);

beforeAll(async () => {
  company = await makeCompany(t);
  event = await makeEvent(t, company);
  secret = await createSecret(t, company);
});

interface Answer {
  status: number;
  body: Record<string, any>;
  headers: Headers;
}

const basic = (clientId: string, clientSecret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString("base64")}`;

/** POST /oauth/token with a form body; authenticated with the company's key (Basic) unless `authorization` says otherwise. */
async function exchange(
  params: Record<string, string | string[]>,
  options: { authorization?: string | null; body?: string; contentType?: string; method?: string } = {},
): Promise<Answer> {
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    for (const one of Array.isArray(value) ? value : [value]) form.append(name, one);
  const headers: Record<string, string> = {
    "content-type": options.contentType ?? "application/x-www-form-urlencoded",
  };
  const authorization = options.authorization === undefined ? basic(company.slug, company.key) : options.authorization;
  if (authorization) headers.authorization = authorization;
  const method = options.method ?? "POST";
  const response = await fetch(`${t.url}/oauth/token`, {
    method,
    headers,
    body: method === "GET" ? undefined : (options.body ?? form.toString()),
  });
  const text = await response.text();
  let body: Record<string, any>;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text };
  }
  return { status: response.status, body, headers: response.headers };
}

const partnerGrant = async (claims: Record<string, unknown>, extra: Record<string, string> = {}) => ({
  grant_type: GRANT,
  subject_token: await signPartner(secret, fresh(t, claims)),
  subject_token_type: JWT,
  ...extra,
});

const expectError = (answer: Answer, status: number, error: string) => {
  expect({ status: answer.status, error: answer.body.error }).toEqual({ status, error });
  expect(typeof answer.body.error_description).toBe("string");
  expect(answer.body.access_token).toBeUndefined();
  expect(answer.headers.get("cache-control")).toBe("no-store");
};

describe("POST /oauth/token", () => {
  it("exchanges a partner JWT for an event's join token, which then joins the event (the join creates the user)", async () => {
    const id = `x-${uid()}`;
    const users = await userCount(t, company.id);
    const answer = await exchange(
      await partnerGrant(
        { user: { id, name: "Xu", email: "xu@example.test" }, role: "PRESENTER", metadata: { via: "oauth" } },
        { audience: event.slug },
      ),
    );
    expect(answer.status).toBe(200);
    expect(answer.headers.get("cache-control")).toBe("no-store");
    expect(answer.headers.get("content-type")).toMatch(/^application\/json/);
    expect(Object.keys(answer.body).sort()).toEqual(["access_token", "expires_in", "issued_token_type", "token_type"]);
    expect(answer.body).toMatchObject({ issued_token_type: JWT, token_type: "N_A" });
    expect(answer.body.expires_in).toBeGreaterThan(500);
    expect(answer.body.expires_in).toBeLessThanOrEqual(600);

    const token: string = answer.body.access_token;
    expect(decodePart(token, 0).typ).toBe("join+jwt");
    expect(decodePart(token, 1)).toMatchObject({
      sub: id,
      evt: event.id,
      role: "PRESENTER",
      usr: { name: "Xu", email: "xu@example.test" },
    });
    expect(await userCount(t, company.id)).toBe(users);

    const joined = await join(t, event.slug, token);
    expect(joined.role).toBe("PRESENTER");
    expect(joined.session).toMatchObject({
      credentialType: "JOIN_TOKEN",
      metadata: { via: "oauth" },
      user: { externalId: id, name: "Xu" },
    });
    expect(await userCount(t, company.id)).toBe(users + 1);
    // Neither token reaches the logs.
    expect(t.logs.join("\n")).not.toContain(token.split(".")[2]);
    expect(t.logs.join("\n")).not.toContain(secret.secret);
  });

  it("without audience the token opens any event of the company; Bearer authentication works too", async () => {
    const answer = await exchange(await partnerGrant({ user: { id: `any-${uid()}` } }), {
      authorization: `Bearer ${company.key}`,
    });
    expect(answer.status).toBe(200);
    expect(decodePart(answer.body.access_token, 1).evt).toBeUndefined();
    const other = await makeEvent(t, company);
    ok(await joinRaw(t, { event: other.id, credential: answer.body.access_token }));
  });

  it("an event-specific token does not open another event", async () => {
    const answer = await exchange(await partnerGrant({ user: { id: `one-${uid()}` } }, { audience: event.id }));
    const other = await makeEvent(t, company);
    const refused = await joinRaw(t, { event: other.id, credential: answer.body.access_token });
    expect(refused.errors?.[0]?.extensions?.code).toBe("TOKEN_WRONG_EVENT");
  });

  it("{ sub } names an existing user: the token carries its external id and profile; an unknown one is invalid_grant", async () => {
    const user = await makeUser(t, company, { name: "Existing", email: "existing@example.test" });
    const answer = await exchange(await partnerGrant({ sub: user.externalId }, { audience: event.id }));
    expect(answer.status).toBe(200);
    expect(decodePart(answer.body.access_token, 1)).toMatchObject({
      sub: user.externalId,
      usr: { name: "Existing", email: "existing@example.test" },
    });
    expect((await join(t, event.id, answer.body.access_token)).session.userId).toBe(user.id);

    expectError(await exchange(await partnerGrant({ sub: `ghost-${uid()}` })), 400, "invalid_grant");
    expectError(await exchange(await partnerGrant({ email: `ghost-${uid()}@example.test` })), 400, "invalid_grant");
  });

  it("the join token expires with the subject token, or sooner by the company's default lifetime", async () => {
    const short = await exchange({
      grant_type: GRANT,
      subject_token_type: JWT,
      subject_token: await signPartner(secret, { user: { id: `s-${uid()}` }, exp: nowSeconds(t) + 120 }),
    });
    expect(short.body.expires_in).toBeLessThanOrEqual(120);
    const long = await exchange({
      grant_type: GRANT,
      subject_token_type: JWT,
      subject_token: await signPartner(secret, { user: { id: `l-${uid()}` }, exp: nowSeconds(t) + 20 * 3600 }),
    });
    expect(long.body.expires_in).toBe(3600);
  });

  it("a voice-SDK ticket opens its channel's event", async () => {
    const issuer = "acme-voice";
    const claims = {
      iss: issuer,
      vxa: "join",
      f: `sip:.${issuer}.u${uid()}.@voice.test`,
      t: `sip:confctl-g-${issuer}.${event.slug}@voice.test`,
    };
    const answer = await exchange(await partnerGrant(claims));
    expect(answer.status).toBe(200);
    expect(decodePart(answer.body.access_token, 1).evt).toBe(event.id);
    const other = await makeEvent(t, company);
    expectError(await exchange(await partnerGrant(claims, { audience: other.id })), 400, "invalid_grant");
  });

  it("exchanges an OIDC ID token of a registered provider", async () => {
    const idp = await TestJwksServer.start();
    try {
      const issuer = `${idp.baseUrl}/oidc`;
      await addProvider(t, company, { name: "SSO", issuer, jwksUri: idp.jwksUri, audience: "admit" });
      const sub = `sso-${uid()}`;
      const idToken = await idp.sign(fresh(t, { iss: issuer, aud: "admit", sub, name: "Sso" }));
      const answer = await exchange({
        grant_type: GRANT,
        subject_token: idToken,
        subject_token_type: ID_TOKEN,
        audience: event.id,
        requested_token_type: JWT,
      });
      expect(answer.status).toBe(200);
      const joined = await join(t, event.id, answer.body.access_token);
      expect(joined.session.user).toMatchObject({ externalId: sub, name: "Sso" });
      // The same ID token named as a partner JWT is not one.
      expectError(
        await exchange({ grant_type: GRANT, subject_token: idToken, subject_token_type: JWT }),
        400,
        "invalid_grant",
      );
    } finally {
      await idp.stop();
    }
  });

  it("revoking the subject token's jti refuses the join tokens minted from it (join and validateToken); each has its own jti", async () => {
    const jti = `subject-${uid()}`;
    const grant = await partnerGrant({ jti, user: { id: `rv-${uid()}` } }, { audience: event.id });
    const first = (await exchange(grant)).body.access_token as string;
    const second = (await exchange(grant)).body.access_token as string;
    const [a, b] = [decodePart(first, 1), decodePart(second, 1)];
    expect(a.sjt).toBe(jti);
    expect(b.sjt).toBe(jti);
    expect(new Set([a.jti, b.jti, jti]).size).toBe(3);
    await join(t, event.id, first);

    ok(await t.gql(REVOKE_TOKEN, { jti }, { key: company.key }));
    expect((await joinRaw(t, { event: event.id, credential: second })).errors?.[0]?.extensions?.code).toBe(
      "TOKEN_REVOKED",
    );
    expect(ok(await t.gql(VALIDATE, { token: second })).validateToken).toMatchObject({
      valid: false,
      errorCode: "TOKEN_REVOKED",
    });
    expectError(await exchange(grant), 400, "invalid_grant");
    // Join tokens minted otherwise are not affected.
    const plain = (
      await exchange(await partnerGrant({ jti: `other-${uid()}`, user: { id: `rv-${uid()}` } }, { audience: event.id }))
    ).body.access_token;
    expect(ok(await t.gql(VALIDATE, { token: plain })).validateToken).toMatchObject({ valid: true, errorCode: null });
    const minted = await mint(t, company, { eventId: event.id, user: { id: `mint-${uid()}` } });
    expect(decodePart(minted.token, 1).sjt).toBeUndefined();
    expect(ok(await t.gql(VALIDATE, { token: minted.token })).validateToken).toMatchObject({
      valid: true,
      errorCode: null,
    });
    await join(t, event.id, minted.token);
  });

  it("a subject token without jti is known by its synthetic jti: banning it (joined directly) refuses the join tokens minted from it", async () => {
    const subject = await signPartner(secret, fresh(t, { user: { id: `syn-${uid()}` } }));
    const minted = (await exchange({ grant_type: GRANT, subject_token: subject, subject_token_type: JWT })).body
      .access_token as string;
    expect(decodePart(minted, 1).sjt).toBe(syntheticJtiOf(subject));
    const direct = ok(await partnerJoin(t, event.id, subject)).joinEvent;
    ok(await t.gql(END_SESSION, { id: direct.session.id, ban: true }, { key: company.key }));
    expect((await joinRaw(t, { event: event.id, credential: minted })).errors?.[0]?.extensions?.code).toBe(
      "TOKEN_REVOKED",
    );
    expectError(
      await exchange({ grant_type: GRANT, subject_token: subject, subject_token_type: JWT }),
      400,
      "invalid_grant",
    );
  });

  it("a PARTNER_KEYS subject token must name this company's Admit issuer as aud", async () => {
    const idp = await TestJwksServer.start();
    try {
      const issuer = `https://keys-${uid()}.example.test`;
      await addProvider(t, company, { kind: "PARTNER_KEYS", name: "Keys", issuer, jwksUri: idp.jwksUri });
      const subject = (aud?: string) =>
        idp.sign(fresh(t, { iss: issuer, ...(aud ? { aud } : {}), user: { id: `pk-${uid()}` } }));
      expectError(
        await exchange({ grant_type: GRANT, subject_token: await subject(), subject_token_type: JWT }),
        400,
        "invalid_grant",
      );
      const otherIssuer = companyIssuer(await makeCompany(t));
      expectError(
        await exchange({ grant_type: GRANT, subject_token: await subject(otherIssuer), subject_token_type: JWT }),
        400,
        "invalid_grant",
      );
      expect(
        (
          await exchange({
            grant_type: GRANT,
            subject_token: await subject(companyIssuer(company)),
            subject_token_type: JWT,
          })
        ).status,
      ).toBe(200);
    } finally {
      await idp.stop();
    }
  });

  it("an HS256 subject token's aud, when present, must be the company's issuer; another service's is invalid_grant and creates nothing", async () => {
    const users = await userCount(t, company.id);
    const ours = await exchange(
      await partnerGrant({ user: { id: `aud-${uid()}` }, aud: companyIssuer(company) }, { audience: event.slug }),
    );
    expect(ours.status).toBe(200);
    expect(
      (await exchange(await partnerGrant({ user: { id: `aud-${uid()}` }, aud: [companyIssuer(company)] }))).status,
    ).toBe(200);
    const otherIssuer = companyIssuer(await makeCompany(t));
    const before = await tableCounts(t);
    for (const aud of [
      "https://some-other-service.example",
      otherIssuer,
      [companyIssuer(company), "https://some-other-service.example"],
    ]) {
      const answer = await exchange(await partnerGrant({ user: { id: `aud-${uid()}` }, aud, jti: `aud-${uid()}` }));
      expectError(answer, 400, "invalid_grant");
      expect(answer.body.error_description).toBe("The token is meant for another audience.");
    }
    expect(await tableCounts(t)).toEqual(before);
    expect(await userCount(t, company.id)).toBe(users);
  });

  it("a bad client is 401 invalid_client with WWW-Authenticate; a key without MINT_TOKENS is unauthorized_client", async () => {
    const grant = await partnerGrant({ user: { id: `c-${uid()}` } });
    for (const authorization of [
      null,
      basic(company.slug, "adm_wrong"),
      `Bearer adm_${"x".repeat(43)}`,
      `Bearer ${t.adminKey}`,
      "Digest abc",
    ]) {
      const answer = await exchange(grant, { authorization });
      expectError(answer, 401, "invalid_client");
      expect(answer.headers.get("www-authenticate")).toMatch(/^(Basic|Bearer) realm="admit"$/);
    }
    const reader = ok(
      await t.gql(
        `mutation { createApiKey(input: { name: "r", scopes: [READ_ANALYTICS] }) { secret } }`,
        {},
        { key: company.key },
      ),
    ).createApiKey.secret;
    expectError(await exchange(grant, { authorization: basic(company.slug, reader) }), 400, "unauthorized_client");
  });

  it("a subject token that does not hold up is invalid_grant, and creates nothing", async () => {
    const users = await userCount(t, company.id);
    const other = await makeCompany(t);
    const theirs = await createSecret(t, other);
    const bad = [
      await signPartner({ id: secret.id, secret: "B".repeat(43) }, fresh(t, { user: { id: `b-${uid()}` } })),
      await signPartner(secret, { user: { id: `b-${uid()}` } }),
      await signPartner(secret, { user: { id: `b-${uid()}` }, exp: nowSeconds(t) - 60 }),
      await signPartner(secret, fresh(t, { user: { id: `b-${uid()}` } }), { alg: "HS512" }),
      await signPartner(theirs, fresh(t, { user: { id: `b-${uid()}` } })),
      unsigned(fresh(t, { user: { id: `b-${uid()}` } }), { alg: "none", kid: secret.id }),
      await signPartner(secret, fresh(t, { user: { id: `b-${uid()}`, email: "nope" } })),
      "not-a-jwt",
    ];
    for (const subject of bad) {
      expectError(
        await exchange({ grant_type: GRANT, subject_token: subject, subject_token_type: JWT }),
        400,
        "invalid_grant",
      );
    }
    expect(await userCount(t, company.id)).toBe(users);
  });

  it("malformed requests: GET, a JSON body, missing or repeated parameters, other grant types and token types, bad audiences", async () => {
    const grant = await partnerGrant({ user: { id: `m-${uid()}` } });
    const get = await exchange(grant, { method: "GET" });
    expectError(get, 405, "invalid_request");
    expect(get.headers.get("allow")).toBe("POST");
    expectError(
      await exchange(grant, { contentType: "application/json", body: JSON.stringify(grant) }),
      400,
      "invalid_request",
    );
    expectError(await exchange(grant, { contentType: "text/plain", body: "grant_type=x" }), 400, "invalid_request");
    expectError(await exchange(grant, { contentType: "application/xml", body: "<grant/>" }), 415, "invalid_request");
    expectError(await exchange({ ...grant, grant_type: "" }), 400, "invalid_request");
    expectError(await exchange({ ...grant, grant_type: "client_credentials" }), 400, "unsupported_grant_type");
    const { subject_token: _token, ...noToken } = grant;
    expectError(await exchange(noToken), 400, "invalid_request");
    const { subject_token_type: _type, ...noType } = grant;
    expectError(await exchange(noType), 400, "invalid_request");
    expectError(
      await exchange({ ...grant, subject_token_type: "urn:ietf:params:oauth:token-type:access_token" }),
      400,
      "invalid_request",
    );
    expectError(
      await exchange({ ...grant, requested_token_type: "urn:ietf:params:oauth:token-type:access_token" }),
      400,
      "invalid_request",
    );
    expectError(await exchange({ ...grant, grant_type: [GRANT, GRANT] }), 400, "invalid_request");
    expectError(await exchange({ ...grant, actor_token: "x", actor_token_type: JWT }), 400, "invalid_request");
    expectError(await exchange({ ...grant, audience: "no-such-event" }), 400, "invalid_target");
    expectError(
      await exchange({ ...grant, audience: (await makeEvent(t, await makeCompany(t))).id }),
      400,
      "invalid_target",
    );
    expectError(await exchange({ ...grant, audience: [event.id, event.slug] }), 400, "invalid_target");
    expectError(
      await exchange({ ...grant, body: "x" }, { body: `grant_type=${GRANT}&subject_token=${"a".repeat(70_000)}` }),
      413,
      "invalid_request",
    );
    // The same grant, well-formed, goes through.
    expect((await exchange(grant)).status).toBe(200);
  });
});
