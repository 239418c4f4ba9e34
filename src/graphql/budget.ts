import {
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  getArgumentValues,
  getNamedType,
  getNullableType,
  getVariableValues,
  GraphQLCompositeType,
  GraphQLResolveInfo,
  GraphQLSchema,
  isCompositeType,
  isListType,
  isObjectType,
  isInterfaceType,
  Kind,
  OperationDefinitionNode,
  responsePathAsArray,
  SelectionSetNode,
} from "graphql";
import type { ApolloServerPlugin } from "@apollo/server";
import type { Clock } from "../clock";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./connection";
import { AppError } from "../errors";

/**
 * The items one request may ask for, whatever its shape: timeline buckets, breakdown rows and
 * connection page items, summed over aliases and multiplied by the pages they sit in (a page of
 * 100 events, each with a registrants page of 100, is 100 + 10,000). Room for the largest
 * timeline (10,000 buckets) with a breakdown and a page beside it, or a dashboard of 100 events
 * with 100 registrants each; about 1 MB of JSON at most. 19 aliases of a 10,000-bucket timeline,
 * which would build and serialise a 12 MB answer on the event loop, are refused before any SQL.
 */
export const REQUEST_ITEM_BUDGET = 15_000;

type Args = Record<string, unknown>;

/** What the budget knows of one field beyond the generic connection rule. "Type.field" keys it. */
export interface FieldBudget {
  /** The most items the field returns, and the argument that decides it (named in a refusal). */
  items?: (args: Args, inherited: Args, now: Date) => { count: number; argument: string };
  /** Arguments its whole subtree sees as `inherited` (an analytics window). */
  passes?: readonly string[];
  /**
   * A list whose length is known only once it resolves (the company's active events): it is
   * counted as one item before execution, and its resolver charges the others through
   * RequestBudget.chargeResolvedList before their fields run.
   */
  resolvedLength?: true;
}

export type BudgetRules = Readonly<Record<string, FieldBudget>>;

/** What a part of a request costs: items in all, and by the argument that asked for them. */
class Tally {
  total = 0;
  readonly byArgument = new Map<string, number>();

  add(count: number, argument: string | null): void {
    this.total += count;
    if (argument) this.byArgument.set(argument, (this.byArgument.get(argument) ?? 0) + count);
  }

  addAll(other: Tally, times: number): void {
    this.total += other.total * times;
    for (const [argument, count] of other.byArgument)
      this.byArgument.set(argument, (this.byArgument.get(argument) ?? 0) + count * times);
  }

  /** The argument to lower: the one that asked for the most items. */
  get culprit(): string {
    let best: [string, number] = ["first", -1];
    for (const entry of this.byArgument) if (entry[1] > best[1]) best = entry;
    return best[0];
  }
}

/** The path of a field in the response without list indexes: "a0.events". */
const pathKeyOf = (names: readonly (string | number)[]) => names.filter((n) => typeof n === "string").join(".");

function overBudget(spent: number, limit: number, argument: string): AppError {
  // 183,361 (toLocaleString asks ICU, which costs more than the refusal itself).
  const n = (value: number) => String(value).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const error = new AppError(
    "BAD_USER_INPUT",
    `This request asks for up to ${n(spent)} list items (timeline buckets, breakdown rows and page items, across all aliases and nested pages); ` +
      `the limit is ${n(limit)} per request. Lower ${argument}, narrow the window, or split the request.`,
    { field: argument },
  );
  // Refused before execution: a client error, not a 500.
  error.extensions.http = { status: 400 };
  return error;
}

/** One request's spending, kept in its context so that lists of unknown length can be charged as they resolve. */
export class RequestBudget {
  constructor(
    readonly limit: number,
    private spent: number,
    private readonly perItem: ReadonlyMap<string, Tally>,
  ) {}

  get total(): number {
    return this.spent;
  }

