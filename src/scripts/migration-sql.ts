/**
 * Reading SQL as PostgreSQL's lexer does, as far as whitespace is concerned: what is quoted
 * (string constants, quoted identifiers, dollar-quoted bodies) is kept byte for byte; outside
 * quotes, whitespace and comments only separate tokens. Two uses:
 *
 * - normaliseSql: one canonical text per token sequence, so that a migration reformatted (lines
 *   broken, comments edited) compares equal to what it ran before, and any other change does not.
 * - formatStatement / queryCall: how migration:generate and the migrations lay out a statement.
 */

/** A piece of SQL text: quoted (kept verbatim), code (no whitespace in it), or separator. */
export type SqlPiece = { kind: "quoted" | "code" | "space" | "comment"; text: string };

const IDENTIFIER_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/** Splits SQL into pieces; throws on an unterminated quote or comment rather than guess. */
export function lexSql(sql: string): SqlPiece[] {
  const pieces: SqlPiece[] = [];
  let code = "";
  const flushCode = () => {
    if (code) pieces.push({ kind: "code", text: code });
    code = "";
  };
  const fail = (what: string, at: number): never => {
    throw new Error(`Unterminated ${what} at offset ${at}: ${JSON.stringify(sql.slice(at, at + 60))}`);
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const prev = i > 0 ? sql[i - 1] : "";
    if (/\s/.test(c)) {
      flushCode();
      let j = i;
      while (j < sql.length && /\s/.test(sql[j])) j++;
      pieces.push({ kind: "space", text: sql.slice(i, j) });
      i = j;
    } else if (c === "-" && sql[i + 1] === "-") {
      flushCode();
      const end = sql.indexOf("\n", i);
      const j = end === -1 ? sql.length : end;
      pieces.push({ kind: "comment", text: sql.slice(i, j) });
      i = j;
    } else if (c === "/" && sql[i + 1] === "*") {
      flushCode();
      // Block comments nest in PostgreSQL.
      let depth = 0;
      let j = i;
      do {
        if (j >= sql.length) fail("comment", i);
        if (sql.startsWith("/*", j)) {
          depth++;
          j += 2;
        } else if (sql.startsWith("*/", j)) {
          depth--;
          j += 2;
        } else j++;
      } while (depth > 0);
      pieces.push({ kind: "comment", text: sql.slice(i, j) });
      i = j;
    } else if (c === "'") {
      // E'...' takes backslash escapes; every string takes '' for a quote.
      const escapes = /[eE]/.test(prev) && (i < 2 || !IDENTIFIER_CHAR.test(sql[i - 2]));
      if (escapes) code = code.slice(0, -1);
      flushCode();
      const start = escapes ? i - 1 : i;
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) fail("string", i);
        if (escapes && sql[j] === "\\") j += 2;
        else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
        else if (sql[j] === "'") break;
        else j++;
      }
      pieces.push({ kind: "quoted", text: sql.slice(start, j + 1) });
      i = j + 1;
    } else if (c === '"') {
      flushCode();
      let j = i + 1;
      for (;;) {
        if (j >= sql.length) fail("identifier", i);
        if (sql[j] === '"' && sql[j + 1] === '"') j += 2;
        else if (sql[j] === '"') break;
        else j++;
      }
      pieces.push({ kind: "quoted", text: sql.slice(i, j + 1) });
      i = j + 1;
    } else if (c === "$" && !IDENTIFIER_CHAR.test(prev) && DOLLAR_TAG.test(sql.slice(i, i + 64))) {
      flushCode();
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 64))![0];
      const end = sql.indexOf(tag, i + tag.length);
      if (end === -1) fail(`${tag} body`, i);
      pieces.push({ kind: "quoted", text: sql.slice(i, end + tag.length) });
      i = end + tag.length;
    } else {
      code += c;
      i++;
    }
  }
  flushCode();
  return pieces;
}

/** Tokens that never join a neighbour into a longer token, so space beside them means nothing. */
const SELF_DELIMITING = new Set(["(", ")", ",", ";"]);

/**
 * The canonical text of SQL: comments dropped, whitespace outside quotes reduced to one space
 * between tokens and to none beside `(`, `)`, `,` and `;` or at either end; quoted text kept
 * byte for byte. It keeps every character that is not whitespace or comment, in order, and
 * marks every place where whitespace separated two other tokens, so two texts with the same
 * canonical form are the same sequence of PostgreSQL tokens: the same statement.
 */
export function normaliseSql(sql: string): string {
  let out = "";
  let separated = false;
  for (const piece of lexSql(sql)) {
    if (piece.kind === "space" || piece.kind === "comment") {
      separated = true;
      continue;
    }
    if (separated && out && !SELF_DELIMITING.has(out[out.length - 1]) && !SELF_DELIMITING.has(piece.text[0]))
      out += " ";
    out += piece.text;
    separated = false;
  }
  return out;
}

/** Where a long statement is cut: before these (and ON of an index), at the top level, outside quotes. */
const BREAK_BEFORE = ["FOREIGN KEY", "WHERE", "USING", "ON DELETE"];

/**
 * Lays out one statement as lines of at most `width` characters where it can: a table's columns
 * and constraints one per line, a long statement cut before ON, FOREIGN KEY or WHERE, then at
 * spaces. Only whitespace outside quotes moves, so normaliseSql of the lines joined equals
 * normaliseSql of the input. Null for a statement with comments, a dollar-quoted body or a
 * quoted line break: indenting its lines could change it, so it is left as it is.
 */
