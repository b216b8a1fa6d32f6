import { consoleLogger, type Logger } from "@etcd-naming/etcd";
import { createEtcd3Source, MAX_TIMER_MS, type NamingSource } from "@etcd-naming/watcher";
import type { Namespace } from "etcd3";
import type { Pool } from "undici/index.js";
import { InvalidOptionsError } from "./errors.js";
import { type AnyHandler, failRequest } from "./handlers.js";
import { ServiceRoute } from "./service-route.js";
import { Agent, Dispatcher } from "./undici.js";

/** Options of {@link createEtcdDispatcher}. */
export interface EtcdDispatcherOptions {
  /** The etcd client (or a namespace of one) holding the registry. One of `client` or `source`. */
  client?: Namespace;
  /** Where endpoints come from, instead of `client`: e.g. the watcher's `createMemorySource()`. */
  source?: NamingSource;
  /**
   * Send every request to this service, whatever its URL's host (then `fetch("http://api/users")` and
   * `fetch("http://x/users")` go to the same place). Without it, a URL names its service by its host:
   * `http://greeter.etcd/hello` goes to `greeter` (see `hostSuffix` and `serviceOf`).
   */
  service?: string;
  /** The host suffix that marks a service (default `".etcd"`): `greeter.etcd` → `greeter`. */
  hostSuffix?: string;
  /**
   * Maps a request's origin to a service, for names a host cannot carry (`team/api`); undefined sends the
   * request to `fallback`. Takes precedence over `hostSuffix`.
   */
  serviceOf?: (origin: URL) => string | undefined;
  /**
   * Where requests for other hosts go (default: an undici `Agent` this dispatcher creates and closes), so
   * the dispatcher can be the global one.
   */
  fallback?: Dispatcher;
  /** The scheme spoken to the endpoints (default `"http:"`; `"https:"` with `poolOptions.connect` for TLS). */
  protocol?: "http:" | "https:";
  /** Options of each endpoint's undici `Pool` (connections, timeouts, `connect` TLS options). */
  poolOptions?: Pool.Options;
  /**
   * How long a request for a service with no endpoint waits for one before failing with `NoEndpointsError`
   * (default 10,000 ms); a request's own `headersTimeout` replaces it.
   */
  waitForEndpointsMs?: number;
  /** The watcher's window, in ms (default: the watcher's, 5). */
  coalesceMs?: number;
  /** Diagnostics (default: warnings and errors to `console`); pino's `(fields, message)` shape. */
  logger?: Logger;
}

/** The dispatcher {@link createEtcdDispatcher} returns. */
export interface EtcdDispatcher extends Dispatcher {
  /** The origins (`http://host:port`) requests for `service` go to now; empty before its first request. */
  origins(service: string): readonly string[];
}

const DEFAULT_SUFFIX = ".etcd";

/**
 * An undici dispatcher that sends each request for a service registered in etcd to its live endpoints,
 * balanced by undici's `BalancedPool` (which also backs off from an endpoint that fails to connect).
 * Use it with undici's `request`, `fetch(url, { dispatcher })`, or as the global dispatcher.
 *
 * @example
 * const dispatcher = createEtcdDispatcher({ client: new Etcd3({ hosts: "127.0.0.1:2379" }) });
 * const response = await request("http://greeter.etcd/hello", { dispatcher });
 */
export function createEtcdDispatcher(options: EtcdDispatcherOptions): EtcdDispatcher {
  return new EtcdNamingDispatcher(options);
}

