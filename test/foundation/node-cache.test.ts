/**
 * The per-node cache of the hot paths (API keys, events, companies, signing keys, partner
 * secrets), on its own: a fake change feed the test drives and a clock it moves.
 */
import { ManualClock } from "../../src/clock";
import type { ChangeFeed, ChangeTopic } from "../../src/db/change-feed";
import { NodeCache, NodeCacheOptions } from "../../src/db/node-cache";

/** A feed the test drives by hand. */
class FakeFeed implements ChangeFeed {
  live = true;
  private readonly listeners = new Map<string, ((id: string) => void)[]>();
  private readonly resets: (() => void)[] = [];
  on(topic: ChangeTopic, listener: (id: string) => void) {
    this.listeners.set(topic, [...(this.listeners.get(topic) ?? []), listener]);
  }
  onReset(listener: () => void) {
    this.resets.push(listener);
  }
  emit(topic: ChangeTopic, id: string) {
    for (const listener of this.listeners.get(topic) ?? []) listener(id);
  }
  drop() {
    this.live = false;
    for (const listener of this.resets) listener();
  }
  /** As the real feeds do: caches are reset just before the feed is live again. */
  goLive() {
    for (const listener of this.resets) listener();
    this.live = true;
  }
  whenLive() {
    return Promise.resolve(this.live);
  }
  close() {
    return Promise.resolve();
  }
}

/** A load the test settles by hand, and how many times it was started. */
function manualLoad<V>() {
  const pending: { resolve: (value: V) => void; reject: (error: Error) => void }[] = [];
  const load = () => new Promise<V>((resolve, reject) => pending.push({ resolve, reject }));
  return {
    load,
    pending,
    get calls() {
      return pending.length;
    },
  };
}

/** A load that answers v1, v2, … (one more each time it runs). */
function countingLoad() {
  let calls = 0;
  return { load: async () => `v${++calls}` };
}

let clock: ManualClock;
let feed: FakeFeed;

beforeEach(() => {
  clock = new ManualClock(new Date("2030-01-01T00:00:00Z"));
  feed = new FakeFeed();
});

const TTL_MS = 60_000;

function cacheOf<V = string>(
  changes?: Partial<NonNullable<NodeCacheOptions["changes"]>>,
  maxEntries = 100,
): NodeCache<V> {
  return new NodeCache<V>({
    clock,
    ttlMs: TTL_MS,
    maxEntries,
    changes: changes ? { feed, topic: "event", drop: "key", ...changes } : undefined,
  });
}

