import type { DecodeOptions } from "@etcd-naming/codec";
import {
  decodeEndpoint,
  isServiceKey,
  printableKey,
  redactFields,
  redactSecrets,
  servicePrefix,
  validateService,
} from "@etcd-naming/codec";
import type { BackoffOptions, ResolvedBackoff } from "./backoff.js";
import { backoffDelay, resolveBackoff } from "./backoff.js";
import type { Clock, TimerHandle } from "./clock.js";
import { MAX_TIMER_MS, systemClock } from "./clock.js";
import { WatcherError } from "./errors.js";
import type { CancelWatch, NamingSource, SourceEvent, SourceKeyValue, SourceListing } from "./source.js";

/** One endpoint of a service: the decoded value of one etcd key. The key identifies the endpoint. */
export interface ServiceEndpoint {
  /**
   * The etcd key, exactly. etcd keys are bytes: a key that is valid UTF-8 (every key written from a JS
   * string) is its text; in one that is not, each byte that is not UTF-8 is the lone surrogate
   * U+DC80 + byte, so keys that differ only in such bytes stay two endpoints. `keyToBytes(key)` (from
   * `@etcd-naming/codec`) gives the bytes to delete or rewrite it; `printableKey(key)` shows it.
   */
  readonly key: string;
  readonly addr: string;
  /** The decoded metadata (any JSON value; `null` when the value has none). Frozen. */
  readonly metadata: unknown;
  readonly modRevision: string;
  /** The key's create revision, when the source reports it. */
  readonly createRevision: string | undefined;
  /** The lease id the key is attached to, or undefined. */
  readonly lease: string | undefined;
}

/** A key under the service prefix whose value could not be decoded, and why. */
export interface SkippedKey {
  /** The etcd key, exactly (see {@link ServiceEndpoint.key}). */
  readonly key: string;
  readonly reason: string;
  readonly modRevision: string;
}

/** The state of a watcher at one instant. */
export interface ServiceSnapshot {
  readonly service: string;
  /** The current endpoints (after the watcher's filter), sorted by key. */
  readonly endpoints: readonly ServiceEndpoint[];
  /** Whether the first list has completed; before that `endpoints` is empty and means "unknown". */
  readonly listed: boolean;
  /** Whether etcd is currently unreachable; the endpoints are then the last known set. */
  readonly stale: boolean;
  /** The store revision the set reflects (undefined before the first list). */
  readonly revision: string | undefined;
  /** Keys skipped because their value is malformed, sorted by key. */
  readonly skipped: readonly SkippedKey[];
}

/** A batch of changes, as a diff and as the resulting full set. */
export interface EndpointsUpdate {
  readonly added: readonly ServiceEndpoint[];
  readonly updated: readonly ServiceEndpoint[];
  /** The removed endpoints, as last known. */
  readonly removed: readonly ServiceEndpoint[];
  /** The full set after this batch, sorted by key. */
  readonly endpoints: readonly ServiceEndpoint[];
  /** True for the first batch a watcher (or an iterator) delivers: `added` is then the whole set. */
  readonly initial: boolean;
  readonly revision: string;
}

/** The events of a {@link ServiceWatcher} and their listeners. */
export interface ServiceWatcherEvents {
  update: (update: EndpointsUpdate) => void;
  /** Non-fatal and informative: the watcher heals itself. */
  error: (error: WatcherError) => void;
  /** etcd became unreachable; the last known set is kept. */
  stale: (error: WatcherError) => void;
  /** etcd is reachable again and the set is being kept current. */
  fresh: () => void;
}

