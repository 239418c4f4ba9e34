/**
 * The database's record of its master key: a start with another key is refused before it serves
 * (instead of answering INTERNAL at the first mint), /readyz says why on a node whose key was
 * rotated away, and a rotation re-encrypts every encrypted column in one transaction.
 * Each test has a database of its own: the checks read every encrypted row.
 */
import { randomBytes } from "node:crypto";
import { KeyEncryption } from "../../src/auth/key-encryption";
import { ManualClock } from "../../src/clock";
import { MasterKeyRefusedError, ResolvedMasterKey, verifyMasterKey } from "../../src/master-key";
import {
  ENCRYPTED_COLUMNS,
  MasterKeyMismatchError,
  MasterKeyService,
} from "../../src/modules/master-key/master-key.service";
import { ok, openFreshTestDatabase, startTestApp, TestApp } from "../support/harness";
import { makeCompany, makeEvent } from "../support/factories";
import { beat, decodePart, join, mint, VALIDATE } from "../join/join-helpers";
import { createSecret, fresh, partnerJoin, signPartner } from "../federation/partner-helpers";
import { startReceiver } from "../webhook/receiver";
import { createEndpoint } from "../webhook/helpers";

type FreshDatabase = Awaited<ReturnType<typeof openFreshTestDatabase>>;

const clock = new ManualClock();
const fromEnv = (key: Buffer): ResolvedMasterKey => ({ key, source: "env", file: null });
const keyIdOf = (key: Buffer) => new KeyEncryption(key).keyId;
const KEY_ID = "[A-Za-z0-9_-]{16}";

let db: FreshDatabase;
const apps: TestApp[] = [];
const start = async (masterKey: Buffer) => {
  const app = await startTestApp({ database: db, masterKey });
  apps.push(app);
  return app;
};

beforeEach(async () => {
  db = await openFreshTestDatabase();
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  await db.close();
});

async function readyz(t: TestApp): Promise<{ status: number; body: Record<string, string> }> {
  const response = await fetch(`${t.url}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, string> };
}

/** Every encrypted column and the verifier, as stored: equal before and after means nothing changed. */
async function encryptedState(): Promise<unknown[]> {
  const state: unknown[] = await db.dataSource.query("SELECT key_id, verifier FROM master_key_verifiers");
  for (const { table, column } of ENCRYPTED_COLUMNS) {
    state.push(...(await db.dataSource.query(`SELECT id, ${column} AS blob FROM ${table} ORDER BY id`)));
  }
  return state;
}

const verifiers = async (): Promise<number> =>
  (await db.dataSource.query("SELECT count(*)::int AS n FROM master_key_verifiers"))[0].n;

it("every *_encrypted column of the schema is one that start checks and rotation re-encrypt", async () => {
  const columns: { table_name: string; column_name: string }[] = await db.dataSource.query(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND column_name LIKE '%encrypted%' ORDER BY table_name, column_name`,
  );
  const listed = ENCRYPTED_COLUMNS.map(({ table, column }) => `${table}.${column}`).sort();
  expect(columns.map((c) => `${c.table_name}.${c.column_name}`)).toEqual(listed);
});

it("a fresh database records the first key that starts it; the same key starts again, another is refused in one line", async () => {
  const first = randomBytes(32);
  const second = randomBytes(32);
  expect(await verifyMasterKey(fromEnv(first), db.dataSource, clock)).toBe("recorded");
  expect(await verifyMasterKey(fromEnv(first), db.dataSource, clock)).toBe("matched");
  const refusal = verifyMasterKey(fromEnv(second), db.dataSource, clock);
  await expect(refusal).rejects.toThrow(MasterKeyRefusedError);
  const message = await refusal.catch((error: Error) => error.message);
  expect(message).toBe(
    `MASTER_KEY does not open this database's encrypted keys (they are under master key id ${keyIdOf(first)}; this key's id is ${keyIdOf(second)}). ` +
      'Start with the MASTER_KEY this database was set up with; to change keys, see "Rotating the master key" in the README.',
  );
  expect(message).not.toContain("\n");
  for (const key of [first, second]) {
    expect(message).not.toContain(key.toString("base64"));
    expect(message).not.toContain(key.toString("base64url"));
  }
  expect(await verifiers()).toBe(1);
});

