import { keyFromBytes, keyToBytes } from "@etcd-naming/codec";
import type {
  CancelWatch,
  NamingSource,
  SourceEvent,
  SourceKeyValue,
  SourceListing,
  SourceListOptions,
  WatchHandlers,
} from "./source.js";

/**
 * One operation of {@link MemorySource.transaction}. Keys are bytes, as in etcd: a `Uint8Array` key is
 * taken as it is, a string key as its key string (see `keyFromBytes` in `@etcd-naming/codec`).
 */
export type MemoryOperation =
  | { type: "put"; key: string | Uint8Array; value: string | Uint8Array; lease?: string }
  | { type: "delete"; key: string | Uint8Array };

/** Counters of a {@link MemorySource}, to prove sharing and clean-up in tests. */
export interface MemorySourceStats {
  /** Watches currently open (not cancelled, not failed). */
  openWatches: number;
  /** Watches opened since the source was created. */
  watchesOpened: number;
  /** Calls to `list()`. */
  lists: number;
  /** The options of the last `list()` call. */
  lastListOptions: SourceListOptions | undefined;
}

/**
 * An in-memory {@link NamingSource} with etcd's revision semantics (one revision per write or
 * transaction, history kept until compacted), plus controls to simulate outages. Used to unit-test the
 * watcher core and its consumers without etcd.
 */
export interface MemorySource extends NamingSource {
  /** The current store revision. */
  readonly revision: string;
  /** The last compacted revision ("0" when never compacted). */
  readonly compactRevision: string;
  /** Puts a key (bytes, or a key string); returns the new revision. */
  put(key: string | Uint8Array, value: string | Uint8Array, options?: { lease?: string }): string;
  /** Deletes a key; returns the new revision, or undefined when the key did not exist (no revision is used). */
  delete(key: string | Uint8Array): string | undefined;
  /** Applies several operations at one revision, reported to watchers as one response. */
  transaction(operations: readonly MemoryOperation[]): string;
  /** Deletes every key attached to `lease`, at one revision. */
  revokeLease(lease: string): string | undefined;
  /** Discards history before `revision` (default: the current revision). */
  compact(revision?: string): void;
  /** Breaks every open watch: each receives `onError(error)`. */
  failWatches(error?: Error): void;
  /** While unavailable, `list()` rejects, open watches fail and new watches fail at once. */
  setAvailable(available: boolean): void;
  stats(): MemorySourceStats;
}

interface StoredKeyValue {
  /** The key's bytes: etcd orders keys by them. */
  bytes: Uint8Array;
  value: string | Uint8Array;
  modRevision: bigint;
  createRevision: bigint;
  lease: string | undefined;
}

interface OpenWatch {
  prefix: string;
  handlers: WatchHandlers;
  open: boolean;
}

function toKeyValue(key: string, kv: StoredKeyValue): SourceKeyValue {
  const out: SourceKeyValue = {
    key,
    value: kv.value,
    modRevision: String(kv.modRevision),
    createRevision: String(kv.createRevision),
  };
  if (kv.lease !== undefined) out.lease = kv.lease;
  return out;
}

