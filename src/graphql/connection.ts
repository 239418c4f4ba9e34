import { ClassType, Field, Int, ObjectType } from "type-graphql";
import { Access } from "./access";
import { badInput } from "../errors";
import { isUuid } from "./validate";

@ObjectType({ description: "Relay page information." })
export class PageInfo {
  @Access("public")
  @Field({ description: "Whether more items follow the last edge." })
  hasNextPage: boolean;

  @Access("public")
  @Field({ description: "Whether items precede the first edge (always false: forward pagination only)." })
  hasPreviousPage: boolean;

  @Access("public")
  @Field(() => String, { nullable: true, description: "Cursor of the first edge." })
  startCursor: string | null;

  @Access("public")
  @Field(() => String, {
    nullable: true,
    description: "Cursor of the last edge; pass it as `after` for the next page.",
  })
  endCursor: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface ConnectionShape<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount?: number;
}

/**
 * Builds `<Name>Edge` and `<Name>Connection` object types for a node type. A page is readable by
 * whoever received it (the field that returned it decided); its nodes carry their own rules.
 */
export function Connection<T extends object>(nodeType: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`, { description: `An edge to a ${name}.` })
  class EdgeType {
    @Access("public")
    @Field({ description: "Opaque cursor of this edge." })
    cursor: string;

    @Access("public")
    @Field(() => nodeType, { description: `The ${name}.` })
    node: T;
  }

  @ObjectType(`${name}Connection`, { description: `A page of ${name} items.` })
  class ConnectionType {
    @Access("public")
    @Field(() => [EdgeType], { description: "The items of this page." })
    edges: EdgeType[];

    @Access("public")
    @Field(() => PageInfo, { description: "Where this page stands." })
    pageInfo: PageInfo;

    @Access("public")
    @Field(() => Int, { nullable: true, description: "How many items match, across all pages." })
    totalCount?: number;
  }

  return ConnectionType;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
    throw badInput("first", `first must be a whole number from 0 to ${MAX_PAGE_SIZE}.`);
  }
  return first;
}

/** Keyset cursors: the ordering key of the last row, opaque to callers. */
export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string | null | undefined, arity: number): (string | number)[] | null {
  if (cursor === null || cursor === undefined) return null;
  try {
    const parts: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(parts) &&
      parts.length === arity &&
      parts.every((p) => typeof p === "string" || typeof p === "number")
    ) {
      return parts;
    }
  } catch {
    // fall through to the error below
  }
  throw notACursor();
}

const notACursor = () => badInput("after", "after is not a cursor this API gave out.");

/** Where a list ordered by (createdAt, id) resumes. */
export interface CreatedAtCursor {
  createdAt: Date;
  id: string;
}

/** The cursor parts of a row of a list ordered by (createdAt, id). */
export const createdAtCursorOf = (row: CreatedAtCursor): [string, string] => [row.createdAt.toISOString(), row.id];

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Decodes a cursor made by createdAtCursorOf. Well-formed JSON with parts of the wrong kind is
 * refused here too: it would otherwise reach SQL as a cast error and come back INTERNAL.
 */
export function decodeCreatedAtCursor(cursor: string | null | undefined): CreatedAtCursor | null {
  const parts = decodeCursor(cursor, 2);
  if (!parts) return null;
  const [at, id] = parts;
  if (typeof at !== "string" || !ISO_INSTANT.test(at) || typeof id !== "string" || !isUuid(id)) throw notACursor();
  const createdAt = new Date(at);
  if (Number.isNaN(createdAt.getTime())) throw notACursor();
  return { createdAt, id };
}

/** Builds a connection from rows fetched with limit+1 (the extra row says a next page exists). */
export function toConnection<R, T>(
  rows: R[],
  limit: number,
  cursorOf: (row: R) => (string | number)[],
  toNode: (row: R) => T,
): ConnectionShape<T> {
  const page = rows.slice(0, limit);
  const edges = page.map((row) => ({ cursor: encodeCursor(cursorOf(row)), node: toNode(row) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: false,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}