it("a database from before the verifier: the first start checks the key against the encrypted rows there, then records it", async () => {
  const key = randomBytes(32);
  // An app of the previous version: no verifier, a signing key and a partner secret under `key`.
  const old = await start(key);
  const company = await makeCompany(old);
  await createSecret(old, company);
  expect(await verifiers()).toBe(0);

  const another = randomBytes(32);
  await expect(verifyMasterKey(fromEnv(another), db.dataSource, clock)).rejects.toThrow(
    `MASTER_KEY does not open the signing keys and partner secrets already in this database (this key's id is ${keyIdOf(another)}). Start with`,
  );
  // Refused: nothing recorded, so the right key is still accepted afterwards.
  expect(await verifiers()).toBe(0);
  expect(await verifyMasterKey(fromEnv(key), db.dataSource, clock)).toBe("recorded");
  await expect(verifyMasterKey(fromEnv(another), db.dataSource, clock)).rejects.toThrow(
    `(they are under master key id ${keyIdOf(key)}; this key's id is ${keyIdOf(another)})`,
  );
});

it("a rotation: the app with the new key signs with keys made under the old one and verifies old partner secrets; a node left on the old key turns unready", async () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  expect(await verifyMasterKey(fromEnv(oldKey), db.dataSource, clock)).toBe("recorded");
  const before = await start(oldKey);
  expect(await readyz(before)).toEqual({ status: 200, body: { status: "ready" } });
  const company = await makeCompany(before);
  const event = await makeEvent(before, company);
  const minted = await mint(before, company, { eventId: event.id, user: { id: "made-before" } });
  const secret = await createSecret(before, company);
  const partnerToken = await signPartner(secret, fresh(before, { user: { id: "partner-before" } }));
  const sessionBefore = await join(
    before,
    event.id,
    (await mint(before, company, { eventId: event.id, user: { id: "in-session" } })).token,
  );
  // A webhook endpoint whose secret was rotated: a current and a previous secret, both encrypted.
  const receiver = await startReceiver();
  const endpoint = await createEndpoint(before, company, receiver.url, ["SESSION_STARTED"]);
  const webhookSecret = ok(
    await before.gql(
      `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`,
      { id: endpoint.id },
      { key: company.key },
    ),
  ).rotateWebhookSecret.secret;
  receiver.secrets.push(endpoint.secret);
  const stored = await encryptedState();

  const result = await new MasterKeyService({
    dataSource: db.dataSource,
    clock,
    encryption: new KeyEncryption(oldKey),
  }).rotateTo(new KeyEncryption(newKey));
  expect(result).toEqual({
    alreadyRotated: false,
    reencrypted: { signing_keys: 1, partner_secrets: 1, webhook_endpoints: 2 },
  });
  const rotated = await encryptedState();
  expect(rotated).toHaveLength(stored.length);
  for (let i = 0; i < rotated.length; i++) expect(rotated[i]).not.toEqual(stored[i]);

  // The node still on the old key: out of the load balancer, with the reason.
  const unready = await readyz(before);
  expect(unready.status).toBe(503);
  expect(unready.body).toEqual({
    status: "unavailable",
    reason: expect.stringMatching(/^MASTER_KEY does not open this database's encrypted keys/),
  });
  await expect(verifyMasterKey(fromEnv(oldKey), db.dataSource, clock)).rejects.toThrow(
    /^MASTER_KEY does not open this database's encrypted keys/,
  );
  expect(await verifyMasterKey(fromEnv(newKey), db.dataSource, clock)).toBe("matched");

  const after = await start(newKey);
  expect(await readyz(after)).toEqual({ status: 200, body: { status: "ready" } });
  // A token signed before the rotation joins; the session token it gets is signed with the
  // same key, made under the old master key and now opened with the new one.
  const joined = await join(after, event.id, minted.token);
  expect(decodePart(joined.sessionToken, 0).kid).toBe(decodePart(minted.token, 0).kid);
  const fresher = await mint(after, company, { eventId: event.id, user: { id: "made-after" } });
  expect(decodePart(fresher.token, 0).kid).toBe(decodePart(minted.token, 0).kid);
  expect(ok(await after.gql(VALIDATE, { token: fresher.token }, { key: company.key })).validateToken.valid).toBe(true);
  expect((await beat(after, sessionBefore.sessionToken)).active).toBe(true);
  // A partner JWT signed with a secret made before the rotation still verifies.
  expect(ok(await partnerJoin(after, event.id, partnerToken)).joinEvent.role).toBe("ATTENDEE");
  // Webhooks are signed with both secrets of the endpoint, opened with the new master key.
  await after.app.services.webhookWorker.drain();
  expect(receiver.messages.length).toBeGreaterThan(0);
  receiver.secrets = [webhookSecret];
  await join(after, event.id, (await mint(after, company, { eventId: event.id, user: { id: "hooked" } })).token);
  await after.app.services.webhookWorker.drain();
  expect(receiver.messages.some((m) => m.data.user?.externalId === "hooked")).toBe(true);
  await receiver.close();
  // A company made after the rotation gets a key under the new master key.
  await mint(after, await makeCompany(after), { eventSpecific: false, user: { id: "newcomer" } });
});