/** A sink for the watcher's diagnostics; every method is optional. */
export interface WatcherLogger {
  debug?(message: string, fields?: Record<string, unknown>): void;
  info?(message: string, fields?: Record<string, unknown>): void;
  warn?(message: string, fields?: Record<string, unknown>): void;
  error?(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link watchService}. */
export interface WatchServiceOptions {
  /**
   * Read the initial list (and every re-list) through the leader (default true). etcd's Go resolver
   * reads serializably, which can return a stale member's view.
   */
  linearizable?: boolean;
  /**
   * How long changes are gathered into one `update`, in ms (default 5). 0 emits one update per etcd
   * response. The initial update is never delayed.
   */
  coalesceMs?: number;
  /** Keeps only the endpoints for which it returns true (e.g. by metadata). */
  filter?: (endpoint: ServiceEndpoint) => boolean;
  /** Time provider for coalescing, backoff and jitter (default: the system clock). */
  clock?: Clock;
  /** Diagnostics (default: warnings and errors to `console`). */
  logger?: WatcherLogger;
  backoff?: BackoffOptions;
  /** Bound on waiting for a source to release a watch on close (default 2,000 ms). */
  cancelTimeoutMs?: number;
  /** Limits applied when decoding values. */
  decode?: DecodeOptions;
  /**
   * Share one source watch with the other watchers of the same service, source and settings in this
   * process (default true).
   */
  shared?: boolean;
}

/**
 * A live view of a service's endpoints. Create one with {@link watchService}.
 *
 * Delivery: every event is emitted asynchronously, never from inside `watchService()` or `on()`. Each
 * watcher emits one `initial` update with the full set once the first list has completed (also when it
 * joins a shared watch that has listed long ago). Listeners added later get no replay: use
 * `snapshot()` or `ready()`. Each async iterator starts with the full set.
 */
export interface ServiceWatcher extends AsyncIterable<EndpointsUpdate>, AsyncDisposable {
  readonly service: string;
  readonly closed: boolean;
  /** The current state; cheap (cached between changes). */
  snapshot(): ServiceSnapshot;
  /** Resolves with the snapshot once the first list has completed; rejects with `CLOSED` if closed first. */
  ready(): Promise<ServiceSnapshot>;
  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof ServiceWatcherEvents>(event: E, listener: ServiceWatcherEvents[E]): () => void;
  off<E extends keyof ServiceWatcherEvents>(event: E, listener: ServiceWatcherEvents[E]): void;
  /** Stops the watcher: no event is emitted afterwards; the shared watch is cancelled with its last watcher. */
  close(): Promise<void>;
}

const consoleLogger: WatcherLogger = {
  warn: (message, fields) => console.warn(`[etcd-naming/watcher] ${message}`, fields ?? ""),
  error: (message, fields) => console.error(`[etcd-naming/watcher] ${message}`, fields ?? ""),
};

const byKey = (a: { key: string }, b: { key: string }): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : 0;

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function toWatcherError(code: "SOURCE_UNAVAILABLE" | "WATCH_FAILED", message: string, cause: unknown) {
  const detail = cause instanceof Error ? cause.message : String(cause);
  // A refused read is not an outage: keep the code so callers (and a channel's failure reason) can tell.
  const denied = cause instanceof WatcherError && cause.code === "PERMISSION_DENIED";
  return new WatcherError(denied ? "PERMISSION_DENIED" : code, `${message}: ${detail}`, { cause });
}

/** The list → watch → reconcile loop of one service on one source, shared by its views. */
class ServiceCore {
  readonly prefix: string;
  readonly endpoints: Map<string, ServiceEndpoint> = new Map();
  readonly skipped: Map<string, SkippedKey> = new Map();
  readonly views: Set<View> = new Set();
  listed = false;
  stale = false;
  revision: bigint | undefined;
  /** Bumped on every change of `endpoints` or `skipped`, to cache snapshots. */
  version = 0;

  private generation = 0;
  private cancelWatch: CancelWatch | undefined;
  private retryTimer: TimerHandle | undefined;
  private attempt = 0;
  private closed = false;

  constructor(
    private readonly source: NamingSource,
    readonly service: string,
    private readonly settings: CoreSettings,
    private readonly onClosed: () => void,
  ) {
    this.prefix = servicePrefix(service);
  }

