import { printableKey } from "@etcd-naming/codec";
import type { NamingSource, ServiceEndpoint, ServiceWatcher, WatcherLogger } from "@etcd-naming/watcher";
import { watchService } from "@etcd-naming/watcher";
import type { Dispatcher, Pool } from "undici/index.js";
import { NoEndpointsError } from "./errors.js";
import { type AnyHandler, failRequest, retryUnsent } from "./handlers.js";
import { BalancedPool } from "./undici.js";
import { MAX_WEIGHT, parseWeight, WEIGHT_ATTRIBUTE, WeightedPicker } from "./weights.js";

/** What a route needs from its dispatcher. */
export interface RouteSettings {
  readonly source: NamingSource;
  readonly protocol: "http:" | "https:";
  readonly poolOptions: Pool.Options;
  readonly waitForEndpointsMs: number;
  readonly logger: WatcherLogger;
  readonly coalesceMs: number | undefined;
}

interface Waiting {
  readonly options: Dispatcher.DispatchOptions;
  readonly handler: AnyHandler;
  readonly timer: NodeJS.Timeout;
  readonly onAbort: (() => void) | undefined;
}

/**
 * One service: a watch of its endpoints in etcd and an undici `BalancedPool` over them. Endpoints that join
 * become upstreams at once; one that leaves (drained, paused, its lease expired) is removed, and undici
 * closes its pool once the requests already on it have finished. Requests that arrive while the service has
 * no endpoint wait for one, for at most `waitForEndpointsMs` (or the request's own `headersTimeout`).
 */
export class ServiceRoute {
  private readonly watcher: ServiceWatcher;
  private readonly pool: BalancedPool;
  private readonly upstreams = new Set<string>();
  private readonly waiting = new Set<Waiting>();
  private readonly warned = new Set<string>();
  /** Set while any endpoint carries a `weight` attribute: requests are then picked by weight. */
  private picker: WeightedPicker | undefined;
  /**
   * Pools of endpoints that left and are still finishing their requests. Until such a pool has closed,
   * undici's BalancedPool keeps it in its rotation and may pick it, which fails the request with
   * `UND_ERR_CLOSED`; while any is closing, requests are spread here over the live upstreams instead.
   */
  private closing = 0;
  private turn = 0;
  private closed = false;

  constructor(
    readonly service: string,
    private readonly settings: RouteSettings,
  ) {
    this.pool = new BalancedPool([], settings.poolOptions);
    this.watcher = watchService(settings.source, service, {
      logger: settings.logger,
      ...(settings.coalesceMs === undefined ? {} : { coalesceMs: settings.coalesceMs }),
    });
    this.watcher.on("update", (update) => this.apply(update.endpoints));
    // The listing: `update` fires for changes after it.
    this.watcher.ready().then(
      (snapshot) => this.apply(snapshot.endpoints),
      () => {},
    );
  }

  /** The origins requests go to now. */
  get origins(): readonly string[] {
    return [...this.upstreams];
  }

  dispatch(options: Dispatcher.DispatchOptions, handler: AnyHandler): boolean {
    // A request that could not connect is sent again, to another endpoint when there is one: at most once
    // per endpoint (undici's BalancedPool lowers a failing endpoint's share, so the next pick is elsewhere).
    let attempts = 0;
    const send = (current: AnyHandler): boolean => {
      if (this.closed || this.upstreams.size === 0 || ++attempts > this.upstreams.size) return false;
      this.send(options, current);
      return true;
    };
    const wrapped = retryUnsent(handler, send);
    if (this.upstreams.size > 0) return this.send(options, wrapped);
    this.hold(options, wrapped);
    return true;
  }

  /** To the next endpoint: by weight when the registry gives weights, else as undici's BalancedPool picks. */
  private send(options: Dispatcher.DispatchOptions, handler: AnyHandler): boolean {
    const origin =
      this.picker?.pick((o) => this.pool.getUpstream(o) !== undefined) ??
      (this.closing > 0 ? this.nextLive() : undefined);
    const upstream = origin === undefined ? undefined : this.pool.getUpstream(origin);
    if (upstream !== undefined) return upstream.dispatch(options, handler as Dispatcher.DispatchHandler);
    return this.pool.dispatch(options, handler as Dispatcher.DispatchHandler);
  }

