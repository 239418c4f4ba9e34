#!/usr/bin/env node
/**
 * `npm run check:cycles`: fails when the files under src/ import each other in a circle.
 *
 * Builds the import graph with the TypeScript compiler API, counting every kind of edge a reader
 * follows: `import`, `import type`, `export … from`, `import x = require()`, `require()`,
 * `import()` and `import("…").T` in types. A type-only circle costs nothing at run time, but it
 * still means two layers know each other, which is what this check is for. Each strongly connected
 * group of files is reported once, with one circle through it as an example.
 */
const fs = require("node:fs");
const path = require("node:path");
const ts = require("typescript");

const root = path.resolve(__dirname, "..");
const srcDir = path.join(root, "src");

function readCompilerOptions() {
  const configPath = path.join(root, "tsconfig.json");
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, "\n"));
  return ts.parseJsonConfigFileContent(read.config, ts.sys, root).options;
}

function sourceFiles(dir) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(full);
  }
  return out.sort();
}

/** Every module specifier a file names, whatever the syntax. */
function specifiersOf(file) {
  const text = fs.readFileSync(file, "utf8");
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const visit = (node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expr = node.moduleReference.expression;
      if (ts.isStringLiteral(expr)) found.push(expr.text);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) found.push(arg.literal.text);
    } else if (ts.isCallExpression(node) && node.arguments.length === 1 && ts.isStringLiteralLike(node.arguments[0])) {
      const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require";
      if (isDynamicImport || isRequire) found.push(node.arguments[0].text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function buildGraph(files, options) {
  const inSrc = new Set(files);
  const host = ts.createCompilerHost(options);
  const graph = new Map();
  for (const file of files) {
    const targets = new Set();
    for (const spec of specifiersOf(file)) {
      const resolved = ts.resolveModuleName(spec, file, options, host).resolvedModule;
      if (!resolved) continue;
      const target = path.resolve(resolved.resolvedFileName);
      if (inSrc.has(target)) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** Tarjan's strongly connected components; the ones with a circle in them. */
function circularGroups(graph) {
  let index = 0;
  const indexOf = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const groups = [];
  const connect = (v) => {
    indexOf.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)) {
      if (!indexOf.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), indexOf.get(w)));
      }
    }
    if (low.get(v) === indexOf.get(v)) {
      const group = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        group.push(w);
      } while (w !== v);
      if (group.length > 1 || graph.get(v).includes(v)) groups.push(group.sort());
    }
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) connect(v);
  return groups;
}

/** A shortest circle through the group's first file, staying inside the group. */
function exampleCircle(graph, group) {
  const members = new Set(group);
  const start = group[0];
  const previous = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift();
    for (const w of graph.get(v)) {
      if (!members.has(w)) continue;
      if (w === start) {
        const circle = [start];
        for (let at = v; at !== start; at = previous.get(at)) circle.splice(1, 0, at);
        circle.push(start);
        return circle;
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

function main() {
  const files = sourceFiles(srcDir);
  const graph = buildGraph(files, readCompilerOptions());
  const groups = circularGroups(graph);
  const rel = (file) => path.relative(root, file);
  if (groups.length === 0) {
    console.log(`check:cycles: ${files.length} files under src/, no import circle.`);
    return;
  }
  console.error(`check:cycles: ${groups.length} import circle(s) under src/:`);
  for (const group of groups) {
    console.error(`\n  ${group.length} files import each other:`);
    for (const file of group) console.error(`    ${rel(file)}`);
    console.error(`  for example: ${exampleCircle(graph, group).map(rel).join(" -> ")}`);
  }
  process.exitCode = 1;
}

main();