/** The exact key string of a key given as bytes or as a string (whose lone surrogates etcd cannot store). */
function exactKey(key: string | Uint8Array): string {
  return keyFromBytes(typeof key === "string" ? keyToBytes(key) : key);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/**
 * Creates an in-memory naming source.
 *
 * @example
 * const source = createMemorySource();
 * source.put("svc/a", JSON.stringify({ Op: 0, Addr: "10.0.0.1:50051", Metadata: null }));
 * const watcher = watchService(source, "svc");
 */
export function createMemorySource(): MemorySource {
  const store = new Map<string, StoredKeyValue>();
  const history: { revision: bigint; events: SourceEvent[] }[] = [];
  const watches = new Set<OpenWatch>();
  let revision = 1n; // etcd starts at 1 too
  let compactRevision = 0n;
  let available = true;
  let watchesOpened = 0;
  let lists = 0;
  let lastListOptions: SourceListOptions | undefined;

  const unavailable = () => new Error("memory source is unavailable");

  const deliver = (watch: OpenWatch, call: (handlers: WatchHandlers) => void) => {
    queueMicrotask(() => {
      if (watch.open) call(watch.handlers);
    });
  };

  const fail = (watch: OpenWatch, error: Error) => {
    deliver(watch, (h) => {
      watch.open = false;
      watches.delete(watch);
      h.onError(error);
    });
  };

  const apply = (operations: readonly MemoryOperation[]): string | undefined => {
    const next = revision + 1n;
    const events: SourceEvent[] = [];
    for (const op of operations) {
      const key = exactKey(op.key);
      if (op.type === "put") {
        const previous = store.get(key);
        const kv: StoredKeyValue = {
          bytes: keyToBytes(key),
          value: op.value,
          modRevision: next,
          createRevision: previous?.createRevision ?? next,
          lease: op.lease,
        };
        store.set(key, kv);
        events.push({ type: "put", ...toKeyValue(key, kv) });
      } else if (store.delete(key)) {
        events.push({ type: "delete", key, modRevision: String(next) });
      }
    }
    if (events.length === 0) return undefined;
    revision = next;
    history.push({ revision: next, events });
    for (const watch of watches) {
      const mine = events.filter((e) => e.key.startsWith(watch.prefix));
      if (mine.length > 0) deliver(watch, (h) => h.onEvents(mine));
    }
    return String(next);
  };

  return {
    get revision() {
      return String(revision);
    },
    get compactRevision() {
      return String(compactRevision);
    },
    put: (key, value, options = {}) =>
      apply([{ type: "put", key, value, ...(options.lease === undefined ? {} : { lease: options.lease }) }])!,
    delete: (key) => apply([{ type: "delete", key }]),
    transaction(operations) {
      return apply(operations) ?? String(revision);
    },
    revokeLease(lease) {
      const keys = [...store].filter(([, kv]) => kv.lease === lease).map(([key]) => key);
      return apply(keys.map((key) => ({ type: "delete" as const, key })));
    },
    compact(at) {
      const target = at === undefined ? revision : BigInt(at);
      if (target > revision) throw new RangeError(`cannot compact to future revision ${target}`);
      if (target <= compactRevision) return;
      compactRevision = target;
      while (history.length > 0 && history[0]!.revision < compactRevision) history.shift();
    },
    failWatches(error = new Error("memory watch stream failed")) {
      for (const watch of watches) fail(watch, error);
    },
    setAvailable(value) {
      available = value;
      if (!value) for (const watch of watches) fail(watch, unavailable());
    },
    stats: () => ({ openWatches: watches.size, watchesOpened, lists, lastListOptions }),

    async list(prefix, options): Promise<SourceListing> {
      lists++;
      lastListOptions = { ...options };
      await Promise.resolve();
      if (!available) throw unavailable();
      const kvs = [...store]
        .filter(([key]) => key.startsWith(prefix))
        .sort(([, a], [, b]) => compareBytes(a.bytes, b.bytes))
        .map(([key, kv]) => toKeyValue(key, kv));
      return { revision: String(revision), kvs };
    },

    watch(prefix, fromRevision, handlers): CancelWatch {
      const watch: OpenWatch = { prefix, handlers, open: true };
      watches.add(watch);
      watchesOpened++;
      const from = BigInt(fromRevision);
      if (!available) {
        fail(watch, unavailable());
      } else if (from < compactRevision) {
        deliver(watch, (h) => {
          watch.open = false;
          watches.delete(watch);
          h.onCompacted(String(compactRevision));
        });
      } else {
        deliver(watch, (h) => h.onConnected());
        for (const entry of history) {
          if (entry.revision < from) continue;
          const mine = entry.events.filter((e) => e.key.startsWith(prefix));
          if (mine.length > 0) deliver(watch, (h) => h.onEvents(mine));
        }
      }
      return async () => {
        watch.open = false;
        watches.delete(watch);
      };
    },
  };
}
