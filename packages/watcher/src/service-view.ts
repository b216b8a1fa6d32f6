import { printableKey } from "@etcd-naming/codec";
import type { LogFields } from "@etcd-naming/etcd";
import type { Clock, TimerHandle } from "./clock.js";
import { WatcherError } from "./errors.js";
import type { ServiceCore } from "./service-core.js";
import type {
  EndpointsUpdate,
  ServiceEndpoint,
  ServiceSnapshot,
  ServiceWatcher,
  ServiceWatcherEvents,
  WatcherLogger,
} from "./service-watcher.js";

type Listeners = { [E in keyof ServiceWatcherEvents]: Set<ServiceWatcherEvents[E]> };

interface Emitted {
  /**
   * The emitted set by key. Updated in place by the next flush unless an iterator holds it. Undefined
   * while `list` stands for it: a first update of a large service builds no table, the next flush does.
   */
  endpoints: Map<string, ServiceEndpoint> | undefined;
  /** The emitted set in key order, while `endpoints` is not built yet. */
  list: readonly ServiceEndpoint[] | undefined;
  revision: string;
  version: number;
  /** An iterator diffs against this set later: the next flush copies it instead of changing it. */
  held: boolean;
}

/** The changes of a flush, in key order. */
type Change = Omit<EndpointsUpdate, "initial" | "revision" | "endpoints">;

const byKey = (a: ServiceEndpoint, b: ServiceEndpoint): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : 0;

/** Beyond this many changed keys (and a quarter of the set) a flush compares whole sets instead. */
const MANY_KEYS = 256;

/** The emitted set by key, built from its list the first time it is needed. */
function byKeyOf(emitted: Emitted): Map<string, ServiceEndpoint> {
  if (emitted.endpoints === undefined) {
    const endpoints = new Map<string, ServiceEndpoint>();
    for (const endpoint of emitted.list ?? []) endpoints.set(endpoint.key, endpoint);
    emitted.endpoints = endpoints;
    emitted.list = undefined;
  }
  return emitted.endpoints;
}

function diff(
  before: Map<string, ServiceEndpoint> | undefined,
  after: Map<string, ServiceEndpoint>,
  /** `after` was built in key order (not changed in place). */
  inKeyOrder = false,
): Change {
  const added: ServiceEndpoint[] = [];
  const updated: ServiceEndpoint[] = [];
  const removed: ServiceEndpoint[] = [];
  for (const [key, endpoint] of after) {
    const old = before?.get(key);
    if (old === undefined) added.push(endpoint);
    else if (old.modRevision !== endpoint.modRevision) updated.push(endpoint);
  }
  // A first set built from the snapshot is in key order already: sorting it again (10,000 keys on a
  // large service's first resolution) is pure cost.
  if (before === undefined && inKeyOrder) return { added, updated, removed };
  if (before) for (const [key, endpoint] of before) if (!after.has(key)) removed.push(endpoint);
  // A set changed in place keeps new keys at the end of its map: put every list back in key order.
  return { added: added.sort(byKey), updated: updated.sort(byKey), removed: removed.sort(byKey) };
}

function empty(change: Change): boolean {
  return change.added.length + change.updated.length + change.removed.length === 0;
}

/**
 * One consumer's window on a {@link ServiceCore}: its filter, coalescing, listeners and iterators. This is
 * the object {@link watchService} returns.
 */
export class View implements ServiceWatcher {
  closed = false;
  private readonly listeners: Listeners = {
    update: new Set(),
    error: new Set(),
    stale: new Set(),
    fresh: new Set(),
  };
  private emitted: Emitted | undefined;
  /** The keys changed since the last flush; "all" after a listing (or too many to compare one by one). */
  private pending: Set<string> | "all" = "all";
  private flushTimer: TimerHandle | undefined;
  /** When the last flush ran: a change after a quiet window is delivered at once. */
  private flushedAt = Number.NEGATIVE_INFINITY;
  /** When the oldest change not yet flushed reached this view (an update's `receivedAt`). */
  private changedSince: number | undefined;
  private initialScheduled = false;
  private readonly waiters = new Set<() => void>();
  private readyWaiters: { resolve: (s: ServiceSnapshot) => void; reject: (e: Error) => void }[] = [];
  private cache: { version: number; snapshot: ServiceSnapshot } | undefined;
  /** The filter's answers by endpoint object: each version of an endpoint is judged once. */
  private readonly verdicts = new WeakMap<ServiceEndpoint, boolean>();
  private closing: Promise<void> | undefined;

