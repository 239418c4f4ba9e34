import type { FormattedExecutionResult } from "graphql";

/** Lists longer than this are written a slice per event-loop turn. */
export const ITEMS_PER_SLICE = 1_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const isPlainObject = (value: unknown): value is Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return (
    (prototype === null || prototype === Object.prototype) &&
    typeof (value as { toJSON?: unknown }).toJSON !== "function"
  );
};

/** Whether a long list hangs under `value` through objects only (where a response keeps its long lists). */
function hasLongList(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > ITEMS_PER_SLICE;
  if (!isPlainObject(value)) return false;
  for (const key in value) if (hasLongList(value[key])) return true;
  return false;
}

async function write(value: unknown, out: string[]): Promise<void> {
  if (Array.isArray(value) && value.length > ITEMS_PER_SLICE) {
    for (let i = 0; i < value.length; i += ITEMS_PER_SLICE) {
      if (i > 0) await nextTurn();
      const slice = JSON.stringify(value.slice(i, i + ITEMS_PER_SLICE));
      out.push(i === 0 ? "[" : ",", slice.slice(1, -1));
    }
    out.push("]");
  } else if (isPlainObject(value) && hasLongList(value)) {
    let first = true;
    for (const key of Object.keys(value)) {
      const field = value[key];
      if (field === undefined || typeof field === "function" || typeof field === "symbol") continue;
      out.push(first ? "{" : ",", JSON.stringify(key), ":");
      first = false;
      await write(field, out);
    }
    out.push(first ? "{}" : "}");
  } else {
    out.push(JSON.stringify(value) ?? "null");
  }
}

/**
 * A response as Apollo writes it (JSON and a newline), with its long lists written a slice of
 * ITEMS_PER_SLICE items per event-loop turn. One JSON.stringify of a 1 MB answer (15,000
 * graphql-js result objects, null-prototype objects that V8 keeps as dictionaries) holds the loop
 * for 10 ms or more; an answer without a long list is one JSON.stringify, as before.
 */
export async function stringifyInTurns(result: FormattedExecutionResult): Promise<string> {
  if (!hasLongList(result)) return `${JSON.stringify(result)}\n`;
  const out: string[] = [];
  await write(result, out);
  out.push("\n");
  return out.join("");
}
