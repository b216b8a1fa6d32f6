import {
  type Attributes,
  type Endpoint,
  encodeEndpoint,
  formatAttributes,
  metadataAttributes,
  printableKey,
} from "@etcd-naming/codec";
import type { LogFields, MeterProviderLike } from "@etcd-naming/etcd";
import type { Etcd3 } from "etcd3";
import { type BackoffOptions, resolveBackoff } from "./backoff.js";
import { type Clock, type RegistrarLogger, redactingLogger, systemClock, withLongTimers } from "./clock.js";
import { RegistrarError } from "./errors.js";
import { formatLeaseId } from "./lease-id.js";
import { type EntryOwner, KeeperEntry, LeaseKeeper } from "./lease-keeper.js";
import { type RegistrarMetrics, registrarMetrics } from "./metrics.js";
import {
  checkAddress,
  checkInput,
  checkMetadata,
  checkService,
  DEFAULT_MAX_TXN_OPS,
  DEFAULT_TTL_SECONDS,
  resolveKey,
  validateTtl,
  warnObjectMetadata,
} from "./validate.js";

/** Options of {@link register}. */
export interface RegisterOptions {
  /** An `etcd3` client; registrations made with the same client and TTL share one lease. */
  client: Etcd3;
  /** Service name, e.g. `"greeter"` or `"prod/eu/greeter"`. */
  service: string;
  /** The address clients dial, e.g. `"10.0.0.5:50051"`. */
  addr: string;
  /** Any JSON value; prefer a string if Go resolvers 3.4.x, 3.5.0-3.5.26 and 3.6.0-3.6.7 read this service. */
  metadata?: unknown;
  /**
   * Attributes, e.g. `{ zone: "a", weight: "3" }`, written as the attribute string (`"weight=3;zone=a"`,
   * see `formatAttributes` in `@etcd-naming/codec`) in `Metadata`: a string every Go resolver can carry, and
   * that `etcd:///svc?zone=a` filters and the watcher's `endpoint.attributes` read. Not with `metadata`.
   */
  attributes?: Readonly<Record<string, string>>;
  /** Full key under `<service>/`. Default `<service>/<addr>`. */
  key?: string;
  /** Lease TTL in seconds (default 10): failover time is about one TTL; keep-alives go every TTL/3. */
  ttl?: number;
  /** Time source for keep-alives, loss detection and backoff. Taken from the first registration of a lease. */
  clock?: Clock;
  /** Backoff of lease re-grants and retried writes. Taken from the first registration of a lease. */
  backoff?: BackoffOptions;
  /**
   * Receives warnings (object metadata; a `lost` or `error` event nobody listens to) and `info` (a
   * `reregistered` event nobody listens to): pino's and bunyan's `(fields, message)` shape, so `pino()`,
   * a bunyan logger or `console` plug in as they are. Default: warnings to `console.warn`. The lease's
   * own lines go to the logger of its first registration; each registration's lines go to its own.
   */
  logger?: RegistrarLogger;
  /**
   * Where the metrics go (`etcd_naming.registrar.*`): an OpenTelemetry `MeterProvider`. Default: the
   * global one registered through `@opentelemetry/api`, if any; without one nothing is recorded. The
   * lease's own metrics (leases held, keep-alive round trips) go to its first registration's.
   */
  meterProvider?: MeterProviderLike;
}

/** Events of a {@link Registration}. */
export interface RegistrationEvents {
  /** The lease expired or was revoked; the key may be gone until `reregistered`. */
  lost: (error: RegistrarError) => void;
  /** The key is back in etcd under a new lease. */
  reregistered: (leaseId: string) => void;
  /** Something failed that the registration cannot fix alone (it keeps retrying). */
  error: (error: RegistrarError) => void;
  /**
   * The endpoint is out of rotation: its key is deleted, its lease and keep-alive stay. By `pause()`, or
   * by another process (`etcd-naming pause`) through the pause marker.
   */
  paused: () => void;
  /** The endpoint is served again (its key is back), by `resume()` or another process. */
  resumed: () => void;
}

type Listener = (...args: never[]) => void;

const keepers = new WeakMap<Etcd3, Map<number, LeaseKeeper>>();

function keeperFor(client: Etcd3, ttl: number, options: RegisterOptions): LeaseKeeper {
  let byTtl = keepers.get(client);
  if (byTtl === undefined) {
    byTtl = new Map();
    keepers.set(client, byTtl);
  }
  const existing = byTtl.get(ttl);
  if (existing !== undefined && !existing.isClosing) return existing;
  const map = byTtl;
  const clock = withLongTimers(options.clock ?? systemClock);
  const metrics = registrarMetrics(options.meterProvider);
  const keeper: LeaseKeeper = new LeaseKeeper(
    client,
    ttl,
    {
      clock,
      logger: redactingLogger(options.logger),
      backoff: resolveBackoff(options.backoff, ttl, clock.random),
      maxTxnOps: DEFAULT_MAX_TXN_OPS,
      metrics,
    },
    () => {
      if (map.get(ttl) === keeper) map.delete(ttl);
    },
  );
  map.set(ttl, keeper);
  const unobserve = metrics?.observe({
    get holdsLease() {
      return keeper.currentLeaseId !== undefined;
    },
  });
  if (unobserve !== undefined) void keeper.closed.then(unobserve);
  return keeper;
}

