import "reflect-metadata";
import fs from "node:fs";
import path from "node:path";
import { diffMigrationsAgainstEntities } from "./schema-diff";
import { queryCall } from "./migration-sql";

/**
 * `npm run migration:generate -- <Name>`: writes migrations/<timestamp>-<name>.ts from the
 * difference between the migrated schema and the entities, and registers it in
 * migrations/index.ts. Each statement is one `await queryRunner.query(...)` with a template
 * literal, laid out over lines when long. Read the result and rename things by what they do, then
 * record it (`npm run migration:record`) before committing.
 */
async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name || !/^[A-Z][A-Za-z0-9]+$/.test(name)) {
    console.error("Usage: npm run migration:generate -- <PascalCaseName>");
    process.exit(2);
  }
  const { up, down } = await diffMigrationsAgainstEntities(undefined);
  if (up.length === 0) {
    console.log("Nothing to generate: the migrations already match the entities.");
    return;
  }
  const timestamp = Date.now();
  const className = `${name}${timestamp}`;
  const body = `import { MigrationInterface, QueryRunner } from "typeorm";

export class ${className} implements MigrationInterface {
  name = "${className}";

  async up(queryRunner: QueryRunner): Promise<void> {
${up.map((q) => queryCall(q.query, q.parameters)).join("\n")}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${down
  .reverse()
  .map((q) => queryCall(q.query, q.parameters))
  .join("\n")}
  }
}
`;
  const root = path.resolve(__dirname, "../../..");
  const fileBase = `${timestamp}-${name.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase()}`;
  fs.writeFileSync(path.join(root, "migrations", `${fileBase}.ts`), body);
  const indexPath = path.join(root, "migrations", "index.ts");
  const index = fs.readFileSync(indexPath, "utf8");
  const withImport = `import { ${className} } from "./${fileBase}";\n${index}`;
  const updated = withImport.replace(/export const MIGRATIONS: Function\[\] = \[([\s\S]*?)\];/, (_m, list: string) => {
    const items = list
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    items.push(className);
    return `export const MIGRATIONS: Function[] = [\n${items.map((i) => `  ${i},`).join("\n")}\n];`;
  });
  fs.writeFileSync(indexPath, updated);
  console.log(`Wrote migrations/${fileBase}.ts (${up.length} statements).`);
  console.log("Review it, then record its statements: npm run migration:record");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
