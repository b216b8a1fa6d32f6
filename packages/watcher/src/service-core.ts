import type { DecodeOptions } from "@etcd-naming/codec";
import {
  decodeEndpoint,
  EMPTY_ATTRIBUTES,
  metadataAttributes,
  printableKey,
  servicePrefix,
} from "@etcd-naming/codec";
import type { LogFields } from "@etcd-naming/etcd";
import type { ResolvedBackoff } from "./backoff.js";
import { backoffDelay } from "./backoff.js";
import type { Clock, TimerHandle } from "./clock.js";
import { WatcherError } from "./errors.js";
import { restartReason, type WatcherMetrics } from "./metrics.js";
import type { View } from "./service-view.js";
import type { ServiceEndpoint, SkippedKey, WatcherLogger } from "./service-watcher.js";
import type { CancelWatch, NamingSource, SourceEvent, SourceKeyValue, SourceListing } from "./source.js";
import { SpreadMap } from "./spread-map.js";

const byKey = (a: { key: string }, b: { key: string }): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : 0;

/** Where `key` is, or would go, in `list` (sorted by key). */
function position(list: readonly { key: string }[], key: string): number {
  let low = 0;
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((list[middle] as { key: string }).key < key) low = middle + 1;
    else high = middle;
  }
  return low;
}

const NONE: readonly SkippedKey[] = Object.freeze([]);

/** What `metadataAttributes(null)` gives. */
const NO_ATTRIBUTES = Object.freeze({ ok: true as const, attributes: EMPTY_ATTRIBUTES });

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

/**
 * The list → watch → reconcile loop of one service on one source: the state its views share. It keeps the
 * set; each {@link View} decides what its consumer sees of it and when.
 */
export class ServiceCore {
  readonly prefix: string;
  /** By key; spread over small maps, so that listing a large service allocates no large table. */
  readonly endpoints: SpreadMap<ServiceEndpoint> = new SpreadMap();
  readonly skipped: Map<string, SkippedKey> = new Map();
  readonly views: Set<View> = new Set();
  listed = false;
  stale = false;
  revision: bigint | undefined;
  /** Bumped on every change of `endpoints` or `skipped`, to cache snapshots. */
  version = 0;

  /**
   * `endpoints` in key order, kept sorted as changes arrive (a binary search per change instead of a sort
   * of the whole set per batch).
   */
  private readonly order: ServiceEndpoint[] = [];
  /** Frozen copies of the set in key order, made once per version for all views. */
  private ordered:
    | { version: number; endpoints: readonly ServiceEndpoint[]; skipped: readonly SkippedKey[] }
    | undefined;

  private generation = 0;
  private cancelWatch: CancelWatch | undefined;
  private retryTimer: TimerHandle | undefined;
  private attempt = 0;
  private closed = false;
  /** When the core went stale (clock ms); undefined while fresh. */
  private staleSince: number | undefined;
  /** Whether etcd created the current watch and it has not ended. */
  streamOpen = false;
  private unobserve: (() => void) | undefined;

  constructor(
    private readonly source: NamingSource,
    readonly service: string,
    private readonly settings: CoreSettings,
    private readonly onClosed: () => void,
  ) {
    this.prefix = servicePrefix(service);
  }

  /** Whether `key` is one of the service's endpoint keys (`isServiceKey`, on the prefix made once). */
  private owns(key: string): boolean {
    return key.length > this.prefix.length && key.startsWith(this.prefix);
  }

  start(): void {
    this.unobserve = this.settings.metrics?.observe(this);
    this.relist();
  }

  /** How many endpoints the core holds (for the endpoints gauge). */
  get endpointCount(): number {
    return this.endpoints.size;
  }

  /** Seconds since the core went stale; 0 while fresh (for the staleness gauge). */
  staleSeconds(): number {
    if (this.staleSince === undefined) return 0;
    return Math.max(0, this.settings.clock.now() - this.staleSince) / 1000;
  }