  start(): void {
    this.relist();
  }

  /** `list` handles a failing source itself; this catches what would otherwise be an unhandled rejection. */
  private relist(): void {
    this.list().catch((error: unknown) => {
      this.log("error", `listing ${this.prefix} failed unexpectedly: ${String(error)}`, { error });
    });
  }

  attach(view: View): void {
    this.views.add(view);
  }

  async detach(view: View): Promise<void> {
    this.views.delete(view);
    if (this.views.size > 0 || this.closed) return;
    this.closed = true;
    this.onClosed();
    this.generation++;
    if (this.retryTimer !== undefined) this.settings.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const cancel = this.cancelWatch;
    this.cancelWatch = undefined;
    if (cancel) await this.bounded(cancel());
  }

  private async bounded(promise: Promise<void>): Promise<void> {
    const { clock, cancelTimeoutMs } = this.settings;
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, cancelTimeoutMs);
    });
    try {
      await Promise.race([promise.catch(() => undefined), timeout]);
    } finally {
      clock.clearTimeout(timer);
    }
  }

  private log(level: keyof WatcherLogger, message: string, fields: Record<string, unknown>): void {
    for (const view of this.views) view.log(level, message, { service: this.service, ...fields });
  }

  private async list(): Promise<void> {
    const generation = ++this.generation;
    let listing: SourceListing;
    try {
      listing = await this.source.list(this.prefix, { linearizable: this.settings.linearizable });
    } catch (cause) {
      if (generation !== this.generation) return;
      this.markStale(toWatcherError("SOURCE_UNAVAILABLE", `listing ${this.prefix} failed`, cause));
      this.retry(() => this.relist());
      return;
    }
    if (generation !== this.generation) return;
    this.reconcile(listing);
    this.markFresh();
    this.watch();
  }

  /** Replaces the local set with a listing; the diff covers whatever the watch missed. */
  private reconcile(listing: SourceListing): void {
    const seen = new Set<string>();
    let changed = false;
    for (const kv of listing.kvs) {
      if (!isServiceKey(this.service, kv.key)) continue;
      seen.add(kv.key);
      const current = this.endpoints.get(kv.key) ?? this.skipped.get(kv.key);
      if (current?.modRevision === kv.modRevision) continue;
      this.put(kv);
      changed = true;
    }
    for (const key of [...this.endpoints.keys(), ...this.skipped.keys()]) {
      if (!seen.has(key)) changed = this.remove(key) || changed;
    }
    this.revision = BigInt(listing.revision);
    const first = !this.listed;
    this.listed = true;
    if (changed || first) this.version++;
    this.log("debug", "listed", { revision: listing.revision, endpoints: this.endpoints.size });
    for (const view of this.views) view.changed();
  }

  private put(kv: SourceKeyValue): void {
    const decoded = decodeEndpoint(kv.value, this.settings.decode);
    if (!decoded.ok) {
      const existed = this.endpoints.delete(kv.key);
      const reason = decoded.error.message;
      this.skipped.set(kv.key, Object.freeze({ key: kv.key, reason, modRevision: kv.modRevision }));
      const shown = printableKey(kv.key);
      const message = existed
        ? `malformed value at ${shown} replaces a valid endpoint, which is removed: ${reason}`
        : `malformed value at ${shown} skipped: ${reason}`;
      this.log("warn", message, { key: kv.key, modRevision: kv.modRevision, reason });
      const error = new WatcherError("INVALID_VALUE", message, { cause: decoded.error, key: kv.key });
      for (const view of this.views) view.emit("error", error);
      return;
    }
    this.skipped.delete(kv.key);
    this.endpoints.set(
      kv.key,
      Object.freeze({
        key: kv.key,
        addr: decoded.endpoint.addr,
        metadata: deepFreeze(decoded.endpoint.metadata),
        modRevision: kv.modRevision,
        createRevision: kv.createRevision,
        lease: kv.lease,
      }),
    );
  }

  private remove(key: string): boolean {
    const removed = this.endpoints.delete(key);
    return this.skipped.delete(key) || removed;
  }

  private watch(): void {
    const generation = ++this.generation;
    const live = () => generation === this.generation;
    const from = String((this.revision ?? 0n) + 1n);
    this.log("debug", "watching", { fromRevision: from });
    let ended = false;
    const cancel = this.source.watch(this.prefix, from, {
      onConnected: () => {
        if (!live()) return;
        this.attempt = 0;
        this.markFresh();
      },
      onEvents: (events) => {
        if (live()) this.apply(events);
      },
      onCompacted: (compactRevision) => {
        ended = true;
        if (!live()) return;
        this.cancelWatch = undefined;
        const error = new WatcherError(
          "COMPACTED",
          `revision ${from} of ${this.prefix} was compacted (at ${compactRevision}); re-listing`,
        );
        this.log("info", error.message, { compactRevision });
        for (const view of this.views) view.emit("error", error);
        this.relist();
      },
      onError: (cause) => {
        ended = true;
        if (!live()) return;
        this.cancelWatch = undefined;
        this.markStale(toWatcherError("WATCH_FAILED", `watch of ${this.prefix} failed`, cause));
        this.retry(() => this.watch());
      },
    });
    if (!ended && live()) this.cancelWatch = cancel;
  }

  private apply(events: readonly SourceEvent[]): void {
    // Events at or below the synced revision were already covered by the listing or an earlier
    // response: a source resuming too early must not make us apply them twice.
    const floor = this.revision ?? 0n;
    let top = floor;
    let changed = false;
    for (const event of events) {
      const revision = BigInt(event.modRevision);
      if (revision <= floor || !isServiceKey(this.service, event.key)) continue;
      if (revision > top) top = revision;
      if (event.type === "put") this.put(event);
      else this.remove(event.key);
      changed = true;
    }
    this.revision = top;
    if (!changed) return;
    this.version++;
    for (const view of this.views) view.changed();
  }

  private retry(action: () => void): void {
    const delay = backoffDelay(this.settings.backoff, this.attempt++, this.settings.clock);
    this.log("debug", "retrying", { delayMs: delay, attempt: this.attempt });
    const generation = this.generation;
    this.retryTimer = this.settings.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (generation === this.generation) action();
    }, delay);
  }

  private markStale(error: WatcherError): void {
    this.log("warn", error.message, { code: error.code });
    for (const view of this.views) view.emit("error", error);
    if (this.stale) return;
    this.stale = true;
    for (const view of this.views) view.emit("stale", error);
  }

  private markFresh(): void {
    if (!this.stale) return;
    this.stale = false;
    this.log("info", "fresh again", {});
    for (const view of this.views) view.emit("fresh");
  }
}

