import "reflect-metadata";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import { embeddedPGliteOf, migrate, openDatabase } from "../../src/db/database";

/**
 * With TEST_DATABASE_URL or DATABASE_URL, the suite runs on a PostgreSQL server, in a fresh
 * database it creates here (and drops afterwards), never in the one the URL names. Without
 * either, every test app runs on its own in-memory PGlite: a copy of one migrated here (initdb
 * and the migrations cost seconds of CPU each time; loading a copy, a fraction of that).
 */
export default async function globalSetup(): Promise<void> {
  const serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (!serverUrl) {
    process.env.ADMIT_TEST_DB = "pglite";
    process.env.ADMIT_TEST_PGLITE_DUMP = await migratedPGliteDump();
    return;
  }
  const name = `admit_test_${Date.now()}_${randomBytes(3).toString("hex")}`;
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  process.env.ADMIT_TEST_DB = "postgres";
  process.env.ADMIT_TEST_DATABASE_URL = url.toString();
  process.env.ADMIT_TEST_SERVER_URL = serverUrl;
  process.env.ADMIT_TEST_DATABASE_NAME = name;
  const db = await openDatabase({ kind: "postgres", url: url.toString() });
  try {
    await migrate(db.dataSource);
  } finally {
    await db.close();
  }
}

/** Migrates an in-memory PGlite and writes its data directory to a temporary file; returns the path. */
async function migratedPGliteDump(): Promise<string> {
  const db = await openDatabase({ kind: "pglite", dataDir: null });
  try {
    await migrate(db.dataSource);
    const dump = await embeddedPGliteOf(db.dataSource)!.dumpDataDir("none");
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "admit-test-")), "migrated-pglite.tar");
    fs.writeFileSync(file, Buffer.from(await dump.arrayBuffer()));
    return file;
  } finally {
    await db.close();
  }
}