it("a rotation refuses a wrong old key, or a row the old key does not open, and changes nothing; run twice it changes nothing", async () => {
  const oldKey = randomBytes(32);
  const newKey = randomBytes(32);
  await verifyMasterKey(fromEnv(oldKey), db.dataSource, clock);
  const app = await start(oldKey);
  await createSecret(app, await makeCompany(app));
  const rotation = (from: Buffer) =>
    new MasterKeyService({ dataSource: db.dataSource, clock, encryption: new KeyEncryption(from) }).rotateTo(
      new KeyEncryption(newKey),
    );

  const stored = await encryptedState();
  const wrong = randomBytes(32);
  await expect(rotation(wrong)).rejects.toThrow(
    new MasterKeyMismatchError(
      `MASTER_KEY_OLD does not open this database's encrypted keys (they are under master key id ${keyIdOf(oldKey)}; this key's id is ${keyIdOf(wrong)}).`,
    ),
  );
  expect(await encryptedState()).toEqual(stored);

  // A partner secret written by a node with yet another key (before this database had a verifier).
  const stray = await start(randomBytes(32));
  const strayCompany = await makeCompany(stray);
  const straySecret = await createSecret(stray, strayCompany);
  const withStray = await encryptedState();
  await expect(rotation(oldKey)).rejects.toThrow(
    new RegExp(
      `^MASTER_KEY_OLD does not open (signing key|partner secret) \\S+ \\(this key's id is ${KEY_ID}\\); nothing was changed\\.$`,
    ),
  );
  expect(await encryptedState()).toEqual(withStray);
  await db.dataSource.query("DELETE FROM partner_secrets WHERE id = $1", [straySecret.id]);
  await db.dataSource.query("DELETE FROM companies WHERE id = $1", [strayCompany.id]);

  expect((await rotation(oldKey)).alreadyRotated).toBe(false);
  const rotated = await encryptedState();
  expect(await rotation(oldKey)).toEqual({
    alreadyRotated: true,
    reencrypted: { signing_keys: 0, partner_secrets: 0, webhook_endpoints: 0 },
  });
  expect(await encryptedState()).toEqual(rotated);
});
