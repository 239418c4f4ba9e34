/** Lists of a request are packed into event-loop turns of at most this many items (a longer list has a turn of its own). */
export const ITEMS_PER_TURN = 2_000;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Hands a request's lists to graphql-js a few thousand items per event-loop turn. graphql-js
 * completes a list (every field of every item resolved, every leaf serialised) in one synchronous
 * loop, and one batched load resolves the lists of every alias in the same tick: three timelines
 * of 10,000 buckets would be completed in one stretch of 100 ms or more while every other request,
 * /healthz included, waits. Each list is given out in a later turn (setImmediate), in turns of at
 * most ITEMS_PER_TURN items, so I/O runs in between; a list's own length is bounded by its field
 * (MAX_TIMELINE_BUCKETS, MAX_BREAKDOWN_ROWS).
 */
export class Pacer {
  /** The last turn handed out, and how many items it carries. */
  private turn: Promise<void> = Promise.resolve();
  private items = ITEMS_PER_TURN;

  pace<T>(list: T[]): Promise<T[]> {
    if (this.items + list.length > ITEMS_PER_TURN) {
      this.turn = this.turn.then(nextTurn);
      this.items = 0;
    }
    this.items += list.length;
    return this.turn.then(() => list);
  }
}
