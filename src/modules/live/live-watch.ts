import type { Logger } from "pino";
import { isAppError } from "../../errors";

/** After a failure that is not the subscriber's (the database away), the next try waits this long, doubling. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 10_000;

/**
 * One subscription's stream, pulled by graphql-js: nothing is queued. A change only marks the
 * watch dirty; the next value is computed from the database when the subscriber is ready for it,
 * so a burst of changes costs one read, and a slow client holds no backlog. A snapshot is asked
 * for by `resnapshot` (the change feed was lost: changes may have been missed).
 *
 * `compute` answers the value to send, or null when nothing the subscriber sees has changed.
 * An AppError it throws ends the stream with that error (the socket is closed with its close
 * code); any other error is logged and retried with backoff, since a live push is worth more
 * than an exact error while the database restarts.
 */
export abstract class LiveWatch<T> implements AsyncIterableIterator<T> {
  private dirty = true;
  private snapshotWanted = true;
  private wake: (() => void) | null = null;
  private finished = false;
  private failure: Error | null = null;
  /** Set by compute: the value it returns is the last one (the session ended). */
  protected lastValue = false;
  private retryMs = RETRY_MIN_MS;

  constructor(
    protected readonly log: Logger,
    private readonly onFinish: (watch: LiveWatch<T>) => void,
  ) {}

  /** Computes what to send now; `snapshot`: the whole state, even if unchanged. */
  protected abstract compute(snapshot: boolean): Promise<T | null>;

  /** Something this watch shows may have changed. */
  changed(): void {
    this.dirty = true;
    this.wake?.();
  }

  /** The next value is a snapshot. */
  resnapshot(): void {
    this.snapshotWanted = true;
    this.changed();
  }

  /** Ends the stream with `error` (an AppError: the subscriber is no longer allowed). */
  fail(error: unknown): void {
    this.failure ??= error instanceof Error ? error : new Error(String(error));
    this.wake?.();
  }

  get closed(): boolean {
    return this.finished;
  }

  /** The first value, computed before the subscription is accepted: an AppError refuses it. */
  async first(): Promise<T> {
    this.dirty = false;
    this.snapshotWanted = false;
    const value = await this.compute(true);
    if (value === null) throw new Error("a snapshot cannot be empty");
    this.pending = value;
    return value;
  }

  private pending: T | null = null;

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.pending !== null) {
        const value = this.pending;
        this.pending = null;
        return { done: false, value };
      }
      if (this.failure !== null) {
        const error = this.failure;
        this.finish();
        throw error;
      }
      if (this.finished || this.lastValue) {
        this.finish();
        return { done: true, value: undefined };
      }
      if (this.dirty) {
        const snapshot = this.snapshotWanted;
        this.dirty = false;
        this.snapshotWanted = false;
        try {
          const value = await this.compute(snapshot);
          this.retryMs = RETRY_MIN_MS;
          if (value !== null) return { done: false, value };
        } catch (error) {
          if (isAppError(error)) {
            this.fail(error);
            continue;
          }
          this.log.warn({ err: error }, "a live subscription could not read its state: retrying");
          await this.sleep(this.retryMs);
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          this.dirty = true;
          this.snapshotWanted ||= snapshot;
        }
        continue;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      // A failure or the end of the stream does not wait for the retry.
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  async return(): Promise<IteratorResult<T>> {
    this.finish();
    return { done: true, value: undefined };
  }

  async throw(error: unknown): Promise<IteratorResult<T>> {
    this.finish();
    throw error;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** Stops the stream and forgets the watch (graphql-ws calls return() when the client completes or leaves). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.onFinish(this);
    this.wake?.();
  }
}
