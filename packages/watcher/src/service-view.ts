import { printableKey } from "@etcd-naming/codec";
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
  endpoints: Map<string, ServiceEndpoint>;
  revision: string;
  version: number;
}

function diff(
  before: Map<string, ServiceEndpoint> | undefined,
  after: Emitted,
): Omit<EndpointsUpdate, "initial" | "revision"> {
  const added: ServiceEndpoint[] = [];
  const updated: ServiceEndpoint[] = [];
  const removed: ServiceEndpoint[] = [];
  for (const [key, endpoint] of after.endpoints) {
    const old = before?.get(key);
    if (old === undefined) added.push(endpoint);
    else if (old.modRevision !== endpoint.modRevision) updated.push(endpoint);
  }
  if (before) for (const [key, endpoint] of before) if (!after.endpoints.has(key)) removed.push(endpoint);
  return { added, updated, removed, endpoints: [...after.endpoints.values()] };
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
  private flushTimer: TimerHandle | undefined;
  private initialScheduled = false;
  private readonly waiters = new Set<() => void>();
  private readyWaiters: { resolve: (s: ServiceSnapshot) => void; reject: (e: Error) => void }[] = [];
  private cache: { version: number; snapshot: ServiceSnapshot } | undefined;
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

  log(level: keyof WatcherLogger, message: string, fields: Record<string, unknown>): void {
    try {
      // The logger redacts (watchService makes sure): messages and fields quote etcd3's errors, and those
      // their target with any password in it.
      this.logger[level]?.(message, fields);
    } catch {
      // A failing logger must not break the watch.
    }
  }

  emit<E extends keyof ServiceWatcherEvents>(event: E, ...args: Parameters<ServiceWatcherEvents[E]>): void {
    if (this.closed) return;
    for (const listener of [...this.listeners[event]]) {
      try {
        (listener as (...a: Parameters<ServiceWatcherEvents[E]>) => void)(...args);
      } catch (error) {
        this.log("error", `a "${event}" listener threw`, { error });
      }
    }
  }

  /** The core's set changed (or was listed for the first time). */
  changed(): void {
    if (this.closed || !this.core.listed) return;
    if (this.emitted === undefined) {
      this.scheduleInitial();
    } else if (this.coalesceMs === 0) {
      this.flush();
    } else if (this.flushTimer === undefined) {
      // A fixed window from the first change (not a debounce): steady churn still flushes every window.
      this.flushTimer = this.clock.setTimeout(() => {
        this.flushTimer = undefined;
        this.flush();
      }, this.coalesceMs);
    }
  }

  scheduleInitial(): void {
    if (this.initialScheduled) return;
    this.initialScheduled = true;
    queueMicrotask(() => this.flush());
  }

  private current(): Emitted {
    const endpoints = new Map<string, ServiceEndpoint>();
    for (const endpoint of this.core.sorted().endpoints) {
      if (this.accepts(endpoint)) endpoints.set(endpoint.key, endpoint);
    }
    return {
      endpoints,
      revision: String(this.core.revision ?? 0n),
      version: (this.emitted?.version ?? 0) + 1,
    };
  }

  private accepts(endpoint: ServiceEndpoint): boolean {
    if (!this.filter) return true;
    try {
      return this.filter(endpoint);
    } catch (error) {
      this.log("error", `the filter threw on ${printableKey(endpoint.key)}; endpoint excluded`, { error });
      return false;
    }
  }

  private flush(): void {
    if (this.closed || !this.core.listed) return;
    const before = this.emitted;
    const after = this.current();
    const change = diff(before?.endpoints, after);
    const initial = before === undefined;
    if (!initial && change.added.length + change.updated.length + change.removed.length === 0) {
      before.revision = after.revision;
      return;
    }
    this.emitted = after;
    for (const wake of [...this.waiters]) wake();
    if (initial) {
      const snapshot = this.snapshot();
      for (const waiter of this.readyWaiters) waiter.resolve(snapshot);
      this.readyWaiters = [];
    }
    this.emit("update", { ...change, initial, revision: after.revision });
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
            const change = diff(yielded?.endpoints, latest);
            const initial = yielded === undefined;
            yielded = latest;
            if (initial || change.added.length + change.updated.length + change.removed.length > 0) {
              return { done: false, value: { ...change, initial, revision: latest.revision } };
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
