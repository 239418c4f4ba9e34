import type { DataSource } from "typeorm";
import type { Clock } from "../../clock";
import type { KeyEncryption } from "../../auth/key-encryption";
import { queryRows, rawQuery, RawQuery } from "../../db/raw";

/**
 * Every column encrypted under the master key, and the column bound to it as associated data.
 * The start check samples them and rotation re-encrypts them all: an encrypted column added
 * later goes here (a test compares this list with the schema's `*_encrypted` columns).
 */
export const ENCRYPTED_COLUMNS = [
  { table: "signing_keys", column: "private_jwk_encrypted", aad: "id", what: "signing key" },
  { table: "partner_secrets", column: "secret_encrypted", aad: "id", what: "partner secret" },
  { table: "webhook_endpoints", column: "secret_encrypted", aad: "id", what: "webhook secret" },
  { table: "webhook_endpoints", column: "previous_secret_encrypted", aad: "id", what: "webhook secret" },
] as const;

const VERIFIER_PLAINTEXT = "admit master key verifier";
const verifierAad = (keyId: string) => `master-key-verifier:${keyId}`;

/** Why /readyz answers 503 on a node whose key no longer opens the database's keys. */
export const KEY_NOT_READY_REASON =
  "MASTER_KEY does not open this database's encrypted keys (the master key was rotated, or this node has another one): restart this node with the database's current MASTER_KEY.";

/**
 * A master key that does not open the database's encrypted keys. The message is one line that
 * names the variable (MASTER_KEY, or MASTER_KEY_OLD for a rotation) and key ids, never key material.
 */
export class MasterKeyMismatchError extends Error {
  override name = "MasterKeyMismatchError";
}

/** @param databaseKeyId the key the database records; null when it records none (checked against its rows). */
function mismatch(keyName: string, keyId: string, databaseKeyId: string | null): MasterKeyMismatchError {
  return new MasterKeyMismatchError(
    databaseKeyId
      ? `${keyName} does not open this database's encrypted keys (they are under master key id ${databaseKeyId}; this key's id is ${keyId}).`
      : `${keyName} does not open the signing keys and partner secrets already in this database (this key's id is ${keyId}).`,
  );
}

export interface MasterKeyServiceDeps {
  dataSource: DataSource;
  clock: Clock;
  /** The node's master key. */
  encryption: KeyEncryption;
}

export interface RotationResult {
  /** Rows re-encrypted, per table of {@link ENCRYPTED_COLUMNS}. */
  reencrypted: Record<string, number>;
  /** The database was under the new key already (a rotation run twice): nothing changed. */
  alreadyRotated: boolean;
}

interface VerifierRow {
  key_id: string;
  verifier: string;
}

/**
 * The database's record of its master key: written on the first start, checked on every start
 * and by /readyz, replaced by a rotation, which re-encrypts every encrypted column with it.
 */
export class MasterKeyService {
  private readonly sql: RawQuery;

  constructor(private readonly deps: MasterKeyServiceDeps) {
    this.sql = rawQuery(deps.dataSource);
  }