  /**
   * The endpoints and skipped keys in key order, frozen. The only place the set is ordered: views filter
   * this order, and what they emit stays in it all the way to a resolver's listener.
   */
  sorted(): { readonly endpoints: readonly ServiceEndpoint[]; readonly skipped: readonly SkippedKey[] } {
    if (this.ordered?.version !== this.version) {
      this.ordered = {
        version: this.version,
        endpoints: Object.freeze(this.order.slice()),
        skipped: this.skipped.size === 0 ? NONE : Object.freeze([...this.skipped.values()].sort(byKey)),
      };
    }
    return this.ordered;
  }

  /** `list` handles a failing source itself; this catches what would otherwise be an unhandled rejection. */
  private relist(): void {
    this.list().catch((error: unknown) => {
      this.log("error", { err: error }, `listing ${this.prefix} failed unexpectedly: ${String(error)}`);
    });
  }

  attach(view: View): void {
    this.views.add(view);
  }

  async detach(view: View): Promise<void> {
    this.views.delete(view);
    if (this.views.size > 0 || this.closed) return;
    this.closed = true;
    this.streamOpen = false;
    this.unobserve?.();
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

  private log(level: keyof WatcherLogger, fields: LogFields, message: string): void {
    for (const view of this.views) view.log(level, fields, message);
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
    // Views hear of the listing after "fresh", and may emit at once: a listener that closes the last of
    // them (or a "fresh" listener that did) leaves no one to watch for.
    for (const view of this.views) view.changed();
    if (generation !== this.generation || this.closed) return;
    this.watch();
  }

  /** Replaces the local set with a listing; the diff covers whatever the watch missed. */
  private reconcile(listing: SourceListing): void {
    // Keys the listing lacks can only be among those held before it (none on a first listing).
    const held = this.endpoints.size > 0 || this.skipped.size > 0;
    const seen = held ? new Set<string>() : undefined;
    if (!held) this.endpoints.reserve(listing.kvs.length);
    let changed = false;
    for (const kv of listing.kvs) {
      if (!this.owns(kv.key)) continue;
      if (seen !== undefined) {
        seen.add(kv.key);
        const current = this.endpoints.get(kv.key) ?? this.skipped.get(kv.key);
        if (current?.modRevision === kv.modRevision) continue;
      }
      this.put(kv);
      changed = true;
    }
    if (seen !== undefined) {
      for (const key of [...this.endpoints.keys(), ...this.skipped.keys()]) {
        if (!seen.has(key)) changed = this.remove(key) || changed;
      }
    }
    this.revision = BigInt(listing.revision);
    const first = !this.listed;
    this.listed = true;
    if (changed || first) this.version++;
    this.log("debug", { revision: listing.revision, endpoints: this.endpoints.size }, "listed");
    // A listing may change anything: views compare their whole set (told by list(), after "fresh").
  }

  private put(kv: SourceKeyValue): void {
    const decoded = decodeEndpoint(kv.value, this.settings.decode);
    if (!decoded.ok) {
      const existed = this.dropEndpoint(kv.key);
      const reason = decoded.error.message;
      this.skipped.set(kv.key, Object.freeze({ key: kv.key, reason, modRevision: kv.modRevision }));
      const shown = printableKey(kv.key);
      const message = existed
        ? `malformed value at ${shown} replaces a valid endpoint, which is removed: ${reason}`
        : `malformed value at ${shown} skipped: ${reason}`;
      this.log("warn", { key: shown, modRevision: kv.modRevision, reason }, message);
      const error = new WatcherError("INVALID_VALUE", message, { cause: decoded.error, key: kv.key });
      for (const view of this.views) view.emit("error", error);
      return;
    }
    this.skipped.delete(kv.key);
    const metadata = decoded.endpoint.metadata;
    // No metadata (what Go's endpoints.Manager writes) has no attributes: no result object per endpoint.
    const attributes = metadata === null ? NO_ATTRIBUTES : metadataAttributes(metadata);
    // Not fatal: the endpoint is served, it just carries no attributes (and matches no filter). Only a
    // string that tries to be one ("zone=a;…") is worth a warning: Go fleets put any text in Metadata.
    if (!attributes.ok && typeof metadata === "string" && metadata.includes("=")) {
      const reason = attributes.error.message;
      const shown = printableKey(kv.key);
      const message = `malformed attribute string at ${shown}, read as no attributes: ${reason}`;
      this.log("warn", { key: shown, modRevision: kv.modRevision, reason }, message);
    }
    const endpoint: ServiceEndpoint = Object.freeze({
      key: kv.key,
      addr: decoded.endpoint.addr,
      metadata: deepFreeze(metadata),
      attributes: attributes.attributes,
      modRevision: kv.modRevision,
      createRevision: kv.createRevision,
      lease: kv.lease,
    });
    const existed = !this.endpoints.set(kv.key, endpoint);
    // A listing comes in key order: a new key after the last one needs no search.
    const last = this.order[this.order.length - 1];
    if (!existed && (last === undefined || last.key < kv.key)) {
      this.order.push(endpoint);
      return;
    }
    const at = position(this.order, kv.key);
    if (existed) this.order[at] = endpoint;
    else if (at === this.order.length) this.order.push(endpoint);
    else this.order.splice(at, 0, endpoint);
  }

  private remove(key: string): boolean {
    const removed = this.dropEndpoint(key);
    return this.skipped.delete(key) || removed;
  }

  private dropEndpoint(key: string): boolean {
    if (!this.endpoints.delete(key)) return false;
    this.order.splice(position(this.order, key), 1);
    return true;
  }

  private watch(): void {
    if (this.closed) return;
    const generation = ++this.generation;
    const live = () => generation === this.generation;
    const from = String((this.revision ?? 0n) + 1n);
    this.log("debug", { fromRevision: from }, "watching");
    let ended = false;
    const cancel = this.source.watch(this.prefix, from, {
      onConnected: () => {
        if (!live()) return;
        this.attempt = 0;
        this.streamOpen = true;
        this.markFresh();
      },
      onEvents: (events) => {
        if (live()) this.apply(events);
      },
      onCompacted: (compactRevision) => {
        ended = true;
        if (!live()) return;
        this.cancelWatch = undefined;
        this.streamOpen = false;
        this.settings.metrics?.relisted(this.service);
        const error = new WatcherError(
          "COMPACTED",
          `revision ${from} of ${this.prefix} was compacted (at ${compactRevision}); re-listing`,
        );
        this.log("info", { compactRevision }, error.message);
        for (const view of this.views) view.emit("error", error);
        this.relist();
      },
      onError: (cause) => {
        ended = true;
        if (!live()) return;
        this.cancelWatch = undefined;
        this.streamOpen = false;
        this.settings.metrics?.restarted(this.service, restartReason(cause));
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
    const keys: string[] = [];
    for (const event of events) {
      const revision = BigInt(event.modRevision);
      if (revision <= floor || !this.owns(event.key)) continue;
      if (revision > top) top = revision;
      if (event.type === "put") this.put(event);
      else this.remove(event.key);
      keys.push(event.key);
    }
    this.revision = top;
    if (keys.length === 0) return;
    this.version++;
    // Views compare only the keys these events touched.
    for (const view of this.views) view.changed(keys);
  }

  private retry(action: () => void): void {
    const delay = backoffDelay(this.settings.backoff, this.attempt++, this.settings.clock);
    this.log("debug", { delayMs: delay, attempt: this.attempt }, "retrying");
    const generation = this.generation;
    this.retryTimer = this.settings.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (generation === this.generation) action();
    }, delay);
  }

  private markStale(error: WatcherError): void {
    this.log("warn", { code: error.code }, error.message);
    for (const view of this.views) view.emit("error", error);
    if (this.stale) return;
    this.stale = true;
    this.staleSince = this.settings.clock.now();
    for (const view of this.views) view.emit("stale", error);
  }

  private markFresh(): void {
    if (!this.stale) return;
    this.stale = false;
    this.staleSince = undefined;
    this.log("info", {}, "fresh again");
    for (const view of this.views) view.emit("fresh");
  }
}

/** What a core is built with; cores are shared only between equal settings. */
export interface CoreSettings {
  linearizable: boolean;
  clock: Clock;
  backoff: ResolvedBackoff;
  cancelTimeoutMs: number;
  decode: DecodeOptions | undefined;
  /** Where the core's metrics go; undefined records none. */
  metrics: WatcherMetrics | undefined;
}