  /**
   * Charges the items of a `resolvedLength` list beyond the one counted before execution, before
   * any of their fields run. Throws BAD_USER_INPUT once the request is over its budget.
   */
  chargeResolvedList(info: GraphQLResolveInfo, length: number): void {
    const item = this.perItem.get(pathKeyOf(responsePathAsArray(info.path)));
    if (!item || length <= 1) return;
    this.spent += item.total * (length - 1);
    if (this.spent > this.limit) throw overBudget(this.spent, this.limit, item.culprit);
  }
}

interface Walk {
  schema: GraphQLSchema;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Args;
  rules: BudgetRules;
  now: Date;
  perItem: Map<string, Tally>;
  /** Fragments already walked at a place in the response ("path#name"). */
  spread: Set<string>;
}

function argumentsOf(walk: Walk, type: GraphQLCompositeType, node: FieldNode): Args {
  if (!isObjectType(type) && !isInterfaceType(type)) return {};
  const field = type.getFields()[node.name.value];
  try {
    return field ? getArgumentValues(field, node, walk.variables) : {};
  } catch {
    // An invalid argument is refused by execution, before its resolver runs.
    return {};
  }
}

/** The items of one selection set, once (the caller multiplies). */
function tally(
  walk: Walk,
  type: GraphQLCompositeType,
  selections: SelectionSetNode,
  inherited: Args,
  path: string[],
): Tally {
  const sum = new Tally();
  for (const selection of selections.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const on = selection.typeCondition ? walk.schema.getType(selection.typeCondition.name.value) : type;
      if (on && isCompositeType(on)) sum.addAll(tally(walk, on, selection.selectionSet, inherited, path), 1);
      continue;
    }
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = walk.fragments[selection.name.value];
      // A fragment spread twice at one place in the response is one set of fields there (they
      // merge): walked once, which also keeps fragments that spread others twice from doubling
      // the walk at every level.
      const spreadKey = `${pathKeyOf(path)}#${selection.name.value}`;
      if (!fragment || walk.spread.has(spreadKey)) continue;
      walk.spread.add(spreadKey);
      const on = walk.schema.getType(fragment.typeCondition.name.value);
      if (on && isCompositeType(on)) sum.addAll(tally(walk, on, fragment.selectionSet, inherited, path), 1);
      continue;
    }
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    const field = type.getFields()[selection.name.value];
    if (!field || !selection.selectionSet) continue;
    const named = getNamedType(field.type);
    if (!isCompositeType(named)) continue;

    const rule = walk.rules[`${type.name}.${field.name}`];
    const args = argumentsOf(walk, type, selection);
    const below = rule?.passes
      ? { ...inherited, ...Object.fromEntries(rule.passes.map((name) => [name, args[name] ?? null])) }
      : inherited;
    const fieldPath = [...path, selection.alias?.value ?? selection.name.value];
    const children = tally(walk, named, selection.selectionSet, below, fieldPath);

    if (rule?.items) {
      const { count, argument } = rule.items(args, below, walk.now);
      sum.add(count, argument);
      sum.addAll(children, count);
    } else if (named.name.endsWith("Connection") && field.args.some((a) => a.name === "first")) {
      const first = typeof args.first === "number" ? args.first : DEFAULT_PAGE_SIZE;
      const count = Math.max(0, Math.min(first, MAX_PAGE_SIZE));
      sum.add(count, "first");
      sum.addAll(children, count);
    } else if (rule?.resolvedLength && isListType(getNullableType(field.type))) {
      // The same response key selected twice (in two fragments) is one field with both selections.
      const key = pathKeyOf(fieldPath);
      const known = walk.perItem.get(key);
      if (known) known.addAll(children, 1);
      else walk.perItem.set(key, children);
      sum.addAll(children, 1);
    } else {
      sum.addAll(children, 1);
    }
  }
  return sum;
}

/**
 * The items an operation asks for, with its variables; null when the variables do not coerce
 * (execution refuses the request then, before any resolver runs).
 */
