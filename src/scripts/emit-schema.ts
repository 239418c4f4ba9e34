import fs from "node:fs";
import path from "node:path";
import { lexicographicSortSchema, printSchema } from "graphql";
import { getSchema } from "../graphql/schema";

/** `npm run schema` writes schema.graphql; `--check` fails when the committed one is stale. */
async function main(): Promise<void> {
  const sdl = `${printSchema(lexicographicSortSchema(await getSchema()))}\n`;
  const file = path.resolve(__dirname, "../../../schema.graphql");
  if (process.argv.includes("--check")) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
    if (current !== sdl) {
      console.error("schema.graphql is stale: run `npm run schema` and commit the result.");
      process.exit(1);
    }
    console.log("schema.graphql is current.");
    return;
  }
  fs.writeFileSync(file, sdl);
  console.log(`Wrote ${file}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