class EtcdNamingDispatcher extends Dispatcher implements EtcdDispatcher {
  private readonly routes = new Map<string, ServiceRoute>();
  private readonly source: NamingSource;
  private readonly ownFallback: boolean;
  private fallback: Dispatcher | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: EtcdDispatcherOptions) {
    super();
    const { client, source } = options;
    if ((client === undefined) === (source === undefined)) {
      throw new InvalidOptionsError("give exactly one of client (an etcd3 client) or source");
    }
    const wait = options.waitForEndpointsMs;
    if (wait !== undefined && !(typeof wait === "number" && wait >= 0 && wait <= MAX_TIMER_MS)) {
      throw new InvalidOptionsError(
        `waitForEndpointsMs must be 0 to ${MAX_TIMER_MS} ms, got ${String(wait)}`,
      );
    }
    const protocol = options.protocol ?? "http:";
    if (protocol !== "http:" && protocol !== "https:") {
      throw new InvalidOptionsError(`protocol must be "http:" or "https:", got ${JSON.stringify(protocol)}`);
    }
    const fallback = options.fallback;
    if (fallback !== undefined && typeof (fallback as Partial<Dispatcher>).dispatch !== "function") {
      // What Bun's built-in `import "undici"` gives: its Agent and Pool cannot send a request.
      throw new InvalidOptionsError(
        'fallback has no dispatch(); on Bun, `import "undici"` is a built-in module whose dispatchers send nothing: take Agent from "undici/index.js"',
      );
    }
    this.source = source ?? createEtcd3Source(client!);
    this.ownFallback = options.fallback === undefined;
    this.fallback = options.fallback;
  }

  origins(service: string): readonly string[] {
    return this.routes.get(service)?.origins ?? [];
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const request = handler as AnyHandler;
    if (this.closing !== undefined) {
      failRequest(
        request,
        Object.assign(new Error("the etcd dispatcher is closed"), { code: "UND_ERR_CLOSED" }),
      );
      return false;
    }
    let service: string | undefined;
    try {
      service = this.serviceFor(options.origin);
    } catch (error) {
      failRequest(request, error as Error);
      return false;
    }
    if (service === undefined) return this.fallbackDispatcher().dispatch(options, handler);
    return this.route(service).dispatch(options, request);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | undefined {
    this.closing ??= this.shutDown(
      (route) => route.close(),
      (fallback) => fallback.close(),
    );
    if (callback === undefined) return this.closing;
    this.closing.then(callback, callback);
    return undefined;
  }

  override destroy(): Promise<void>;
  override destroy(error: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(error: Error | null, callback: () => void): void;
  override destroy(
    errorOrCallback?: Error | null | (() => void),
    callback?: () => void,
  ): Promise<void> | undefined {
    const error = typeof errorOrCallback === "function" ? null : (errorOrCallback ?? null);
    const done = typeof errorOrCallback === "function" ? errorOrCallback : callback;
    const destroying = this.shutDown(
      (route) => route.destroy(error),
      (fallback) => fallback.destroy(error),
    );
    this.closing ??= destroying;
    if (done === undefined) return destroying;
    destroying.then(done, done);
    return undefined;
  }

  private async shutDown(
    route: (route: ServiceRoute) => Promise<void>,
    fallback: (fallback: Dispatcher) => Promise<void>,
  ): Promise<void> {
    const routes = [...this.routes.values()];
    await Promise.all(routes.map(route));
    if (this.ownFallback && this.fallback !== undefined) await fallback(this.fallback);
  }

  private fallbackDispatcher(): Dispatcher {
    this.fallback ??= new Agent();
    return this.fallback;
  }

  private route(service: string): ServiceRoute {
    let route = this.routes.get(service);
    if (route === undefined) {
      route = new ServiceRoute(service, {
        source: this.source,
        protocol: this.options.protocol ?? "http:",
        poolOptions: this.options.poolOptions ?? {},
        waitForEndpointsMs: this.options.waitForEndpointsMs ?? 10_000,
        logger: this.options.logger ?? toConsole,
        coalesceMs: this.options.coalesceMs,
      });
      this.routes.set(service, route);
    }
    return route;
  }

  private serviceFor(origin: Dispatcher.DispatchOptions["origin"]): string | undefined {
    if (this.options.service !== undefined) return this.options.service;
    if (origin === undefined) throw new InvalidOptionsError("the request has no origin to name a service");
    const url = typeof origin === "string" ? new URL(origin) : origin;
    if (this.options.serviceOf !== undefined) return this.options.serviceOf(url);
    const suffix = this.options.hostSuffix ?? DEFAULT_SUFFIX;
    const host = url.hostname;
    if (!host.endsWith(suffix) || host.length === suffix.length) return undefined;
    return host.slice(0, -suffix.length);
  }
}

const toConsole = consoleLogger();
