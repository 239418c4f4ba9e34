import fs from "node:fs";
import path from "node:path";
import { Client } from "pg";

export default async function globalTeardown(): Promise<void> {
  const dump = process.env.ADMIT_TEST_PGLITE_DUMP;
  if (dump) fs.rmSync(path.dirname(dump), { recursive: true, force: true });
  const serverUrl = process.env.ADMIT_TEST_SERVER_URL;
  const name = process.env.ADMIT_TEST_DATABASE_NAME;
  if (!serverUrl || !name || process.env.ADMIT_KEEP_TEST_DB) return;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
