import { printableKey } from "@etcd-naming/codec";
import { consoleLogger, type Logger, type MeterProviderLike, redactingLogger } from "@etcd-naming/etcd";
import {
  type Clock,
  createEtcd3Source,
  MAX_TIMER_MS,
  type NamingSource,
  type ServiceSnapshot,
  systemClock,
} from "@etcd-naming/watcher";
import * as grpcJs from "@grpc/grpc-js";
import type { Namespace } from "etcd3";
import { ResolverError } from "./errors.js";
import { HandleEvents, type ResolverHandleEvents } from "./handle-events.js";
import { resolverMetrics } from "./metrics.js";
import { processRegistry, type SharedRegistration, schemesOf } from "./process-registry.js";
import { type HoldStarted, type ProtectionOptions, resolveProtection } from "./protection.js";
import { createResolverClass, type ResolverContext } from "./resolver.js";
import { type OutlierDetectionOptions, resolveOutlierDetection } from "./service-config.js";
import { ServiceViews } from "./service-views.js";
import { type LoadBalancingPolicy, POLICIES } from "./target.js";
import { registerWeightedPolicy } from "./weighted-policy.js";
import { MAX_WEIGHT } from "./weighting.js";

/**
 * The parts of a `@grpc/grpc-js` module the resolver registers into. The weighted policy also needs its
 * experimental load-balancer API (`registerLoadBalancerType`, `LeafLoadBalancer`, …, in every release from
 * 1.10); without it, channels keep to round_robin.
 */
export interface GrpcModule {
  experimental: { registerResolver(scheme: string, resolverClass: never): void };
  Metadata: new () => unknown;
}

/** Options of {@link registerEtcdResolver}. */
export interface RegisterEtcdResolverOptions {
  /** The etcd client (or a namespace of one) holding the registry. One of `client` or `source`. */
  client?: Namespace;
  /** Where endpoints come from, instead of `client`: e.g. the watcher's `createMemorySource()`. */
  source?: NamingSource;
  /** The URI scheme to register (default `"etcd"`), so targets read `etcd:///my-service`. */
  scheme?: string;
  /**
   * The policy of targets without `?lb=` or `?prefer=`. Not given: automatic, `"weighted"` while any
   * endpoint of the channel carries a `weight` attribute and `"round_robin"` otherwise (unlike grpc's own
   * default, pick_first). Given, it is used whatever the weights.
   */
  defaultLoadBalancing?: LoadBalancingPolicy;
  /** The grpc-js module to register into (default: the `@grpc/grpc-js` this package resolves). */
  grpc?: GrpcModule;
  /** Seeds `?subset=` (default: random per process), so each client keeps its own stable subset. */
  subsetSeed?: string;
  /**
   * The shortest time between two updates to one channel, in ms (default 100). Leading-edge: a change
   * after this long without an update goes to the channel at once; later ones wait for the interval's end.
   */
  minUpdateIntervalMs?: number;
  /** The longest the adaptive spacing between updates may grow on huge services, in ms (default 5,000). */
  maxUpdateIntervalMs?: number;
  /**
   * The watcher's window, in ms (default 5): a change after a quiet window reaches the resolver at once,
   * and the changes within the window after it are gathered into one batch at its end.
   */
  coalesceMs?: number;
  /**
   * Mass-removal protection (default `{ maxRemovedShare: 0.5, holdMs: 10_000 }`): an update that would
   * remove more than that share of a channel's endpoints at once is held back for `holdMs` (the removed
   * endpoints stay next to any new ones), then applied. `false` turns it off.
   */
  protection?: ProtectionOptions | false;
  /**
   * Outlier detection for every channel (default off; `true` for the defaults, or settings): grpc-js's
   * `outlier_detection` wraps the policy, so an endpoint failing too many calls is ejected while etcd still
   * lists it. A target's `?outlier=on|off` overrides it for its channel.
   */
  outlierDetection?: OutlierDetectionOptions | boolean;
  /**
   * Diagnostics: skipped keys, undiallable addresses, lost connections, protection holds (default:
   * warnings and errors to `console`). pino's and bunyan's `(fields, message)` shape: `pino()`, a bunyan
   * logger or `console` plug in as they are. The resolver's own lines carry `component: "grpc-js"`, its
   * watches' `component: "watcher"`; both carry `service`.
   */
  logger?: Logger;
  /** Time provider for update spacing and the watcher's timers (default: the system clock). */
  clock?: Clock;
  /**
   * Where the metrics go (the resolver's `etcd_naming.resolver.*` and its watches'): an OpenTelemetry
   * `MeterProvider`. Default: the global one registered through `@opentelemetry/api`, if any; without
   * one nothing is recorded.
   */
  meterProvider?: MeterProviderLike;
}