export function estimateRequest(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  rawVariables: Args,
  rules: BudgetRules,
  now: Date,
): { tally: Tally; perItem: Map<string, Tally> } | null {
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables, { maxErrors: 1 });
  if (coerced.errors) return null;
  const root =
    operation.operation === "mutation"
      ? schema.getMutationType()
      : operation.operation === "subscription"
        ? schema.getSubscriptionType()
        : schema.getQueryType();
  if (!root) return null;
  const walk: Walk = {
    schema,
    fragments,
    variables: coerced.coerced,
    rules,
    now,
    perItem: new Map(),
    spread: new Set(),
  };
  return { tally: tally(walk, root, operation.selectionSet, {}, []), perItem: walk.perItem };
}

/**
 * Whether any field the document selects could count against the budget: one with a rule, a
 * connection, or a list of objects. Most requests (a mint, a join, a heartbeat) select none, and
 * skip the walk with variables; the answer is kept per parsed document, which Apollo reuses for
 * the same query text.
 */
const documentMayCost = new WeakMap<DocumentNode, boolean>();

function mayCost(schema: GraphQLSchema, document: DocumentNode, rules: BudgetRules): boolean {
  const known = documentMayCost.get(document);
  if (known !== undefined) return known;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const seen = new Set<string>();
  const costs = (type: GraphQLCompositeType, selections: SelectionSetNode): boolean =>
    selections.selections.some((selection) => {
      if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
        return !!on && isCompositeType(on) && costs(on, selection.selectionSet);
      }
      if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (!fragment || seen.has(fragment.name.value)) return false;
        seen.add(fragment.name.value);
        const on = schema.getType(fragment.typeCondition.name.value);
        return !!on && isCompositeType(on) && costs(on, fragment.selectionSet);
      }
      if (!selection.selectionSet) return false;
      // A field of an abstract type, or one the schema does not have: let the full walk decide.
      if (!isObjectType(type) && !isInterfaceType(type)) return true;
      const field = type.getFields()[selection.name.value];
      if (!field) return false;
      const named = getNamedType(field.type);
      if (!isCompositeType(named)) return false;
      if (
        rules[`${type.name}.${field.name}`] ||
        named.name.endsWith("Connection") ||
        isListType(getNullableType(field.type))
      )
        return true;
      return costs(named, selection.selectionSet);
    });
  let result = false;
  for (const d of document.definitions) {
    if (d.kind !== Kind.OPERATION_DEFINITION) continue;
    const root =
      d.operation === "mutation"
        ? schema.getMutationType()
        : d.operation === "subscription"
          ? schema.getSubscriptionType()
          : schema.getQueryType();
    if (!root || costs(root, d.selectionSet)) result = true;
  }
  documentMayCost.set(document, result);
  return result;
}

/** What the plugin reads and writes of a request's context. */
export interface BudgetedContext {
  clock: Clock;
  budget?: RequestBudget;
}

/**
 * Refuses, before execution and so before any SQL of its own, a request that asks for more than
 * `limit` items, with BAD_USER_INPUT naming the argument that asked for the most; leaves the
 * request's RequestBudget in its context for the lists that are charged as they resolve.
 */
export function requestBudgetPlugin<C extends BudgetedContext>(
  rules: BudgetRules,
  limit = REQUEST_ITEM_BUDGET,
): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, operation, document, request, contextValue }) {
          if (!operation || !mayCost(schema, document, rules)) return;
          const fragments: Record<string, FragmentDefinitionNode> = {};
          for (const definition of document.definitions) {
            if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
          }
          const estimate = estimateRequest(
            schema,
            operation,
            fragments,
            request.variables ?? {},
            rules,
            contextValue.clock.now(),
          );
          if (!estimate) return;
          if (estimate.tally.total > limit) throw overBudget(estimate.tally.total, limit, estimate.tally.culprit);
          contextValue.budget = new RequestBudget(limit, estimate.tally.total, estimate.perItem);
        },
      };
    },
  };
}
