import type { Clock } from "../clock";
import type { ChangeFeed, ChangeTopic } from "./change-feed";

export interface NodeCacheOptions {
  clock: Clock;
  /** How long an entry is served, counted from when its load began. */
  ttlMs: number;
  /** Past this many entries the cache starts over (misses are never stored, so junk keys cannot fill it). */
  maxEntries: number;
  /** Announcements that drop entries before their time. Without it, only the TTL and this node's own `delete` do. */
  changes?: {
    feed: ChangeFeed;
    topic: ChangeTopic;
    /**
     * "key": a change's payload is the key of the entry it drops. "all": the cache is keyed by
     * something other than the announced id, so any change of the topic drops every entry.
     */
    drop: "key" | "all";
    /**
     * The feed is the rule and the TTL only a backstop: hits are served, and loads stored, only
     * while the feed is live (whatever was announced while it was not could have been missed).
     * Without it the TTL is the rule and the feed only shortens it.
     */
    onlyWhileLive?: boolean;
  };
}

interface Entry<V> {
  /** The load, shared by every get of the key while it runs and served once it has resolved. */
  readonly promise: Promise<V>;
  /** When the load began (ms on the clock). */
  readonly at: number;
  /** The resolved value, handed to the next load when this entry has expired. */
  value?: V;
}

/**
 * A per-node cache of what the hot paths read: each key is loaded once however many ask for it
 * at the same time, served for `ttlMs`, and dropped sooner when this node deletes it or the change
 * feed announces a change. Misses (null or undefined) and failed loads are not kept. A load that
 * was in flight when its entry was dropped still answers the gets that were waiting for it, but is
 * not stored: a read from before a change cannot outlive the change.
 */
export class NodeCache<V> {
  private readonly entries = new Map<string, Entry<V>>();

  constructor(private readonly options: NodeCacheOptions) {
    const changes = options.changes;
    if (changes) {
      changes.feed.on(changes.topic, changes.drop === "all" ? () => this.clear() : (key) => this.delete(key));
      // The feed went deaf or is about to be live again: anything may have changed meanwhile.
      changes.feed.onReset(() => this.clear());
    }
  }

  /**
   * The value of `key`: a live entry's, or what `load` gives (which is handed the value of the
   * entry it replaces, if that one had expired, to reuse what has not changed).
   */
  get(key: string, load: (expired: V | undefined) => Promise<V>): Promise<V> {
    const changes = this.options.changes;
    if (changes?.onlyWhileLive && !changes.feed.live) return load(undefined);
    const now = this.options.clock.now().getTime();
    const hit = this.entries.get(key);
    // A clock set back does not make an entry live longer than it was loaded for.
    if (hit && now >= hit.at && now - hit.at < this.options.ttlMs) return hit.promise;
    if (this.entries.size >= this.options.maxEntries) this.entries.clear();
    const entry: Entry<V> = { promise: new Promise<V>((resolve) => resolve(load(hit?.value))), at: now };
    this.entries.set(key, entry);
    const forget = () => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    };
    entry.promise.then((value) => (value === null || value === undefined ? forget() : (entry.value = value)), forget);
    return entry.promise;
  }

  /** Drops `key` here (its next get loads afresh); other nodes learn of a change through the feed. */
  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