describe("NodeCache", () => {
  it("serves a hit without loading until its time is up on the clock, then hands the expired value to the next load", async () => {
    const cache = cacheOf();
    const seen: (string | undefined)[] = [];
    let calls = 0;
    const load = async (expired: string | undefined) => {
      seen.push(expired);
      return `v${++calls}`;
    };
    expect(await cache.get("a", load)).toBe("v1");
    clock.advance(TTL_MS / 1000 - 1);
    expect(await cache.get("a", load)).toBe("v1");
    clock.advance(1);
    expect(await cache.get("a", load)).toBe("v2");
    expect(seen).toEqual([undefined, "v1"]);
  });

  it("does not keep an entry longer because the clock was set back", async () => {
    const cache = cacheOf();
    const counted = countingLoad();
    expect(await cache.get("a", counted.load)).toBe("v1");
    clock.advance(-1);
    expect(await cache.get("a", counted.load)).toBe("v2");
  });

  it("serves a hit without loading, and loads again after a change of its key", async () => {
    const cache = cacheOf({ topic: "event" });
    let loads = 0;
    const load = async () => `v${++loads}`;
    expect(await cache.get("a", load)).toBe("v1");
    expect(await cache.get("a", load)).toBe("v1");
    feed.emit("event", "a");
    expect(await cache.get("a", load)).toBe("v2");
  });

  it("drops only the key a change names, and ignores other topics", async () => {
    const cache = cacheOf({ topic: "api_key", drop: "key" });
    const counted = countingLoad();
    await cache.get("a", counted.load);
    await cache.get("b", counted.load);
    feed.emit("api_key", "a");
    feed.emit("event", "b");
    expect(await cache.get("a", counted.load)).toBe("v3");
    expect(await cache.get("b", counted.load)).toBe("v2");
  });

  it("with drop all, forgets every key on any change of its topic", async () => {
    const cache = cacheOf({ topic: "company", drop: "all" });
    const counted = countingLoad();
    await cache.get("id:1", counted.load);
    await cache.get("slug:one", counted.load);
    feed.emit("company", "1");
    expect(await cache.get("id:1", counted.load)).toBe("v3");
    expect(await cache.get("slug:one", counted.load)).toBe("v4");
  });

  it("forgets a key this node deletes, and everything it clears", async () => {
    const cache = cacheOf();
    const counted = countingLoad();
    await cache.get("a", counted.load);
    await cache.get("b", counted.load);
    cache.delete("a");
    expect(await cache.get("a", counted.load)).toBe("v3");
    expect(await cache.get("b", counted.load)).toBe("v2");
    cache.clear();
    expect(await cache.get("b", counted.load)).toBe("v4");
  });

  it("does not store a load that was in flight when a change arrived", async () => {
    const cache = cacheOf({ topic: "event" });
    let release!: () => void;
    const slow = cache.get("a", () => new Promise<string>((resolve) => (release = () => resolve("before the change"))));
    feed.emit("event", "a");
    release();
    expect(await slow).toBe("before the change");
    expect(await cache.get("a", async () => "after the change")).toBe("after the change");
  });

  it("does not hand a load begun before a change to a get made after it", async () => {
    const cache = cacheOf({ topic: "event" });
    const manual = manualLoad<string>();
    const before = cache.get("a", manual.load);
    feed.emit("event", "a");
    const after = cache.get("a", manual.load);
    expect(manual.calls).toBe(2);
    manual.pending[0].resolve("before the change");
    manual.pending[1].resolve("after the change");
    expect(await before).toBe("before the change");
    expect(await after).toBe("after the change");
    expect(await cache.get("a", manual.load)).toBe("after the change");
  });

  it("with onlyWhileLive, is bypassed while the feed is not live, and forgets everything when it drops", async () => {
    const cache = cacheOf({ topic: "api_key", onlyWhileLive: true });
    await cache.get("a", async () => "old");
    feed.drop();
    expect(await cache.get("a", async () => "fresh")).toBe("fresh");
    feed.live = true;
    expect(await cache.get("a", async () => "newest")).toBe("newest");
  });

  it("with onlyWhileLive, does not store a load begun while the feed was down, once it is back", async () => {
    const cache = cacheOf({ topic: "api_key", onlyWhileLive: true });
    feed.drop();
    let release!: () => void;
    const slow = cache.get("a", () => new Promise<string>((resolve) => (release = () => resolve("read while deaf"))));
    feed.goLive();
    release();
    expect(await slow).toBe("read while deaf");
    expect(await cache.get("a", async () => "read while listening")).toBe("read while listening");
  });

  it("without onlyWhileLive, forgets everything when the feed drops and keeps serving for its time while it is down", async () => {
    const cache = cacheOf({ topic: "company", drop: "all" });
    const counted = countingLoad();
    await cache.get("a", counted.load);
    feed.drop();
    expect(await cache.get("a", counted.load)).toBe("v2");
    expect(await cache.get("a", counted.load)).toBe("v2");
    clock.advance(TTL_MS / 1000);
    expect(await cache.get("a", counted.load)).toBe("v3");
  });

  it("does not remember a missing row, so made-up keys cannot fill it", async () => {
    const cache = cacheOf<string | null | undefined>({ topic: "api_key" });
    expect(await cache.get("nope", async () => null)).toBeNull();
    expect(await cache.get("nope", async () => "made later")).toBe("made later");
    expect(await cache.get("gone", async () => undefined)).toBeUndefined();
    expect(await cache.get("gone", async () => "made later")).toBe("made later");
  });

  it("does not remember a failed load, and every get that waited for it gets its error", async () => {
    const cache = cacheOf();
    const manual = manualLoad<string>();
    const first = cache.get("a", manual.load);
    const second = cache.get("a", manual.load);
    manual.pending[0].reject(new Error("database down"));
    await expect(first).rejects.toThrow("database down");
    await expect(second).rejects.toThrow("database down");
    expect(await cache.get("a", async () => "back")).toBe("back");
    const thrown = cache.get("b", () => {
      throw new Error("thrown before any promise");
    });
    await expect(thrown).rejects.toThrow("thrown before any promise");
    expect(await cache.get("b", async () => "loaded")).toBe("loaded");
  });

  it("runs one load for gets of a key made while it is in flight", async () => {
    const cache = cacheOf({ topic: "api_key", onlyWhileLive: true });
    const manual = manualLoad<string>();
    const gets = [cache.get("a", manual.load), cache.get("a", manual.load), cache.get("a", manual.load)];
    const other = cache.get("b", manual.load);
    expect(manual.calls).toBe(2);
    manual.pending[0].resolve("a's value");
    manual.pending[1].resolve("b's value");
    expect(await Promise.all(gets)).toEqual(["a's value", "a's value", "a's value"]);
    expect(await other).toBe("b's value");
    expect(manual.calls).toBe(2);
  });

  it("shares a load of a miss while it is in flight, and forgets it once it has answered", async () => {
    const cache = cacheOf<string | null>();
    const manual = manualLoad<string | null>();
    const gets = [cache.get("a", manual.load), cache.get("a", manual.load)];
    manual.pending[0].resolve(null);
    expect(await Promise.all(gets)).toEqual([null, null]);
    expect(manual.calls).toBe(1);
    expect(await cache.get("a", async () => "made later")).toBe("made later");
  });

  it("starts over once it holds maxEntries keys", async () => {
    const cache = cacheOf(undefined, 2);
    const counted = countingLoad();
    await cache.get("a", counted.load);
    await cache.get("b", counted.load);
    expect(await cache.get("a", counted.load)).toBe("v1");
    // A third key empties it: a and b load again.
    expect(await cache.get("c", counted.load)).toBe("v3");
    expect(await cache.get("c", counted.load)).toBe("v3");
    expect(await cache.get("a", counted.load)).toBe("v4");
  });
});