/** A registered scheme. `close()` stops every watch and makes new channels with the scheme fail. */
export interface EtcdResolverHandle extends AsyncDisposable {
  readonly scheme: string;
  readonly closed: boolean;
  /** How many services are being watched right now (one watch each, however many channels use it). */
  readonly watchedServices: number;
  /**
   * Listens to the watched services, each once however many channels use it: `update` (its endpoints
   * changed in etcd), `stale` (etcd unreachable; the last known endpoints are kept), `fresh` (current
   * again) and `protected` (a mass-removal hold began; once per hold). Returns a function that
   * unsubscribes. A listener that throws is logged and changes nothing.
   */
  on<E extends keyof ResolverHandleEvents>(event: E, listener: ResolverHandleEvents[E]): () => void;
  /**
   * What the registration knows of `service` now: its endpoints (as etcd lists them, before a target's
   * filters), whether they are `stale`, `listed` and at which revision; undefined while no channel
   * resolves it. A readiness probe can say "not ready" while a service it needs is stale.
   */
  snapshot(service: string): ServiceSnapshot | undefined;
  close(): Promise<void>;
}

const DEFAULT_SCHEME = "etcd";
const SCHEME = /^[a-z][a-z0-9+.-]*$/;
// Schemes grpc-js resolves itself: taking them over would reroute every channel in the process.
const BUILT_IN_SCHEMES = new Set(["dns", "unix", "unix-abstract", "ipv4", "ipv6", "xds", "vsock"]);

const toConsole = consoleLogger();

function invalidOptions(message: string): ResolverError {
  return new ResolverError("INVALID_OPTIONS", message);
}

/** A delay option: 0 to 2^31 − 1 ms, beyond which Node fires a timer after 1 ms. */
function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0 && value <= MAX_TIMER_MS))
    throw invalidOptions(`${name} must be a number of ms from 0 to ${MAX_TIMER_MS}, got ${String(value)}`);
  return value;
}

/**
 * Registers the `etcd` scheme with grpc-js, so that a client created with `etcd:///my-service` sends its
 * calls to the endpoints registered under `my-service/` and follows them as they come and go.
 *
 * Calling it again with the same client and scheme returns the same handle; another client needs another
 * scheme. grpc-js cannot unregister a scheme: after `close()`, channels still open keep their last
 * endpoints and new ones fail to construct with a `CLOSED` error, until the scheme is registered again.
 *
 * @throws {ResolverError} `INVALID_OPTIONS` or `ALREADY_REGISTERED`.
 * @example
 * const etcd = new Etcd3({ hosts: "127.0.0.1:2379" });
 * registerEtcdResolver({ client: etcd });
 * const client = new GreeterClient("etcd:///my-service", grpc.credentials.createInsecure());
 */
