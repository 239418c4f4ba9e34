import { Webhook } from "standardwebhooks";
import { codeOf, ok, startTestApp, useTestApp } from "../support/harness";
import { makeCompany, makeEvent } from "../support/factories";
import { beat, mint, mintAndJoin } from "../join/join-helpers";
import { eraseUserFromWebhookMessages } from "../../src/modules/webhook/webhook.service";
import { Receiver, startReceiver, verifies } from "./receiver";
import { ALL_TYPES, createEndpoint, DELIVERIES, deliveries, drain, drainFor, ENDPOINT_FIELDS } from "./helpers";

const t = useTestApp();
let receiver: Receiver;

beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
});

async function companyWithEndpoint(types: string[] = ALL_TYPES, overrides: { seatLimit?: number } = {}) {
  const company = await makeCompany(t, overrides);
  const endpoint = await createEndpoint(t, company, receiver.url, types);
  receiver.secrets.push(endpoint.secret);
  return { company, endpoint };
}

const messageCount = async (companyId: string): Promise<number> =>
  Number(
    (
      await t.db.dataSource.query("SELECT count(*)::int AS n FROM webhook_messages WHERE company_id = $1", [companyId])
    )[0].n,
  );

describe("endpoints", () => {
  it("creates an endpoint with a whsec_ secret shown once, stored encrypted; lists it without the secret", async () => {
    const company = await makeCompany(t);
    const res = ok(
      await t.gql(
        `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { webhookEndpoint { ${ENDPOINT_FIELDS} } secret } }`,
        { input: { url: receiver.url, eventTypes: ["SESSION_STARTED", "EVENT_ENDED"], description: "crm" } },
        { key: company.key },
      ),
    ).createWebhookEndpoint;
    expect(res.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(res.webhookEndpoint).toMatchObject({
      url: receiver.url,
      description: "crm",
      eventTypes: ["EVENT_ENDED", "SESSION_STARTED"],
      disabledAt: null,
    });
    const [row] = await t.db.dataSource.query("SELECT secret_encrypted FROM webhook_endpoints WHERE id = $1", [
      res.webhookEndpoint.id,
    ]);
    expect(row.secret_encrypted).toMatch(/^v1\./);
    expect(row.secret_encrypted).not.toContain(res.secret.slice(6));
    const listed = ok(await t.gql(`{ company { webhookEndpoints { id url eventTypes } } }`, {}, { key: company.key }))
      .company.webhookEndpoints;
    expect(listed).toEqual([
      { id: res.webhookEndpoint.id, url: receiver.url, eventTypes: ["EVENT_ENDED", "SESSION_STARTED"] },
    ]);
    expect(t.logs.join("")).not.toContain(res.secret);
  });

  it("refuses URLs that are not https on a public host (loopback http allowed outside production)", async () => {
    const company = await makeCompany(t);
    for (const url of [
      "http://example.com/hook",
      "https://10.0.0.5/hook",
      "https://169.254.169.254/latest",
      "https://[fd00::1]/x",
      "ftp://example.com",
      "https://user:pw@example.com/",
      "not a url",
    ]) {
      const res = await t.gql(
        `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }`,
        { input: { url, eventTypes: ["SESSION_STARTED"] } },
        { key: company.key },
      );
      expect([url, codeOf(res), res.errors?.[0]?.extensions?.field]).toEqual([url, "BAD_USER_INPUT", "url"]);
    }
    const empty = await t.gql(
      `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }`,
      { input: { url: "https://example.com/hook", eventTypes: [] } },
      { key: company.key },
    );
    expect(codeOf(empty)).toBe("BAD_USER_INPUT");
  });

  it("refuses loopback in production", async () => {
    const prod = await startTestApp({ nodeEnv: "production", database: t.db });
    try {
      const company = await makeCompany(prod);
      const res = await prod.gql(
        `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }`,
        { input: { url: "https://127.0.0.1/hook", eventTypes: ["SESSION_STARTED"] } },
        { key: company.key },
      );
      expect(codeOf(res)).toBe("BAD_USER_INPUT");
      const local = await prod.gql(
        `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }`,
        { input: { url: "https://localhost/hook", eventTypes: ["SESSION_STARTED"] } },
        { key: company.key },
      );
      expect(codeOf(local)).toBe("BAD_USER_INPUT");
    } finally {
      await prod.close();
    }
  });

  it("another company's endpoint is NOT_FOUND everywhere", async () => {
    const { endpoint } = await companyWithEndpoint();
    const other = await makeCompany(t);
    expect(
      codeOf(
        await t.gql(`mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }`, { id: endpoint.id }, { key: other.key }),
      ),
    ).toBe("NOT_FOUND");
    expect(
      codeOf(
        await t.gql(
          `mutation($id: ID!) { sendTestWebhook(endpointId: $id) { id } }`,
          { id: endpoint.id },
          { key: other.key },
        ),
      ),
    ).toBe("NOT_FOUND");
    expect(codeOf(await t.gql(DELIVERIES, { endpointId: endpoint.id }, { key: other.key }))).toBe("NOT_FOUND");
    expect(
      codeOf(
        await t.gql(
          `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`,
          { id: endpoint.id },
          { key: other.key },
        ),
      ),
    ).toBe("NOT_FOUND");
  });
});

describe("messages", () => {
  it("delivers every event type, signed, with the payload a backend needs", async () => {
    const { company, endpoint } = await companyWithEndpoint();
    const event = await makeEvent(t, company, { privacy: "PRIVATE", knockingEnabled: true });
    const joined = await mintAndJoin(t, company, event.id, {}, { id: "u-ada", name: "Ada", email: "ada@example.com" });
    // Made an organizer: the next heartbeat changes the live session's role.
    ok(
      await t.gql(
        `mutation($input: EventPrincipalsInput!) { addEventPrincipals(input: $input) { id } }`,
        { input: { eventId: event.id, role: "ORGANIZER", principals: [{ userId: "u-ada" }] } },
        { key: company.key },
      ),
    );
    expect((await beat(t, joined.sessionToken)).role).toBe("ORGANIZER");
    ok(
      await t.gql(`mutation($id: ID!) { endSession(id: $id) { id } }`, { id: joined.session.id }, { key: company.key }),
    );
    const reg = ok(
      await t.gql(
        `mutation($input: RegisterForEventInput!) { registerForEvent(input: $input) { id } }`,
        { input: { eventId: event.id, name: "Reggie", email: "reggie@example.com" } },
        { key: company.key },
      ),
    ).registerForEvent;
    ok(await t.gql(`mutation($id: ID!) { cancelRegistration(id: $id) { id } }`, { id: reg.id }, { key: company.key }));
    const knock = ok(
      await t.gql(`mutation($input: RequestToJoinInput!) { requestToJoin(input: $input) { request { id } } }`, {
        input: { event: `${company.slug}/${event.slug}`, name: "Kim", email: "kim@example.com" },
      }),
    ).requestToJoin;
    ok(
      await t.gql(
        `mutation($id: ID!) { denyJoinRequest(id: $id, reason: "Full") { id } }`,
        { id: knock.request.id },
        { key: company.key },
      ),
    );
    ok(await t.gql(`mutation($id: ID!) { endEvent(id: $id) { id } }`, { id: event.id }, { key: company.key }));

    await drain(t);
    expect(receiver.refused).toBe(0);
    const byType = Object.fromEntries(receiver.messages.map((m) => [m.type, m]));
    expect(Object.keys(byType).sort()).toEqual([
      "event.ended",
      "join_request.created",
      "join_request.decided",
      "registrant.cancelled",
      "registrant.created",
      "session.ended",
      "session.role_changed",
      "session.started",
      "user.created",
    ]);
    const user = {
      id: joined.session.userId,
      externalId: "u-ada",
      name: "Ada",
      email: "ada@example.com",
      isGuest: false,
    };
    expect(byType["user.created"].data).toMatchObject({ userId: joined.session.userId, user });
    expect(byType["session.started"].data).toMatchObject({
      sessionId: joined.session.id,
      eventId: event.id,
      userId: joined.session.userId,
      role: "ATTENDEE",
      credentialType: "JOIN_TOKEN",
      user,
    });
    expect(byType["session.started"].timestamp).toBe(joined.session.joinedAt);
    expect(byType["session.role_changed"].data).toMatchObject({
      sessionId: joined.session.id,
      role: "ORGANIZER",
      previousRole: "ATTENDEE",
    });
    expect(byType["session.ended"].data).toMatchObject({ sessionId: joined.session.id, endReason: "KICKED" });
    expect(byType["registrant.created"].data).toMatchObject({
      registrantId: reg.id,
      eventId: event.id,
      name: "Reggie",
      email: "reggie@example.com",
      cancelledAt: null,
    });
    expect(byType["registrant.cancelled"].data.cancelledAt).toEqual(expect.any(String));
    expect(byType["join_request.created"].data).toMatchObject({
      joinRequestId: knock.request.id,
      status: "PENDING",
      name: "Kim",
    });
    expect(byType["join_request.decided"].data).toMatchObject({
      joinRequestId: knock.request.id,
      status: "DENIED",
      denyReason: "Full",
    });
    expect(byType["event.ended"].data).toMatchObject({ eventId: event.id, slug: event.slug });
    // Headers per Standard Webhooks; no secret or token anywhere in a body.
    for (const m of receiver.messages) {
      expect(m.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
      expect(m.headers["webhook-timestamp"]).toMatch(/^\d{10}$/);
      expect(m.body).not.toContain(joined.sessionToken);
      expect(m.body).not.toContain(joined.minted.token);
      expect(m.body).not.toMatch(/whsec_|secret/i);
    }
    const listed = await deliveries(t, company, endpoint.id);
    expect(listed).toHaveLength(9);
    expect(listed.every((d) => d.status === "DELIVERED" && d.attempts === 1 && d.lastResponseCode === 204)).toBe(true);
  });

  it("a rolled-back join sends nothing; a company that listens to nothing of it gets no outbox row", async () => {
    const { company } = await companyWithEndpoint(["SESSION_STARTED", "USER_CREATED"], { seatLimit: 1 });
    const event = await makeEvent(t, company);
    await mintAndJoin(t, company, event.id);
    const refused = await t.gql(`mutation($input: JoinEventInput!) { joinEvent(input: $input) { role } }`, {
      input: {
        event: event.id,
        credential: (await mint(t, company, { eventId: event.id, user: { id: "u-over" } })).token,
      },
    });
    expect(codeOf(refused)).toBe("SEAT_LIMIT_REACHED");
    expect(await messageCount(company.id)).toBe(2);
    await drain(t);
    expect(receiver.messages.map((m) => m.type).sort()).toEqual(["session.started", "user.created"]);
    expect(receiver.messages.some((m) => m.data.user?.externalId === "u-over")).toBe(false);

    const quiet = await makeCompany(t);
    await createEndpoint(t, quiet, receiver.url, ["EVENT_ENDED"]);
    const none = await makeCompany(t);
    for (const c of [quiet, none]) await mintAndJoin(t, c, (await makeEvent(t, c)).id);
    expect(await messageCount(quiet.id)).toBe(0);
    expect(await messageCount(none.id)).toBe(0);
  });

  it("a disabled endpoint stops the outbox rows; re-enabled, it gets new ones", async () => {
    const { company, endpoint } = await companyWithEndpoint(["SESSION_STARTED"]);
    const event = await makeEvent(t, company);
    const disabled = ok(
      await t.gql(
        `mutation($id: ID!) { disableWebhookEndpoint(id: $id, reason: "maintenance") { disabledAt disabledReason } }`,
        { id: endpoint.id },
        { key: company.key },
      ),
    ).disableWebhookEndpoint;
    expect(disabled.disabledReason).toBe("maintenance");
    await mintAndJoin(t, company, event.id);
    expect(await messageCount(company.id)).toBe(0);
    ok(
      await t.gql(
        `mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { disabledAt } }`,
        { input: { id: endpoint.id, enabled: true } },
        { key: company.key },
      ),
    );
    await mintAndJoin(t, company, event.id);
    await drain(t);
    expect(receiver.messages.map((m) => m.type)).toEqual(["session.started"]);
  });
});

describe("delivery", () => {
  it("the receiver down for a while, then up: every message arrives, in order per event", async () => {
    const { company, endpoint } = await companyWithEndpoint(["SESSION_STARTED", "SESSION_ENDED"]);
    const [a, b] = [await makeEvent(t, company), await makeEvent(t, company)];
    receiver.status = 503;
    const sessions: { event: string; id: string }[] = [];
    for (let i = 0; i < 4; i++) {
      for (const event of [a, b]) {
        const joined = await mintAndJoin(t, company, event.id);
        sessions.push({ event: event.id, id: joined.session.id });
        if (i % 2 === 1)
          ok(
            await t.gql(
              `mutation($id: ID!) { endSession(id: $id) { id } }`,
              { id: joined.session.id },
              { key: company.key },
            ),
          );
      }
    }
    // Down: only the first message of each event is tried; the rest wait behind it.
    expect(await drainFor(t, company)).toBe(2);
    const failed = await deliveries(t, company, endpoint.id, { status: "PENDING" });
    expect(failed).toHaveLength(12);
    expect(failed.filter((d) => d.attempts === 1).map((d) => d.lastResponseCode)).toEqual([503, 503]);
    // A few retries later (the clock moves instead of waiting)…
    for (const seconds of [6, 360, 2_200]) {
      t.clock.advance(seconds);
      expect(await drainFor(t, company)).toBe(2);
    }
    expect(receiver.messages).toHaveLength(0);
    receiver.status = 200;
    t.clock.advance(9_000);
    await drain(t);
    expect(receiver.messages).toHaveLength(12);
    // Per event, in the order it happened.
    for (const event of [a, b]) {
      const got = receiver.messages
        .filter((m) => m.data.eventId === event.id)
        .map((m) => `${m.type}:${m.data.sessionId}`);
      const expected: string[] = [];
      sessions
        .filter((s) => s.event === event.id)
        .forEach((s, i) => {
          expected.push(`session.started:${s.id}`);
          if (i % 2 === 1) expected.push(`session.ended:${s.id}`);
        });
      expect(got).toEqual(expected);
    }
    const done = await deliveries(t, company, endpoint.id);
    expect(done.every((d) => d.status === "DELIVERED")).toBe(true);
    expect(done.filter((d) => d.attempts === 5)).toHaveLength(2);
    const endpoints = ok(await t.gql(`{ company { webhookEndpoints { failingSince } } }`, {}, { key: company.key }))
      .company.webhookEndpoints;
    expect(endpoints[0].failingSince).toBeNull();
  });

  it("after about 3 days of failures the delivery is FAILED and the endpoint disabled with the reason; a replay sends it once re-enabled", async () => {
    const { company, endpoint } = await companyWithEndpoint(["SESSION_STARTED"]);
    const event = await makeEvent(t, company);
    receiver.status = 500;
    await mintAndJoin(t, company, event.id);
    const start = t.clock.now().getTime();
    let attempts = 0;
    for (let i = 0; i < 15; i++) {
      attempts += await drainFor(t, company);
      t.clock.advance(30 * 3600);
    }
    expect(attempts).toBe(10);
    const [delivery] = await deliveries(t, company, endpoint.id);
    expect(delivery).toMatchObject({ status: "FAILED", attempts: 10, lastResponseCode: 500, nextAttemptAt: null });
    const [ep] = ok(
      await t.gql(`{ company { webhookEndpoints { disabledAt disabledReason } } }`, {}, { key: company.key }),
    ).company.webhookEndpoints;
    expect(ep.disabledReason).toMatch(/failed for \d+ hours .*HTTP 500/);
    const daysUntilDisabled = (Date.parse(ep.disabledAt) - start) / 86_400_000;
    expect(daysUntilDisabled).toBeGreaterThan(2.5);

    receiver.status = 200;
    ok(
      await t.gql(
        `mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { disabledAt } }`,
        { input: { id: endpoint.id, enabled: true } },
        { key: company.key },
      ),
    );
    const replayed = ok(
      await t.gql(
        `mutation($id: ID!) { replayWebhookMessage(id: $id) { id status messageId } }`,
        { id: delivery.messageId },
        { key: company.key },
      ),
    ).replayWebhookMessage;
    expect(replayed).toEqual([{ id: expect.any(String), status: "PENDING", messageId: delivery.messageId }]);
    await drain(t);
    expect(receiver.messages.map((m) => m.id)).toEqual([delivery.messageId]);
  });

  it("sendTestWebhook delivers a signed webhook.test; deliveries page through a connection", async () => {
    const { company, endpoint } = await companyWithEndpoint(["EVENT_ENDED"]);
    for (let i = 0; i < 3; i++)
      ok(
        await t.gql(
          `mutation($id: ID!) { sendTestWebhook(endpointId: $id) { id status } }`,
          { id: endpoint.id },
          { key: company.key },
        ),
      );
    await drain(t);
    expect(receiver.messages.map((m) => m.type)).toEqual(["webhook.test", "webhook.test", "webhook.test"]);
    expect(receiver.messages[0].data).toMatchObject({ endpointId: endpoint.id });
    const first = ok(
      await t.gql(DELIVERIES, { endpointId: endpoint.id, first: 2 }, { key: company.key }),
    ).webhookDeliveries;
    expect(first.edges).toHaveLength(2);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = ok(
      await t.gql(
        DELIVERIES,
        { endpointId: endpoint.id, first: 2, after: first.pageInfo.endCursor },
        { key: company.key },
      ),
    ).webhookDeliveries;
    expect(rest.edges).toHaveLength(1);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    const ids = [...first.edges, ...rest.edges].map((e: any) => e.node.messageId);
    expect(new Set(ids).size).toBe(3);
    expect(JSON.parse(first.edges[0].node.payload)).toMatchObject({ type: "webhook.test" });
  });

  it("rotation: the new secret verifies at once; the old one during the grace period only", async () => {
    const { company, endpoint } = await companyWithEndpoint(["SESSION_STARTED"]);
    const event = await makeEvent(t, company);
    const rotated = ok(
      await t.gql(
        `mutation($id: ID!) { rotateWebhookSecret(id: $id, graceSeconds: 3600) { secret webhookEndpoint { previousSecretExpiresAt } } }`,
        { id: endpoint.id },
        { key: company.key },
      ),
    ).rotateWebhookSecret;
    expect(rotated.secret).not.toBe(endpoint.secret);
    expect(Date.parse(rotated.webhookEndpoint.previousSecretExpiresAt) - t.clock.now().getTime()).toBe(3_600_000);
    receiver.secrets = [rotated.secret];
    await mintAndJoin(t, company, event.id);
    await drain(t);
    expect(receiver.messages).toHaveLength(1);
    const during = receiver.messages[0];
    expect(verifies(rotated.secret, during.body, during.headers)).toBe(true);
    expect(verifies(endpoint.secret, during.body, during.headers)).toBe(true);

    t.clock.advance(3_601);
    await mintAndJoin(t, company, event.id);
    await drain(t);
    expect(receiver.messages).toHaveLength(2);
    const after = receiver.messages[1];
    expect(verifies(rotated.secret, after.body, after.headers)).toBe(true);
    expect(verifies(endpoint.secret, after.body, after.headers)).toBe(false);
    expect(after.headers["webhook-signature"].split(" ")).toHaveLength(1);
    // The standardwebhooks package itself, as a receiver holding only the new secret writes it.
    expect(new Webhook(rotated.secret).verify(after.body, after.headers)).toMatchObject({ type: "session.started" });
  });
});

describe("eraseUserFromWebhookMessages", () => {
  it("removes the user's name, email and external id from stored payloads, and only theirs", async () => {
    const { company } = await companyWithEndpoint();
    const event = await makeEvent(t, company);
    const ada = await mintAndJoin(
      t,
      company,
      event.id,
      {},
      { id: "u-erase", name: "Ada Erase", email: "erase@example.com" },
    );
    const bob = await mintAndJoin(
      t,
      company,
      event.id,
      {},
      { id: "u-keep", name: "Bob Keep", email: "keep@example.com" },
    );
    const changed = await t.db.dataSource.transaction((manager) =>
      eraseUserFromWebhookMessages(manager, {
        companyId: company.id,
        userId: ada.session.userId,
        registrantIds: [],
        emails: [],
      }),
    );
    expect(changed).toBe(2);
    const rows: { data: any; user_id: string }[] = await t.db.dataSource.query(
      "SELECT data, user_id FROM webhook_messages WHERE company_id = $1",
      [company.id],
    );
    const text = JSON.stringify(rows.filter((r) => r.user_id === ada.session.userId));
    expect(text).not.toMatch(/Ada Erase|erase@example\.com|u-erase/);
    expect(text).toContain(ada.session.userId);
    expect(JSON.stringify(rows.filter((r) => r.user_id === bob.session.userId))).toContain("keep@example.com");
    await drain(t);
    const started = receiver.messages.find((m) => m.type === "session.started" && m.data.userId === ada.session.userId);
    expect(started?.data.user).toEqual({
      id: ada.session.userId,
      isGuest: false,
      createdVia: "JOIN_TOKEN",
      createdAt: expect.any(String),
    });
  });
});
