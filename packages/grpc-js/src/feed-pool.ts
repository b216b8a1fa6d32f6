import {
  type Clock,
  type NamingSource,
  type ServiceWatcher,
  type WatcherLogger,
  watchService,
} from "@etcd-naming/watcher";
import type { FeedLease, FeedPool, FeedState, ServiceFeed } from "./feed.js";

/** Options of {@link createFeedPool}. */
export interface FeedPoolOptions {
  clock?: Clock | undefined;
  logger?: WatcherLogger | undefined;
  /** Passed to the watcher: how long etcd changes are gathered into one update. */
  coalesceMs?: number | undefined;
}

interface Entry {
  readonly watcher: ServiceWatcher;
  readonly subscribers: Set<() => void>;
  refs: number;
  error: Error | undefined;
}

/**
 * One watcher per service, shared by every channel of a registration and closed with its last user.
 * Sharing here (rather than one watcher view per channel on the watcher's shared core) also means one
 * diff per change and one copy of each warning, however many channels resolve the service.
 */
export function createFeedPool(source: NamingSource, options: FeedPoolOptions = {}): FeedPool {
  const entries = new Map<string, Entry>();
  const closing = new Set<Promise<void>>();
  let closed = false;

  const stop = (watcher: ServiceWatcher) => {
    const done = watcher.close().finally(() => closing.delete(done));
    closing.add(done);
  };

  const open = (service: string): Entry => {
    const watcher = watchService(source, service, {
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.coalesceMs === undefined ? {} : { coalesceMs: options.coalesceMs }),
    });
    const entry: Entry = { watcher, subscribers: new Set(), refs: 0, error: undefined };
    const notify = () => {
      for (const subscriber of [...entry.subscribers]) subscriber();
    };
    watcher.on("update", notify);
    watcher.on("stale", (error) => {
      entry.error = error;
      notify();
    });
    watcher.on("fresh", () => {
      entry.error = undefined;
      notify();
    });
    return entry;
  };

  return {
    get size() {
      return entries.size;
    },

    acquire(service: string): FeedLease {
      if (closed) throw new Error("the feed pool is closed");
      let entry = entries.get(service);
      if (entry === undefined) {
        entry = open(service);
        entries.set(service, entry);
      }
      const current = entry;
      current.refs++;
      const feed: ServiceFeed = {
        state(): FeedState {
          const snapshot = current.watcher.snapshot();
          return {
            ready: snapshot.listed,
            stale: snapshot.stale,
            endpoints: snapshot.endpoints,
            error: current.error,
          };
        },
        subscribe(onChange) {
          // Wrapped so one subscriber added twice still counts twice.
          const subscriber = () => onChange();
          current.subscribers.add(subscriber);
          return () => current.subscribers.delete(subscriber);
        },
      };
      let released = false;
      return {
        feed,
        release() {
          if (released) return;
          released = true;
          current.refs--;
          if (current.refs > 0 || entries.get(service) !== current) return;
          entries.delete(service);
          stop(current.watcher);
        },
      };
    },

    async close(): Promise<void> {
      closed = true;
      for (const entry of entries.values()) stop(entry.watcher);
      entries.clear();
      await Promise.all(closing);
    },
  };
}
