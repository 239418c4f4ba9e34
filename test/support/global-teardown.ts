import { Client } from "pg";

export default async function globalTeardown(): Promise<void> {
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
