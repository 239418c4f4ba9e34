import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";
import type { MigrationInterface, QueryRunner } from "typeorm";
import { formatStatement, lexSql, normaliseSql, queryCall } from "../../src/scripts/migration-sql";
import { checkStatements, recordNewMigrations, recordStatements } from "../../src/scripts/migration-statements";
import { MIGRATIONS } from "../../migrations";

describe("normaliseSql", () => {
  it("ignores whitespace and comments outside quotes", () => {
    const a = `CREATE INDEX "idx_x" ON "t"  ("a", "b") WHERE status = 'PENDING'`;
    const b = `
      -- the pending ones
      CREATE INDEX "idx_x" ON "t" (
        "a",
        "b"
      ) /* partial */ WHERE status = 'PENDING'
    `;
    expect(normaliseSql(b)).toBe(normaliseSql(a));
  });

  it("counts whitespace inside strings, quoted identifiers and dollar-quoted bodies", () => {
    const base = `SELECT 'a b', "c d", $$ e  f $$, $fn$ -- g $fn$`;
    expect(normaliseSql(base)).not.toBe(normaliseSql(`SELECT 'a  b', "c d", $$ e  f $$, $fn$ -- g $fn$`));
    expect(normaliseSql(base)).not.toBe(normaliseSql(`SELECT 'a b', "c  d", $$ e  f $$, $fn$ -- g $fn$`));
    expect(normaliseSql(base)).not.toBe(normaliseSql(`SELECT 'a b', "c d", $$ e f $$, $fn$ -- g $fn$`));
    expect(normaliseSql(base)).not.toBe(normaliseSql(`SELECT 'a b', "c d", $$ e  f $$, $fn$ --  g $fn$`));
  });

  it("keeps the space that separates two tokens", () => {
    expect(normaliseSql("SELECT a b")).not.toBe(normaliseSql("SELECT ab"));
    expect(normaliseSql("SELECT 1 - -1")).not.toBe(normaliseSql("SELECT 1 --1"));
    expect(normaliseSql("SELECT f (x)")).toBe(normaliseSql("SELECT f(x)"));
  });

  it("reads quotes the way PostgreSQL does", () => {
    expect(lexSql(`SELECT 'it''s -- no comment', E'a\\' b', "x""y"`).map((p) => p.kind)).toEqual([
      "code", "space", "quoted", "code", "space", "quoted", "code", "space", "quoted",
    ]);
    expect(() => lexSql("SELECT 'open")).toThrow(/Unterminated string/);
    expect(() => lexSql("CREATE FUNCTION f() AS $$ BEGIN")).toThrow(/Unterminated/);
  });
});