/**
 * A key kept in etcd for as long as this process wants to be discoverable. Obtained from
 * {@link register}; ends with {@link Registration.deregister} (or `await using`).
 */
export class Registration implements AsyncDisposable {
  readonly key: string;
  readonly service: string;
  readonly addr: string;
  private currentMetadata: unknown;
  private readonly listeners = new Map<keyof RegistrationEvents, Set<Listener>>();
  private readonly entry: KeeperEntry;
  private deregistering: Promise<void> | undefined;

  /** @internal Use {@link register}. */
  constructor(
    private readonly keeper: LeaseKeeper,
    service: string,
    addr: string,
    key: string,
    metadata: unknown,
    private readonly logger: RegistrarLogger,
    metrics?: RegistrarMetrics,
  ) {
    this.key = key;
    this.service = service;
    this.addr = addr;
    this.currentMetadata = metadata;
    const owner: EntryOwner = {
      lost: (error) => {
        // The lease the key was written under, until the re-put under the next one.
        const lease = this.leaseIdHex;
        metrics?.lost(service);
        this.emit("lost", error, () => this.log("warn", { lease }, error.message));
      },
      reregistered: (leaseId) => {
        const lease = formatLeaseId(leaseId);
        metrics?.reregistered(service);
        this.emit("reregistered", leaseId, () =>
          this.log("info", { lease }, `re-registered under lease ${lease}`),
        );
      },
      error: (error) => this.emit("error", error, () => this.log("warn", { err: error }, String(error))),
      pauseChanged: (paused) => this.emit(paused ? "paused" : "resumed", undefined),
    };
    this.entry = new KeeperEntry(key, service, encode(addr, metadata), owner);
  }

  /** @internal */
  start(): Promise<void> {
    return this.keeper.add(this.entry);
  }

  /**
   * The lease the key is attached to (a decimal string: lease ids are 64-bit). Besides `reregistered`,
   * it also changes quietly when the key is moved to a new lease after an election that left a member
   * silent, with no `lost` (the key stays in etcd throughout).
   */
  get leaseId(): string {
    return this.entry.leaseId ?? "0";
  }

  /**
   * {@link leaseId} the way etcdctl prints and takes it: 16 hex digits (`694da20c8de24042`), for messages
   * and for `etcdctl lease timetolive`. `leaseId` stays decimal, the form etcd3's API takes.
   */
  get leaseIdHex(): string {
    return formatLeaseId(this.leaseId);
  }

  get metadata(): unknown {
    return this.currentMetadata;
  }

  /** The attributes the metadata carries (an attribute string, or an object's fields); empty otherwise. */
  get attributes(): Attributes {
    return metadataAttributes(this.currentMetadata).attributes;
  }

  /** True while the registration is paused (from `pause()` or another process until `resume()`). */
  get paused(): boolean {
    return this.entry.paused;
  }

  /** True once `deregister()` has been called. */
  get deregistered(): boolean {
    return this.deregistering !== undefined;
  }

  /** Replaces the metadata (validated first); resolves once etcd has the new value. */
  async setMetadata(metadata: unknown): Promise<void> {
    if (this.deregistering !== undefined) {
      throw new RegistrarError("DEREGISTERED", `${this.key} is deregistered`);
    }
    checkMetadata(metadata);
    const value = encode(this.addr, metadata);
    warnObjectMetadata(this.logger, this.service, this.key, metadata);
    this.currentMetadata = metadata;
    await this.keeper.update(this.entry, value);
  }

  /** Replaces the attributes: writes them as the attribute string in `Metadata` (see `setMetadata`). */
  async setAttributes(attributes: Readonly<Record<string, string>>): Promise<void> {
    await this.setMetadata(checkInput("attributes", () => formatAttributes(attributes)));
  }

  /**
   * Takes the endpoint out of rotation while the process, its lease and keep-alive stay: the key is
   * deleted (Node and Go clients alike stop picking it as soon as their resolver sees the delete) and a
   * pause marker (`/etcd-naming/paused/<key>`, on the same lease) records the pause, so `etcd-naming list`
   * shows it and a lost lease is re-registered paused. Resolves once etcd holds it; pausing a paused
   * registration is a no-op. `resume()` undoes it.
   */
  pause(): Promise<void> {
    return this.setPaused(true);
  }

  /** Puts the key back under the same lease (and deletes the marker); a no-op unless paused. */
  resume(): Promise<void> {
    return this.setPaused(false);
  }