  constructor(
    private readonly core: ServiceCore,
    private readonly clock: Clock,
    private readonly coalesceMs: number,
    private readonly filter: ((endpoint: ServiceEndpoint) => boolean) | undefined,
    private readonly logger: WatcherLogger,
  ) {}

  get service(): string {
    return this.core.service;
  }

  log(level: keyof WatcherLogger, fields: LogFields, message: string): void {
    // The logger redacts and ignores its own failures (it comes from redactingLogger): messages and fields
    // quote etcd3's errors, and those their target with any password in it.
    this.logger[level]?.({ component: "watcher", service: this.service, ...fields }, message);
  }

  emit<E extends keyof ServiceWatcherEvents>(event: E, ...args: Parameters<ServiceWatcherEvents[E]>): void {
    if (this.closed) return;
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (...a: Parameters<ServiceWatcherEvents[E]>) => void)(...args);
      } catch (error) {
        this.log("error", { err: error }, `a "${event}" listener threw`);
      }
    }
  }

  /**
   * The core's set changed (or was listed for the first time): `keys` are the keys its events touched,
   * undefined when anything may have changed. Delivery is leading-edge: a change after a quiet window goes
   * out at once; the changes that follow within the window are gathered into one update at its end.
   */
  changed(keys?: readonly string[]): void {
    if (this.closed || !this.core.listed) return;
    this.changedSince ??= this.clock.now();
    this.note(keys);
    if (this.emitted === undefined) {
      this.scheduleInitial();
      return;
    }
    if (this.flushTimer !== undefined) return;
    const wait = this.flushedAt + this.coalesceMs - this.clock.now();
    if (wait <= 0) {
      this.flush();
      return;
    }
    this.flushTimer = this.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, wait);
  }

  private note(keys: readonly string[] | undefined): void {
    const pending = this.pending;
    if (pending === "all") return;
    if (keys === undefined) {
      this.pending = "all";
      return;
    }
    for (const key of keys) pending.add(key);
    if (pending.size > MANY_KEYS && pending.size * 4 > this.core.endpoints.size) this.pending = "all";
  }

  scheduleInitial(): void {
    if (this.initialScheduled) return;
    this.initialScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** The whole filtered set, compared with what was emitted. */
  private compareAll(before: Emitted | undefined): {
    endpoints: Map<string, ServiceEndpoint> | undefined;
    list: readonly ServiceEndpoint[] | undefined;
    change: Change;
  } {
    const list = this.snapshot().endpoints;
    // The first set is the snapshot itself, in key order: everything in it is added, and its table by
    // key waits for a later flush.
    if (before === undefined) {
      return { endpoints: undefined, list, change: { added: list.slice(), updated: [], removed: [] } };
    }
    const endpoints = new Map<string, ServiceEndpoint>();
    for (const endpoint of list) endpoints.set(endpoint.key, endpoint);
    return { endpoints, list: undefined, change: diff(byKeyOf(before), endpoints, true) };
  }

  /** Only the keys that changed, applied to what was emitted (in place unless an iterator holds it). */
  private compareKeys(
    before: Emitted,
    keys: Set<string>,
  ): { endpoints: Map<string, ServiceEndpoint>; list: undefined; change: Change } {
    const emitted = byKeyOf(before);
    const endpoints = before.held ? new Map(emitted) : emitted;
    const added: ServiceEndpoint[] = [];
    const updated: ServiceEndpoint[] = [];
    const removed: ServiceEndpoint[] = [];
    for (const key of [...keys].sort()) {
      const old = endpoints.get(key);
      const found = this.core.endpoints.get(key);
      const now = found !== undefined && this.accepts(found) ? found : undefined;
      if (now === undefined) {
        if (old === undefined) continue;
        removed.push(old);
        endpoints.delete(key);
      } else if (old === undefined) {
        added.push(now);
        endpoints.set(key, now);
      } else if (old.modRevision !== now.modRevision) {
        updated.push(now);
        endpoints.set(key, now);
      }
    }
    return { endpoints, list: undefined, change: { added, updated, removed } };
  }

  /** The filter's answer for one version of an endpoint (the core makes a new frozen object per put). */
  private accepts(endpoint: ServiceEndpoint): boolean {
    if (!this.filter) return true;
    const known = this.verdicts.get(endpoint);
    if (known !== undefined) return known;
    let verdict: boolean;
    try {
      verdict = Boolean(this.filter(endpoint));
    } catch (error) {
      const key = printableKey(endpoint.key);
      this.log(
        "error",
        { key, modRevision: endpoint.modRevision, err: error },
        `the filter threw on ${key}; endpoint excluded`,
      );
      verdict = false;
    }
    this.verdicts.set(endpoint, verdict);
    return verdict;
  }

  private flush(): void {
    if (this.closed || !this.core.listed) return;
    this.flushedAt = this.clock.now();
    const receivedAt = this.changedSince ?? this.flushedAt;
    this.changedSince = undefined;
    const before = this.emitted;
    const pending = this.pending;
    this.pending = new Set();
    const { endpoints, list, change } =
      before === undefined || pending === "all" ? this.compareAll(before) : this.compareKeys(before, pending);
    const revision = String(this.core.revision ?? 0n);
    const initial = before === undefined;
    if (!initial && empty(change)) {
      before.revision = revision;
      return;
    }
    this.emitted = { endpoints, list, revision, version: (before?.version ?? 0) + 1, held: false };
    for (const wake of [...this.waiters]) wake();
    const snapshot = this.snapshot();
    if (initial) {
      for (const waiter of this.readyWaiters) waiter.resolve(snapshot);
      this.readyWaiters = [];
    }
    this.emit("update", { ...change, endpoints: snapshot.endpoints, initial, revision, receivedAt });
  }

  snapshot(): ServiceSnapshot {
    const core = this.core;
    if (this.cache?.version !== core.version) {
      const sorted = core.sorted();
      this.cache = {
        version: core.version,
        snapshot: Object.freeze({
          service: core.service,
          endpoints: this.filter
            ? Object.freeze(sorted.endpoints.filter((e) => this.accepts(e)))
            : sorted.endpoints,
          listed: core.listed,
          stale: core.stale,
          revision: core.revision === undefined ? undefined : String(core.revision),
          skipped: sorted.skipped,
        }),
      };
    }
    const cached = this.cache.snapshot;
    // Staleness flips without a set change; keep the cached arrays and refresh the flag.
    return cached.stale === core.stale ? cached : { ...cached, stale: core.stale };
  }

  ready(): Promise<ServiceSnapshot> {
    if (this.closed) return Promise.reject(new WatcherError("CLOSED", "the watcher is closed"));
    if (this.emitted !== undefined) return Promise.resolve(this.snapshot());
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  on<E extends keyof ServiceWatcherEvents>(event: E, listener: ServiceWatcherEvents[E]): () => void {
    (this.listeners[event] as Set<ServiceWatcherEvents[E]>).add(listener);
    return () => this.off(event, listener);
  }

  off<E extends keyof ServiceWatcherEvents>(event: E, listener: ServiceWatcherEvents[E]): void {
    (this.listeners[event] as Set<ServiceWatcherEvents[E]>).delete(listener);
  }

  [Symbol.asyncIterator](): AsyncIterator<EndpointsUpdate> {
    // Each iterator diffs against what it last yielded, so a slow consumer gets merged batches
    // instead of an unbounded queue.
    let yielded: Emitted | undefined;
    let done = false;
    const finish = (): IteratorReturnResult<undefined> => {
      done = true;
      return { done: true, value: undefined };
    };
    return {
      next: async (): Promise<IteratorResult<EndpointsUpdate>> => {
        for (;;) {
          if (done || this.closed) return finish();
          const latest = this.emitted;
          if (latest !== undefined && latest.version !== yielded?.version) {
            const change = diff(yielded && byKeyOf(yielded), byKeyOf(latest));
            const initial = yielded === undefined;
            latest.held = true;
            yielded = latest;
            if (initial || !empty(change)) {
              const endpoints = [...byKeyOf(latest).values()].sort(byKey);
              return { done: false, value: { ...change, endpoints, initial, revision: latest.revision } };
            }
            continue;
          }
          await new Promise<void>((resolve) => {
            const wake = () => {
              this.waiters.delete(wake);
              resolve();
            };
            this.waiters.add(wake);
          });
        }
      },
      return: async (): Promise<IteratorResult<EndpointsUpdate>> => finish(),
    };
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    if (this.flushTimer !== undefined) this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const listeners of Object.values(this.listeners)) listeners.clear();
    for (const wake of [...this.waiters]) wake();
    const closedError = new WatcherError("CLOSED", "the watcher was closed before its first list");
    for (const waiter of this.readyWaiters) waiter.reject(closedError);
    this.readyWaiters = [];
    this.closing = this.core.detach(this);
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