interface CoreSettings {
  linearizable: boolean;
  clock: Clock;
  backoff: ResolvedBackoff;
  cancelTimeoutMs: number;
  decode: DecodeOptions | undefined;
}

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

/** One consumer's window on a core: its filter, coalescing, listeners and iterators. */
class View implements ServiceWatcher {
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
      // Messages and fields quote etcd3's errors, and those its target with any password in it.
      this.logger[level]?.(redactSecrets(message), redactFields(fields));
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
    const sorted = [...this.core.endpoints.values()].sort(byKey);
    for (const endpoint of sorted) if (this.accepts(endpoint)) endpoints.set(endpoint.key, endpoint);
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
      this.cache = {
        version: core.version,
        snapshot: Object.freeze({
          service: core.service,
          endpoints: Object.freeze([...core.endpoints.values()].filter((e) => this.accepts(e)).sort(byKey)),
          listed: core.listed,
          stale: core.stale,
          revision: core.revision === undefined ? undefined : String(core.revision),
          skipped: Object.freeze([...core.skipped.values()].sort(byKey)),
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

const cores = new WeakMap<NamingSource, Map<string, ServiceCore>>();
const clockIds = new WeakMap<Clock, number>();
let nextClockId = 0;

function clockId(clock: Clock): number {
  let id = clockIds.get(clock);
  if (id === undefined) {
    id = ++nextClockId;
    clockIds.set(clock, id);
  }
  return id;
}

/**
 * Watches the endpoints of `service` on `source`: lists the prefix, watches it from the listing's
 * revision + 1, and reconciles on compaction by re-listing. Never freezes: a lost stream is resumed with
 * jittered backoff while the last known set is kept (`stale`), and a compacted resume point re-lists.
 *
 * @throws {WatcherError} `INVALID_SERVICE` or `INVALID_OPTIONS`, synchronously.
 * @example
 * const watcher = watchService(createEtcd3Source(client), "my-service");
 * watcher.on("update", ({ endpoints }) => balancer.setTargets(endpoints.map((e) => e.addr)));
 * // …
 * await watcher.close();
 */
export function watchService(
  source: NamingSource,
  service: string,
  options: WatchServiceOptions = {},
): ServiceWatcher {
  try {
    validateService(service);
  } catch (cause) {
    throw new WatcherError("INVALID_SERVICE", `invalid service ${JSON.stringify(service)}`, { cause });
  }
  const coalesceMs = options.coalesceMs ?? 5;
  const cancelTimeoutMs = options.cancelTimeoutMs ?? 2_000;
  // A delay beyond what a timer can wait would fire after 1 ms, and a NaN one at once.
  if (typeof coalesceMs !== "number" || !(coalesceMs >= 0 && coalesceMs <= MAX_TIMER_MS)) {
    throw new WatcherError(
      "INVALID_OPTIONS",
      `coalesceMs must be a number from 0 to ${MAX_TIMER_MS}, got ${String(coalesceMs)}`,
    );
  }
  if (typeof cancelTimeoutMs !== "number" || !(cancelTimeoutMs >= 0 && cancelTimeoutMs <= MAX_TIMER_MS)) {
    throw new WatcherError(
      "INVALID_OPTIONS",
      `cancelTimeoutMs must be a number from 0 to ${MAX_TIMER_MS}, got ${String(cancelTimeoutMs)}`,
    );
  }
  if (options.filter !== undefined && typeof options.filter !== "function") {
    throw new WatcherError("INVALID_OPTIONS", "filter must be a function");
  }
  try {
    // Bad limits would otherwise throw later, from the first list or a watch event.
    decodeEndpoint("", options.decode);
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new WatcherError("INVALID_OPTIONS", `invalid decode options: ${detail}`, { cause });
  }
  const clock = options.clock ?? systemClock;
  const settings: CoreSettings = {
    linearizable: options.linearizable ?? true,
    clock,
    backoff: resolveBackoff(options.backoff),
    cancelTimeoutMs,
    decode: options.decode,
  };
  const shareKey = JSON.stringify([
    service,
    settings.linearizable,
    settings.backoff,
    cancelTimeoutMs,
    settings.decode ?? null,
    clockId(clock),
  ]);

  let byService = cores.get(source);
  if (!byService) {
    byService = new Map();
    cores.set(source, byService);
  }
  const shared = options.shared ?? true;
  let core = shared ? byService.get(shareKey) : undefined;
  const fresh = core === undefined;
  if (core === undefined) {
    const registry = byService;
    const created: ServiceCore = new ServiceCore(source, service, settings, () => {
      if (registry.get(shareKey) === created) registry.delete(shareKey);
    });
    if (shared) registry.set(shareKey, created);
    core = created;
  }
  const view = new View(core, clock, coalesceMs, options.filter, options.logger ?? consoleLogger);
  core.attach(view);
  if (fresh) core.start();
  else if (core.listed) view.scheduleInitial();
  return view;
}