export function registerEtcdResolver(options: RegisterEtcdResolverOptions): EtcdResolverHandle {
  const scheme = options.scheme ?? DEFAULT_SCHEME;
  if (typeof scheme !== "string" || !SCHEME.test(scheme)) {
    throw invalidOptions(
      `scheme must be a lower-case URI scheme such as "etcd", got ${JSON.stringify(scheme)}`,
    );
  }
  if (BUILT_IN_SCHEMES.has(scheme))
    throw invalidOptions(`scheme "${scheme}" belongs to grpc-js; choose another`);
  const owner = options.client ?? options.source;
  if (owner === undefined || (options.client !== undefined && options.source !== undefined)) {
    throw invalidOptions("give exactly one of client (an etcd3 client) or source");
  }
  const defaultPolicy = options.defaultLoadBalancing ?? null;
  if (defaultPolicy !== null && !POLICIES.includes(defaultPolicy)) {
    throw invalidOptions(
      `defaultLoadBalancing must be one of ${POLICIES.map((p) => JSON.stringify(p)).join(", ")}, got ${JSON.stringify(defaultPolicy)}`,
    );
  }
  const grpc = options.grpc ?? (grpcJs as unknown as GrpcModule);
  if (typeof grpc?.experimental?.registerResolver !== "function" || typeof grpc.Metadata !== "function") {
    throw invalidOptions("grpc must be the @grpc/grpc-js module (it needs experimental.registerResolver)");
  }
  const minUpdateIntervalMs = positive("minUpdateIntervalMs", options.minUpdateIntervalMs, 100);
  const maxUpdateIntervalMs = positive("maxUpdateIntervalMs", options.maxUpdateIntervalMs, 5_000);
  if (maxUpdateIntervalMs < minUpdateIntervalMs) {
    throw invalidOptions("maxUpdateIntervalMs must not be below minUpdateIntervalMs");
  }
  const coalesceMs = positive("coalesceMs", options.coalesceMs, 5);
  // One seed per process: restarts reshuffle subsets, but a running client keeps its own.
  const subsetSeed = options.subsetSeed ?? processRegistry().subsetSeed;
  const protection = resolveProtection(options.protection, MAX_TIMER_MS, invalidOptions);
  const outlierDetection = resolveOutlierDetection(options.outlierDetection, invalidOptions);
  const settings = JSON.stringify([
    defaultPolicy,
    subsetSeed,
    minUpdateIntervalMs,
    maxUpdateIntervalMs,
    coalesceMs,
    protection,
    outlierDetection,
  ]);

  // Shared by every copy of this package in the process (its ESM and CJS builds): see process-registry.ts.
  const registry = schemesOf(grpc.experimental);
  const existing = registry.get(scheme);
  if (existing !== undefined) {
    if (existing.owner === owner && existing.settings === settings)
      return existing.handle as EtcdResolverHandle;
    throw new ResolverError(
      "ALREADY_REGISTERED",
      existing.owner === owner
        ? `the ${scheme}: scheme is already registered with other options; close it first`
        : `the ${scheme}: scheme is already registered with another etcd client; pass scheme: "…" to register a second one`,
    );
  }

  // Redacting once, here: the watcher takes this logger as it is (and names itself in its lines).
  const logger = redactingLogger(options.logger ?? toConsole, { component: "grpc-js" });
  const clock = options.clock ?? systemClock;
  const source = options.source ?? createEtcd3Source(options.client!, { clock });
  const events = new HandleEvents(logger, invalidOptions);
  const views = new ServiceViews(
    source,
    {
      clock,
      logger,
      coalesceMs,
      ...(options.meterProvider === undefined ? {} : { meterProvider: options.meterProvider }),
    },
    {
      update: (service, update) => events.emit("update", { service, ...update }),
      stale: (service, error) => events.emit("stale", { service, error }),
      fresh: (service) => events.emit("fresh", { service }),
    },
  );
  const resolvers = new Set<{ destroy(): void }>();
  const warned = new Set<string>();
  const weightedPolicy = registerWeightedPolicy(grpc);
  let warnedUnavailable = false;
  let closed = false;
  let closing: Promise<void> | undefined;

  // One warning and one event per service and hold, however many channels of it hold.
  const holds = new Map<string, number>();
  const holding = (service: string, started: HoldStarted) => {
    const now = clock.now();
    if ((holds.get(service) ?? Number.NEGATIVE_INFINITY) > now) return;
    holds.set(service, now + started.holdMs);
    const share = Math.round((started.removed / started.total) * 100);
    // The logger ignores its own failures (it comes from redactingLogger): they never break resolution.
    logger.warn?.(
      { service, removed: started.removed, total: started.total, holdMs: started.holdMs },
      `protecting ${service}: an update would remove ${started.removed} of its ${started.total} endpoints ` +
        `(${share} %) at once; channels keep them for ${started.holdMs} ms before applying it`,
    );
    events.emit("protected", { service, ...started });
  };
  const released = (service: string, why: "expired" | "recovered") => {
    if (!holds.delete(service)) return;
    logger.info?.(
      { service },
      why === "expired"
        ? `${service}: the protection hold ended; channels now use the registry's endpoints`
        : `${service}: the removed endpoints came back; the protection hold ended early`,
    );
  };

  const context: ResolverContext = {
    scheme,
    protection,
    outlierDetection,
    holding,
    released,
    defaultPolicy,
    weightedPolicy,
    clock,
    metrics: resolverMetrics(options.meterProvider),
    // With the system clock, news goes out in a microtask; an injected clock keeps every wait its own.
    defer: options.clock === undefined ? (callback) => queueMicrotask(callback) : null,
    minUpdateIntervalMs,
    maxUpdateIntervalMs,
    subsetSeed,
    get closed() {
      return closed;
    },
    acquire: (service) => views.acquire(service),
    newMetadata: () => new grpc.Metadata(),
    warnInvalidAddress(service, key, addr) {
      const id = `${key}\u0000${addr}`;
      if (warned.has(id)) return;
      // Bounded so a registry full of junk cannot grow this set forever.
      if (warned.size >= 10_000) warned.clear();
      warned.add(id);
      const shown = printableKey(key);
      logger.warn?.(
        { service, key: shown, addr },
        `skipping ${shown}: cannot dial address ${JSON.stringify(addr)}`,
      );
    },
    warnInvalidWeight(service, key, value) {
      const id = `weight\u0000${key}\u0000${value}`;
      if (warned.has(id)) return;
      if (warned.size >= 10_000) warned.clear();
      warned.add(id);
      const shown = printableKey(key);
      logger.warn?.(
        { service, key: shown, weight: value },
        `${shown}: weight ${JSON.stringify(value)} is not a whole number from 1 to ${MAX_WEIGHT}; it counts as 1`,
      );
    },
    weightedUnavailable() {
      if (warnedUnavailable) return;
      warnedUnavailable = true;
      logger.warn?.(
        {},
        "weights and ?prefer= need the experimental load-balancer API of @grpc/grpc-js (1.10 or later), which this grpc module lacks; channels use round_robin",
      );
    },
    warn(service, message, cause) {
      logger.warn?.({ service, err: cause }, message);
    },
    attach: (resolver) => resolvers.add(resolver),
    detach: (resolver) => resolvers.delete(resolver),
  };

  grpc.experimental.registerResolver(scheme, createResolverClass(context) as never);

  const close = (): Promise<void> => {
    if (closing) return closing;
    closed = true;
    for (const resolver of [...resolvers]) resolver.destroy();
    if (registry.get(scheme) === registration) registry.delete(scheme);
    closing = views.close();
    return closing;
  };
  const handle: EtcdResolverHandle = {
    scheme,
    get closed() {
      return closed;
    },
    get watchedServices() {
      return views.size;
    },
    on: (event, listener) => events.on(event, listener),
    snapshot: (service) => views.snapshot(service),
    close,
    [Symbol.asyncDispose]: close,
  };
  const registration: SharedRegistration = { handle, owner, settings };
  registry.set(scheme, registration);
  return handle;
}