  private async setPaused(paused: boolean): Promise<void> {
    if (this.deregistering !== undefined) {
      throw new RegistrarError("DEREGISTERED", `${this.key} is deregistered`);
    }
    await this.keeper.setPaused(this.entry, paused);
  }

  /**
   * Deletes the key now (watchers see it go at once) and, if this was the lease's last registration,
   * revokes the lease and stops its keep-alive. Idempotent: later calls return the same promise.
   * While etcd is unreachable the delete is retried with backoff; it rejects only when etcd refuses it
   * or when the lease's last registration is gone, whose keys then expire with the lease within the TTL.
   */
  deregister(): Promise<void> {
    this.deregistering ??= this.keeper.remove(this.entry);
    return this.deregistering;
  }

  /** Same as {@link Registration.deregister}. */
  close(): Promise<void> {
    return this.deregister();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.deregister();
  }

  on<E extends keyof RegistrationEvents>(event: E, listener: RegistrationEvents[E]): this {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener);
    return this;
  }

  off<E extends keyof RegistrationEvents>(event: E, listener: RegistrationEvents[E]): this {
    this.listeners.get(event)?.delete(listener as Listener);
    return this;
  }

  once<E extends keyof RegistrationEvents>(event: E, listener: RegistrationEvents[E]): this {
    const wrapper = ((...args: never[]) => {
      this.off(event, wrapper as RegistrationEvents[E]);
      (listener as Listener)(...args);
    }) as RegistrationEvents[E];
    return this.on(event, wrapper);
  }

  /** A line of this registration's, with its service and key; silent after `deregister()`. */
  private log(level: "info" | "warn", fields: LogFields, message: string): void {
    if (this.deregistering !== undefined) return;
    const key = printableKey(this.key);
    this.logger[level]?.({ service: this.service, key, ...fields }, `registration ${key}: ${message}`);
  }

  /**
   * Never synchronous (the keeper may be mid-transaction), and silent after `deregister()`. An event
   * nobody listens to goes to the logger instead (`unheard`).
   */
  private emit<E extends keyof RegistrationEvents>(
    event: E,
    arg: Parameters<RegistrationEvents[E]>[0],
    unheard?: () => void,
  ): void {
    queueMicrotask(() => {
      if (this.deregistering !== undefined) return;
      const set = this.listeners.get(event);
      if (set === undefined || set.size === 0) {
        unheard?.();
        return;
      }
      for (const listener of [...set]) {
        try {
          (listener as (value: typeof arg) => void)(arg);
        } catch (error) {
          this.log("warn", { err: error }, `a "${event}" listener threw: ${String(error)}`);
        }
      }
    });
  }
}

function encode(addr: string, metadata: unknown): string {
  const endpoint: Endpoint = metadata === undefined ? { addr } : { addr, metadata };
  return checkInput("endpoint", () => encodeEndpoint(endpoint));
}

/** The metadata to write: `metadata` as given, or `attributes` as the attribute string. */
function metadataOption(options: RegisterOptions): unknown {
  if (options.attributes === undefined) return options.metadata;
  if (options.metadata !== undefined) {
    throw new RegistrarError(
      "INVALID_INPUT",
      "pass either metadata or attributes, not both: attributes are written as the metadata string",
    );
  }
  return checkInput("attributes", () => formatAttributes(options.attributes!));
}

/**
 * Makes this process discoverable: puts `<service>/<addr>` (Go's value format) with a lease and keeps
 * the lease alive, re-granting it and re-putting the key if it is ever lost. Input is validated before
 * anything is written.
 *
 * @example
 * const reg = await register({ client, service: "greeter", addr: "10.0.0.5:50051" });
 * drainOnSignals(reg, { grace: 5_000, close: () => server.tryShutdown(() => client.close()) });
 */
export async function register(options: RegisterOptions): Promise<Registration> {
  if (typeof options !== "object" || options === null) {
    throw new RegistrarError("INVALID_INPUT", "register() needs an options object");
  }
  const { client } = options;
  if (typeof client !== "object" || client === null || !("leaseClient" in client)) {
    throw new RegistrarError("INVALID_INPUT", "client must be an etcd3 Etcd3 instance");
  }
  const service = checkService(options.service);
  const addr = checkAddress(options.addr);
  const metadata = metadataOption(options);
  checkMetadata(metadata);
  const ttl = validateTtl(options.ttl ?? DEFAULT_TTL_SECONDS);
  // Checked here too: only the first registration of a lease builds the keeper that uses it.
  resolveBackoff(options.backoff, ttl);
  const key = resolveKey(service, addr, options.key);
  const logger = redactingLogger(options.logger);
  const keeper = keeperFor(client, ttl, options);
  const metrics = registrarMetrics(options.meterProvider);
  const registration = new Registration(keeper, service, addr, key, metadata, logger, metrics);
  warnObjectMetadata(logger, service, key, metadata);
  await registration.start();
  return registration;
}