  /**
   * At start, before serving: the key must open the database's verifier. A database without one
   * records this key, after checking it against the encrypted rows already there (a database of
   * a version without the verifier); a fresh database simply records it.
   * @param keyName how the refusal names the key: "MASTER_KEY", or where it came from instead.
   * @throws MasterKeyMismatchError when the key does not open them.
   * @returns "recorded" when this start wrote the verifier, "matched" otherwise.
   */
  async verifyAtStart(keyName = "MASTER_KEY"): Promise<"matched" | "recorded"> {
    const { encryption } = this.deps;
    const stored = await this.storedVerifier(this.sql);
    if (stored) {
      if (!opensVerifier(encryption, stored)) throw mismatch(keyName, encryption.keyId, stored.key_id);
      return "matched";
    }
    for (const { table, column, aad } of ENCRYPTED_COLUMNS) {
      const [row] = await this.sql<{ aad: string; blob: string }>(
        `SELECT ${aad} AS aad, ${column} AS blob FROM ${table} WHERE ${column} IS NOT NULL ORDER BY ${aad} LIMIT 1`,
      );
      if (row && !opens(encryption, row.blob, row.aad)) throw mismatch(keyName, encryption.keyId, null);
    }
    const inserted = await this.sql(
      `INSERT INTO master_key_verifiers (id, key_id, verifier, recorded_at) VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [encryption.keyId, makeVerifier(encryption), this.deps.clock.now()],
    );
    if (inserted.length > 0) return "recorded";
    // Another node, starting at the same moment, recorded its key first: it must be this one.
    const winner = await this.storedVerifier(this.sql);
    if (!winner || !opensVerifier(encryption, winner))
      throw mismatch(keyName, encryption.keyId, winner?.key_id ?? null);
    return "matched";
  }

  /**
   * For /readyz: null when this node's key opens the database's verifier (or none is recorded),
   * else why not. A rotation made while this node runs is noticed here: the load balancer stops
   * sending it requests it could only answer with INTERNAL.
   * @param sql the connection to ask (/readyz has one of its own); default: the pool.
   */
  async readiness(sql: RawQuery = this.sql): Promise<string | null> {
    const stored = await this.storedVerifier(sql);
    return !stored || opensVerifier(this.deps.encryption, stored) ? null : KEY_NOT_READY_REASON;
  }

  /**
   * Re-encrypts every column of {@link ENCRYPTED_COLUMNS} from this service's key to `next` and
   * records `next` as the database's key, in one transaction: on any failure nothing changes.
   * The tables are locked against writes meanwhile (reads go on), so no row is written under the
   * old key between the read and the commit.
   * @throws MasterKeyMismatchError (variable MASTER_KEY_OLD) when this service's key does not open
   *   the verifier or a row.
   */
  async rotateTo(next: KeyEncryption): Promise<RotationResult> {
    const old = this.deps.encryption;
    return this.deps.dataSource.transaction(async (manager) => {
      const tables = ["master_key_verifiers", ...new Set(ENCRYPTED_COLUMNS.map((c) => c.table))];
      await manager.query(`LOCK TABLE ${tables.join(", ")} IN EXCLUSIVE MODE`);
      const sql: RawQuery = (text, params) => queryRows(manager, text, params);
      const stored = await this.storedVerifier(sql);
      const reencrypted: Record<string, number> = Object.fromEntries(ENCRYPTED_COLUMNS.map((c) => [c.table, 0]));
      if (stored && opensVerifier(next, stored)) return { reencrypted, alreadyRotated: true };
      if (stored && !opensVerifier(old, stored)) throw mismatch("MASTER_KEY_OLD", old.keyId, stored.key_id);
      for (const { table, column, aad, what } of ENCRYPTED_COLUMNS) {
        reencrypted[table] += await reencryptColumn(sql, { table, column, aad, what }, old, next);
      }
      await sql(
        `INSERT INTO master_key_verifiers (id, key_id, verifier, recorded_at) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET key_id = EXCLUDED.key_id, verifier = EXCLUDED.verifier, recorded_at = EXCLUDED.recorded_at`,
        [next.keyId, makeVerifier(next), this.deps.clock.now()],
      );
      return { reencrypted, alreadyRotated: false };
    });
  }

  private async storedVerifier(sql: RawQuery): Promise<VerifierRow | null> {
    const [row] = await sql<VerifierRow>("SELECT key_id, verifier FROM master_key_verifiers WHERE id = 1");
    return row ?? null;
  }
}

async function reencryptColumn(
  sql: RawQuery,
  target: { table: string; column: string; aad: string; what: string },
  old: KeyEncryption,
  next: KeyEncryption,
): Promise<number> {
  const { table, column, aad, what } = target;
  const rows = await sql<{ aad: string; blob: string }>(
    `SELECT ${aad} AS aad, ${column} AS blob FROM ${table} WHERE ${column} IS NOT NULL`,
  );
  if (rows.length === 0) return 0;
  const blobs = rows.map((row) => {
    let plaintext: string;
    try {
      plaintext = old.decrypt(row.blob, row.aad);
    } catch {
      // Ids of signing keys and partner secrets are public (JWT kids): naming one helps find it.
      throw new MasterKeyMismatchError(
        `MASTER_KEY_OLD does not open ${what} ${row.aad} (this key's id is ${old.keyId}); nothing was changed.`,
      );
    }
    return next.encrypt(plaintext, row.aad);
  });
  // One statement per table: the ids and the new blobs side by side.
  await sql(
    `UPDATE ${table} AS t SET ${column} = u.blob FROM unnest($1::text[], $2::text[]) AS u(aad, blob) WHERE t.${aad}::text = u.aad`,
    [rows.map((row) => row.aad), blobs],
  );
  return rows.length;
}

function makeVerifier(encryption: KeyEncryption): string {
  return encryption.encrypt(VERIFIER_PLAINTEXT, verifierAad(encryption.keyId));
}

function opensVerifier(encryption: KeyEncryption, stored: VerifierRow): boolean {
  // The stored key id is only a label: the decryption is what proves the key.
  return (
    stored.key_id === encryption.keyId &&
    opens(encryption, stored.verifier, verifierAad(stored.key_id), VERIFIER_PLAINTEXT)
  );
}

function opens(encryption: KeyEncryption, blob: string, aad: string, expected?: string): boolean {
  try {
    const plaintext = encryption.decrypt(blob, aad);
    return expected === undefined || plaintext === expected;
  } catch {
    return false;
  }
}