  /** Round robin over the live upstreams. */
  private nextLive(): string | undefined {
    const origins = [...this.upstreams];
    if (origins.length === 0) return undefined;
    this.turn = (this.turn + 1) % origins.length;
    return origins[this.turn];
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiting of [...this.waiting]) this.release(waiting, this.noEndpoints("the dispatcher closed"));
    await this.watcher.close();
    await this.pool.close();
  }

  async destroy(error: Error | null): Promise<void> {
    this.closed = true;
    for (const waiting of [...this.waiting]) this.release(waiting, error ?? this.noEndpoints("destroyed"));
    await this.watcher.close();
    await this.pool.destroy(error);
  }

  private apply(endpoints: readonly ServiceEndpoint[]): void {
    if (this.closed) return;
    const wanted = new Set<string>();
    const weights = new Map<string, number>();
    let weighted = false;
    for (const endpoint of endpoints) {
      const origin = this.originOf(endpoint);
      if (origin === undefined) continue;
      wanted.add(origin);
      const text = endpoint.attributes[WEIGHT_ATTRIBUTE];
      if (text === undefined) {
        weights.set(origin, Math.max(weights.get(origin) ?? 0, 1));
        continue;
      }
      weighted = true;
      const weight = parseWeight(text);
      if (weight === null) this.warnWeight(endpoint, text);
      weights.set(origin, Math.max(weights.get(origin) ?? 0, weight ?? 1));
    }
    // A new picker per change: its rotation restarts, which costs nothing an even split would notice.
    this.picker = weighted ? new WeightedPicker(weights) : undefined;
    for (const origin of wanted) {
      if (this.upstreams.has(origin)) continue;
      this.upstreams.add(origin);
      this.pool.addUpstream(origin);
    }
    for (const origin of [...this.upstreams]) {
      if (wanted.has(origin)) continue;
      this.upstreams.delete(origin);
      // undici closes the upstream's pool after the requests on it have finished: none is cut off.
      const leaving = this.pool.getUpstream(origin);
      this.pool.removeUpstream(origin);
      if (leaving === undefined) continue;
      this.closing++;
      const closed = () => {
        this.closing--;
      };
      leaving.close().then(closed, closed);
    }
    if (this.upstreams.size === 0) return;
    for (const waiting of [...this.waiting]) {
      this.waiting.delete(waiting);
      clearTimeout(waiting.timer);
      waiting.onAbort?.();
      this.pool.dispatch(waiting.options, waiting.handler as Dispatcher.DispatchHandler);
    }
  }

  private warnWeight(endpoint: ServiceEndpoint, value: string): void {
    const id = `weight\u0000${endpoint.key}\u0000${value}`;
    if (this.warned.has(id)) return;
    if (this.warned.size >= 10_000) this.warned.clear();
    this.warned.add(id);
    const key = printableKey(endpoint.key);
    this.settings.logger.warn?.(
      { service: this.service, key, weight: value },
      `${key}: weight ${JSON.stringify(value)} is not a whole number from 1 to ${MAX_WEIGHT}; it counts as 1`,
    );
  }

  private originOf(endpoint: ServiceEndpoint): string | undefined {
    const addr = endpoint.addr;
    let origin: string | undefined;
    if (!addr.startsWith("unix:")) {
      try {
        const url = new URL(`${this.settings.protocol}//${addr}`);
        if (url.host === addr.toLowerCase() || url.host === addr) origin = url.origin;
      } catch {
        origin = undefined;
      }
    }
    if (origin === undefined && !this.warned.has(endpoint.key)) {
      if (this.warned.size >= 10_000) this.warned.clear();
      this.warned.add(endpoint.key);
      const key = printableKey(endpoint.key);
      this.settings.logger.warn?.(
        { service: this.service, key, addr },
        `skipping ${key}: ${JSON.stringify(addr)} is not a host:port an HTTP client can reach`,
      );
    }
    return origin;
  }

  private hold(options: Dispatcher.DispatchOptions, handler: AnyHandler): void {
    const own = options.headersTimeout;
    const waitMs = typeof own === "number" && own > 0 ? own : this.settings.waitForEndpointsMs;
    const signal = (options as { signal?: AbortSignal | null }).signal ?? undefined;
    let waiting: Waiting;
    const timer = setTimeout(
      () => this.release(waiting, this.noEndpoints(`none arrived within ${waitMs} ms`)),
      waitMs,
    );
    let onAbort: (() => void) | undefined;
    if (signal !== undefined && typeof signal.addEventListener === "function") {
      if (signal.aborted) {
        clearTimeout(timer);
        failRequest(handler, abortReason(signal));
        return;
      }
      const abort = () => this.release(waiting, abortReason(signal));
      signal.addEventListener("abort", abort, { once: true });
      onAbort = () => signal.removeEventListener("abort", abort);
    }
    waiting = { options, handler, timer, onAbort };
    this.waiting.add(waiting);
  }

  private release(waiting: Waiting, error: Error): void {
    if (!this.waiting.delete(waiting)) return;
    clearTimeout(waiting.timer);
    waiting.onAbort?.();
    failRequest(waiting.handler, error);
  }

  private noEndpoints(why: string): NoEndpointsError {
    const snapshot = this.watcher.snapshot();
    const state = snapshot.stale ? "etcd is unreachable and the last known set is empty" : why;
    return new NoEndpointsError(
      this.service,
      `no endpoint of ${this.service} is registered in etcd (${state})`,
    );
  }
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error("request aborted", { cause: reason });
}
