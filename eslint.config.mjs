// ESLint for Admit: type-checked rules on the TypeScript (src/, test/, bench/), no import circles,
// TypeORM kept out of resolvers and HTTP routes, and plain rules on the JavaScript files.
// Formatting is Prettier's business (`npm run format`), not ESLint's.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";
import { importX } from "eslint-plugin-import-x";
import globals from "globals";
import tseslint from "typescript-eslint";

const unusedVars = { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" };

export default defineConfig(
  {
    // migrations/ is written by TypeORM's generator and then only read; tsc still checks it.
    ignores: ["dist/", "coverage/", "data/", "artifacts/", "test-artifacts/", "migrations/"],
  },

  {
    files: ["**/*.ts"],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    plugins: { "import-x": importX },
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    settings: {
      "import-x/extensions": [".ts", ".js"],
      "import-x/external-module-folders": ["node_modules", "node_modules/@types"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "tsconfig.json" })],
    },
    rules: {
      // A circle of runtime imports is how "Cannot access 'X' before initialization" starts.
      // (import-x skips `import type`: a circle of types only costs nothing at run time.)
      "import-x/no-cycle": "error",
      "@typescript-eslint/no-unused-vars": ["error", unusedVars],
      // `async` without `await` is deliberate here: Apollo plugin hooks and Fastify handlers are
      // promise-returning interfaces (a Fastify async handler's return value is the reply), and an
      // async function turns a throw into a rejection.
      "@typescript-eslint/require-await": "off",
      // graphql-js's OperationTypeNode and our GraphQL enums are string enums compared with the
      // string values columns and ASTs hold; that comparison is the point.
      "@typescript-eslint/no-unsafe-enum-comparison": "off",
      // Refusing control characters in input (redirects, passwords, claims) needs them in a regex.
      "no-control-regex": "off",
      // Template literals print URLs and query strings through their toString, as intended.
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        {
          allowNumber: true,
          allow: [
            { from: "lib", name: ["Error", "URL", "URLSearchParams"] },
            { from: "package", package: "url", name: ["URL", "URLSearchParams"] },
          ],
        },
      ],
      "no-empty": ["error", { allowEmptyCatch: true }],
    },
  },

  {
    // Tests and benchmarks read GraphQL answers and raw rows as untyped JSON (`res.data.x.y`):
    // typing every answer would be noise, and the assertion on the value is the check.
    files: ["test/**/*.ts", "bench/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-return": "off",
    },
  },

  {
    // Inside a domain the direction is resolver → service → entity: resolvers and browser routes
    // call services and never reach the database themselves (not even for a type).
    files: ["src/**/*.resolver.ts", "src/http/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [{ name: "typeorm", message: "Resolvers and HTTP routes call a service; services talk to TypeORM." }],
          patterns: [
            { group: ["typeorm/*"], message: "Resolvers and HTTP routes call a service; services talk to TypeORM." },
          ],
        },
      ],
    },
  },

  {
    // Node scripts and examples: CommonJS, no type information.
    files: ["**/*.js"],
    ignores: ["src/http/join-page/**", "src/http/report-page/**"],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: "commonjs", globals: { ...globals.node } },
    rules: { "no-unused-vars": ["error", unusedVars], "no-empty": ["error", { allowEmptyCatch: true }] },
  },
  {
    // The join and report pages' scripts run in the browser as they are served: no build step.
    files: ["src/http/join-page/**/*.js", "src/http/report-page/**/*.js"],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: "script", globals: { ...globals.browser } },
    rules: { "no-unused-vars": ["error", unusedVars], "no-empty": ["error", { allowEmptyCatch: true }] },
  },
  {
    files: ["**/*.mjs"],
    extends: [js.configs.recommended],
    languageOptions: { sourceType: "module", globals: { ...globals.node } },
  },
);
