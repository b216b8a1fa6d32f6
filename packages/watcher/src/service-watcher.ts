import type { Attributes, DecodeOptions } from "@etcd-naming/codec";
import { decodeEndpoint, validateService } from "@etcd-naming/codec";
import type { Logger, MeterProviderLike } from "@etcd-naming/etcd";
import { consoleLogger, redactingLogger } from "@etcd-naming/etcd";
import type { BackoffOptions } from "./backoff.js";
import { resolveBackoff } from "./backoff.js";
import type { Clock } from "./clock.js";
import { MAX_TIMER_MS, systemClock } from "./clock.js";
import { WatcherError } from "./errors.js";
import { watcherMetrics } from "./metrics.js";
import type { CoreSettings } from "./service-core.js";
import { View } from "./service-view.js";
import { coreFor } from "./shared-cores.js";
import type { NamingSource } from "./source.js";

// The public face of the watcher: what a consumer sees (these types) and the one way in, watchService().
// The work is done in three rooms: service-core.ts (one service's list → watch → reconcile loop, the
// shared state), service-view.ts (one consumer's window on it) and shared-cores.ts (which core a new
// watcher joins).

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
  /**
   * The endpoint's attributes, from either metadata form (`metadataAttributes` of `@etcd-naming/codec`):
   * the attribute string (`"zone=a;weight=3"`) parsed, or a JSON object's string, number and boolean
   * fields as text. Empty for other metadata, and for a malformed attribute string (the endpoint stays;
   * a warning names its key). Frozen, with a null prototype.
   */
  readonly attributes: Attributes;
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
  /**
   * When the oldest change in this batch reached the watcher (the clock's ms): the watch response or the
   * listing that brought it. `clock.now() - receivedAt` is how long it took from etcd's answer to here.
   * Set on `update` events; the updates an async iterator yields leave it out.
   */
  readonly receivedAt?: number;
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

/**
 * A sink for the watcher's diagnostics: the etcd layer's `Logger`, pino's and bunyan's
 * `(fields, message)` shape, every method optional. `pino()`, a bunyan logger and `console` plug in
 * as they are. Each line carries `component: "watcher"` and `service`, and, where they apply, `key`
 * (printable), `modRevision`, `revision` and `err`.
 */
export type WatcherLogger = Logger;

/** Options of {@link watchService}. */
export interface WatchServiceOptions {
  /**
   * Read the initial list (and every re-list) through the leader (default true). etcd's Go resolver
   * reads serializably, which can return a stale member's view.
   */
  linearizable?: boolean;
  /**
   * The coalescing window, in ms (default 5). Leading-edge: a change that comes this long or more after
   * the last `update` is emitted at once; the changes that follow within the window are gathered into one
   * `update` at its end. 0 emits one update per etcd response. The initial update is never delayed.
   */
  coalesceMs?: number;
  /**
   * Keeps only the endpoints for which it returns true (e.g. by metadata). It is asked once per version of
   * an endpoint (a put makes a new one) and its answer kept, so it should depend on the endpoint alone.
   */
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
  /**
   * Where the service's metrics go (`etcd_naming.service.*`, `etcd_naming.watch.*`): an OpenTelemetry
   * `MeterProvider`. Default: the global one registered through `@opentelemetry/api`, if any; without
   * one nothing is recorded. Watchers share a watch only with those recording to the same provider.
   */
  meterProvider?: MeterProviderLike;
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

const toConsole = consoleLogger();

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
    metrics: watcherMetrics(options.meterProvider),
  };
  const { core, fresh } = coreFor(source, service, settings, options.shared ?? true);
  const logger = redactingLogger(options.logger ?? toConsole);
  const view = new View(core, clock, coalesceMs, options.filter, logger);
  core.attach(view);
  if (fresh) core.start();
  else if (core.listed) view.scheduleInitial();
  return view;
}