describe("formatStatement", () => {
  it("lays out a generated CREATE TABLE one column per line, meaning the same", () => {
    const sql = `CREATE TABLE "widgets" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "name" character varying(200) NOT NULL, "note" text NOT NULL DEFAULT 'a,  b', CONSTRAINT "PK_1" PRIMARY KEY ("id"))`;
    expect(formatStatement(sql)).toEqual([
      `CREATE TABLE "widgets" (`,
      `  "id" uuid NOT NULL DEFAULT gen_random_uuid(),`,
      `  "name" character varying(200) NOT NULL,`,
      `  "note" text NOT NULL DEFAULT 'a,  b',`,
      `  CONSTRAINT "PK_1" PRIMARY KEY ("id")`,
      `)`,
    ]);
    expect(normaliseSql(formatStatement(sql)!.join("\n"))).toBe(normaliseSql(sql));
  });

  it("cuts a long index before ON and a foreign key before FOREIGN KEY", () => {
    expect(
      formatStatement(`CREATE UNIQUE INDEX "IDX_a1840a7393f3a32942c99edda7" ON "event_principals"  ("event_id", "role", "email") WHERE email IS NOT NULL`),
    ).toEqual([`CREATE UNIQUE INDEX "IDX_a1840a7393f3a32942c99edda7"`, `  ON "event_principals" ("event_id", "role", "email") WHERE email IS NOT NULL`]);
    expect(
      formatStatement(`ALTER TABLE "api_keys" ADD CONSTRAINT "FK_8396859f08e7ad26726c9b3860e" FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION`),
    ).toEqual([
      `ALTER TABLE "api_keys" ADD CONSTRAINT "FK_8396859f08e7ad26726c9b3860e"`,
      `  FOREIGN KEY ("company_id") REFERENCES "companies"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    ]);
  });

  it("writes a template literal that evaluates to the statement", () => {
    const literalOf = (call: string) => vm.runInNewContext(/query\((`[\s\S]*`)\);$/.exec(call)![1]);
    const sql = "ALTER TABLE \"t\" ADD \"c\" text NOT NULL DEFAULT '`${x}\\\\'";
    expect(literalOf(queryCall(sql))).toBe(sql);
    // Lines inside a body or a quoted line break keep their indentation: such statements go in as they are.
    for (const verbatim of [
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n  SELECT 1\n$$",
      `ALTER TABLE "t" ADD "c" text NOT NULL DEFAULT 'two\n  lines' ${"x".repeat(120)}`,
    ]) {
      expect(formatStatement(verbatim)).toBeNull();
      expect(literalOf(queryCall(verbatim))).toBe(verbatim);
    }
  });
});

describe("the statements of the migrations", () => {
  it("are the recorded ones", async () => {
    expect(await checkStatements()).toEqual({ changed: [], unrecorded: [] });
  });

  it("records query() only, so a migration that asks more is noticed", async () => {
    const reading: MigrationInterface = {
      name: "Reading1",
      async up(runner: QueryRunner) {
        await runner.hasTable("users");
      },
      async down() {},
    };
    await expect(recordStatements(reading, "up")).rejects.toThrow(/queryRunner.hasTable/);
  });

  describe("against a fingerprint file", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "admit-statements-")), "fingerprints.txt");
    const migrationOf = (statements: string[]) =>
      class Widgets1700000000000 implements MigrationInterface {
        name = "Widgets1700000000000";
        async up(runner: QueryRunner) {
          for (const sql of statements) await runner.query(sql);
        }
        async down(runner: QueryRunner) {
          await runner.query(`DROP TABLE "widgets"`);
        }
      };
    const original = [
      `CREATE TABLE "widgets" ("id" uuid NOT NULL, "kind" text NOT NULL DEFAULT 'plain', CONSTRAINT "PK_w" PRIMARY KEY ("id"))`,
      `CREATE FUNCTION widget_kind() RETURNS text LANGUAGE sql AS $$ SELECT 'plain' $$`,
    ];

    beforeAll(async () => {
      expect(await recordNewMigrations(file, [migrationOf(original)])).toEqual(["Widgets1700000000000"]);
      // Recorded once: recording again leaves it as it is.
      expect(await recordNewMigrations(file, [migrationOf(["SELECT 1"])])).toEqual([]);
    });

    it("passes when a statement is only laid out differently", async () => {
      const reformatted = [formatStatement(original[0], 40)!.join("\n"), `-- the kind\n${original[1]}`];
      expect(await checkStatements(file, [migrationOf(reformatted)])).toEqual({ changed: [], unrecorded: [] });
    });

    it("fails when a statement's meaning changes, even by a space inside quotes", async () => {
      for (const changed of [
        [original[0].replace("'plain'", "'plain '"), original[1]],
        [original[0], original[1].replace("SELECT 'plain'", "SELECT  'plain'")],
        [original[0].replace("NOT NULL DEFAULT", "DEFAULT"), original[1]],
        [original[0]],
      ]) {
        const { changed: problems } = await checkStatements(file, [migrationOf(changed)]);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(/^Widgets1700000000000 up statement \d/);
      }
    });

    it("fails when a recorded migration is gone and names one not recorded", async () => {
      expect(await checkStatements(file, [MIGRATIONS[0]])).toEqual({
        changed: ["Widgets1700000000000: recorded, but no longer in migrations/index.ts"],
        unrecorded: [(MIGRATIONS[0] as { name: string }).name],
      });
    });
  });
});
