import type { BudgetRules } from "../../graphql/budget";
import {
  DEFAULT_BREAKDOWN_ROWS,
  MAX_BREAKDOWN_ROWS,
  MAX_TIMELINE_BUCKETS,
  timelineBucketCount,
} from "./analytics.service";

const WINDOW = ["from", "to"] as const;

const dateOrNull = (value: unknown): Date | null =>
  value instanceof Date && !Number.isNaN(value.getTime()) ? value : null;

/**
 * What analytics fields cost in a request's item budget (src/graphql/budget.ts), known before any
 * SQL runs. A timeline is counted by its window: from `from` to `to` (or now); without `from` its
 * start is the event's first join, unknown until the query runs, so it counts as many buckets as
 * a timeline may ever have.
 */
export const ANALYTICS_BUDGET_RULES: BudgetRules = {
  "Query.eventAnalytics": { passes: WINDOW },
  "Event.analytics": { passes: WINDOW },
  "Query.companyAnalytics": { passes: WINDOW },
  // As many events as have sessions in the window: charged once they are found.
  "CompanyAnalytics.events": { resolvedLength: true },
  "EventAnalytics.timeline": {
    items: (args, window, now) => {
      const bucketSeconds = args.bucketSeconds;
      // Refused by the resolver, before its SQL.
      if (typeof bucketSeconds !== "number" || !Number.isInteger(bucketSeconds) || bucketSeconds < 1)
        return { count: 0, argument: "bucketSeconds" };
      const from = dateOrNull(window.from);
      if (!from) return { count: MAX_TIMELINE_BUCKETS, argument: "bucketSeconds" };
      const to = dateOrNull(window.to) ?? new Date(Math.max(now.getTime(), from.getTime()) + 1);
      return {
        count: Math.max(0, Math.min(MAX_TIMELINE_BUCKETS, timelineBucketCount(from, to, bucketSeconds))),
        argument: "bucketSeconds",
      };
    },
  },
  "EventAnalytics.breakdown": {
    items: (args) => ({
      count:
        typeof args.first === "number" ? Math.max(0, Math.min(args.first, MAX_BREAKDOWN_ROWS)) : DEFAULT_BREAKDOWN_ROWS,
      argument: "first",
    }),
  },
};
