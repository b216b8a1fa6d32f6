import type { EndpointsUpdate, ServiceWatcher } from "@etcd-naming/watcher";
import { now } from "./support.js";

/** Waits for an `update` event matching a condition on every watcher of a group. */
export interface EveryWatcher {
  /** Resolves once every watcher has emitted a matching update. */
  readonly done: Promise<void>;
  /** hrtime of the first and of the last matching update (0n until then). */
  readonly firstAt: bigint;
  readonly lastAt: bigint;
  /** Watchers that have not emitted a matching update yet. */
  readonly pending: number;
  off(): void;
}

/**
 * Listens for events rather than reading snapshots: a watcher's snapshot changes as soon as a change is
 * applied, its `update` only after the coalescing window, and a change undone within one window is never
 * emitted at all. Waiting on events keeps each sample's add and remove in separate updates.
 */
export function everyWatcher(
  watchers: readonly ServiceWatcher[],
  matches: (update: EndpointsUpdate) => boolean,
): EveryWatcher {
  const all = Promise.withResolvers<void>();
  let pending = watchers.length;
  let firstAt = 0n;
  let lastAt = 0n;
  const offs = watchers.map((watcher) => {
    let seen = false;
    return watcher.on("update", (update) => {
      if (seen || !matches(update)) return;
      seen = true;
      lastAt = now();
      if (firstAt === 0n) firstAt = lastAt;
      if (--pending === 0) all.resolve();
    });
  });
  if (pending === 0) all.resolve();
  return {
    done: all.promise,
    get firstAt() {
      return firstAt;
    },
    get lastAt() {
      return lastAt;
    },
    get pending() {
      return pending;
    },
    off() {
      for (const off of offs) off();
    },
  };
}

export const adds =
  (key: string) =>
  (update: EndpointsUpdate): boolean =>
    update.added.some((endpoint) => endpoint.key === key);

export const removes =
  (key: string) =>
  (update: EndpointsUpdate): boolean =>
    update.removed.some((endpoint) => endpoint.key === key);

/** The raw etcd3 watcher's events, as far as these benchmarks use them. */
interface RawWatcher {
  on(event: "delete", listener: (kv: { key: Buffer }) => void): unknown;
  off(event: "delete", listener: (kv: { key: Buffer }) => void): unknown;
}

/** A raw etcd3 watch's delete event for one key: the floor the watchers are read against. */
export interface RawDelete {
  readonly done: Promise<void>;
  /** hrtime of the event (0n until then). */
  readonly at: bigint;
  off(): void;
}

export function rawDelete(raw: RawWatcher, key: string): RawDelete {
  const seen = Promise.withResolvers<void>();
  let at = 0n;
  const listener = (kv: { key: Buffer }) => {
    if (at !== 0n || kv.key.toString() !== key) return;
    at = now();
    seen.resolve();
  };
  raw.on("delete", listener);
  return {
    done: seen.promise,
    get at() {
      return at;
    },
    off: () => raw.off("delete", listener),
  };
}