export function formatStatement(sql: string, width = 100): string[] | null {
  const pieces = lexSql(sql.trim());
  const verbatim = (p: SqlPiece) =>
    p.kind === "comment" || (p.kind === "quoted" && (p.text.startsWith("$") || p.text.includes("\n")));
  if (pieces.some(verbatim)) return null;
  // One line, runs of whitespace as one space; `quoted` marks characters inside quotes.
  let line = "";
  const quoted: boolean[] = [];
  for (const piece of pieces) {
    const text = piece.kind === "space" ? " " : piece.text;
    line += text;
    for (let k = 0; k < text.length; k++) quoted.push(piece.kind === "quoted");
  }
  if (line.length <= width) return [line];

  const depthAt = depths(line, quoted);
  const table = /^CREATE TABLE ("[^"]+"|\S+) \(/.exec(line);
  if (table) {
    const open = table[0].length - 1;
    const close = matchingParen(line, quoted, depthAt, open);
    if (close > 0) {
      const items = splitTopLevel(line.slice(open + 1, close), quoted.slice(open + 1, close), ",");
      const tail = line.slice(close + 1).trim();
      return [
        line.slice(0, open + 1),
        ...items.map((item, k) => `  ${item}${k < items.length - 1 ? "," : ""}`),
        `)${tail ? ` ${tail}` : ""}`,
      ].flatMap((l) => wrap(l, width));
    }
  }
  // Cut before a keyword only where the line would otherwise be too long.
  const breaks = /^CREATE (UNIQUE )?INDEX /.test(line) ? ["ON", ...BREAK_BEFORE] : BREAK_BEFORE;
  const cuts: number[] = [];
  for (let k = 1; k < line.length; k++) {
    if (line[k - 1] !== " " || quoted[k] || depthAt[k] !== 0) continue;
    if (
      breaks.some((word) => line.startsWith(word, k) && /^( |$)/.test(line.slice(k + word.length, k + word.length + 1)))
    ) {
      cuts.push(k);
    }
  }
  const segments = [0, ...cuts].map((from, k) => line.slice(from, k < cuts.length ? cuts[k] : line.length).trim());
  const lines: string[] = [];
  for (const segment of segments) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + segment.length <= width) lines[last] += ` ${segment}`;
    else lines.push(last >= 0 ? `  ${segment}` : segment);
  }
  return lines.flatMap((l) => wrap(l, width));
}

/** Paren depth before each character, counting only parens outside quotes. */
function depths(line: string, quoted: boolean[]): number[] {
  const out: number[] = [];
  let depth = 0;
  for (let k = 0; k < line.length; k++) {
    if (!quoted[k] && line[k] === ")") depth--;
    out.push(depth);
    if (!quoted[k] && line[k] === "(") depth++;
  }
  return out;
}

function matchingParen(line: string, quoted: boolean[], depthAt: number[], open: number): number {
  for (let k = open + 1; k < line.length; k++) {
    if (!quoted[k] && line[k] === ")" && depthAt[k] === depthAt[open]) return k;
  }
  return -1;
}

/** Splits at `separator` outside quotes and parens; items trimmed. */
function splitTopLevel(text: string, quoted: boolean[], separator: string): string[] {
  const depthAt = depths(text, quoted);
  const items: string[] = [];
  let from = 0;
  for (let k = 0; k < text.length; k++) {
    if (text[k] === separator && !quoted[k] && depthAt[k] === 0) {
      items.push(text.slice(from, k).trim());
      from = k + 1;
    }
  }
  items.push(text.slice(from).trim());
  return items.filter(Boolean);
}

/** Cuts a line longer than `width` at spaces outside quotes; continuations indented two more. */
function wrap(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const indent = /^ */.exec(line)![0];
  const pieces = lexSql(line.trim());
  const words: string[] = [];
  let word = "";
  for (const piece of pieces) {
    if (piece.kind === "space") {
      words.push(word);
      word = "";
    } else word += piece.text;
  }
  if (word) words.push(word);
  const lines: string[] = [];
  let current = indent;
  for (const w of words) {
    if (current.trim() && current.length + 1 + w.length > width) {
      lines.push(current);
      current = `${indent}  ${w}`;
    } else current = current.trim() ? `${current} ${w}` : `${current}${w}`;
  }
  lines.push(current);
  return lines;
}

/** Text as the inside of a template literal: what it evaluates to is `text` again. */
export function templateLiteralBody(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/`/g, "\\`").replace(/\$\{/g, "\\${");
}

/**
 * `await queryRunner.query(...)` for one statement, indented by `indent` spaces: on one line when
 * it fits in `width`, else the statement's lines inside a template literal of their own; a
 * statement formatStatement leaves alone goes in as it is.
 */
export function queryCall(sql: string, parameters: unknown[] = [], indent = 4, width = 120): string {
  const pad = " ".repeat(indent);
  const rest = parameters.length ? `, ${JSON.stringify(parameters)}` : "";
  const lines = formatStatement(sql);
  if (!lines) return `${pad}await queryRunner.query(\`${templateLiteralBody(sql)}\`${rest});`;
  const single = `${pad}await queryRunner.query(\`${templateLiteralBody(lines[0])}\`${rest});`;
  if (lines.length === 1 && single.length <= width) return single;
  const inner = lines.map((l) => `${pad}  ${templateLiteralBody(l)}`).join("\n");
  return `${pad}await queryRunner.query(\`\n${inner}\n${pad}\`${rest});`;
}
