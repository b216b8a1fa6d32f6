import type { Logger } from "@etcd-naming/etcd";
import type { EndpointsUpdate, WatcherError } from "@etcd-naming/watcher";

/** A hold began: `removed` of the `total` endpoints a channel had would have gone at once. */
export interface ProtectedEvent {
  service: string;
  removed: number;
  total: number;
  /** How long the removed endpoints are kept. */
  holdMs: number;
}

/** A watched service's set changed (or was listed for the first time): the watcher's update, named. */
export interface ServiceUpdateEvent extends EndpointsUpdate {
  readonly service: string;
}

/** A watched service lost etcd: its channels keep the last known endpoints. */
export interface ServiceStaleEvent {
  readonly service: string;
  readonly error: WatcherError;
}

/** A watched service is current again. */
export interface ServiceFreshEvent {
  readonly service: string;
}

/** The events of an {@link EtcdResolverHandle}, one per watched service (however many channels use it). */
export interface ResolverHandleEvents {
  /** The service's endpoints changed in etcd (before channels hear of it, which may be later: spacing). */
  update: (event: ServiceUpdateEvent) => void;
  /** etcd became unreachable for the service; its channels keep the last known endpoints. */
  stale: (event: ServiceStaleEvent) => void;
  /** etcd is reachable again and the service's set is being kept current. */
  fresh: (event: ServiceFreshEvent) => void;
  /** Mass-removal protection began holding endpoints of the service (once per hold). */
  protected: (event: ProtectedEvent) => void;
}

const NAMES: readonly (keyof ResolverHandleEvents)[] = ["update", "stale", "fresh", "protected"];

/** The listeners of a resolver handle; a listener that throws is logged and never breaks resolution. */
export class HandleEvents {
  readonly #listeners: { [E in keyof ResolverHandleEvents]: Set<ResolverHandleEvents[E]> } = {
    update: new Set(),
    stale: new Set(),
    fresh: new Set(),
    protected: new Set(),
  };

  constructor(
    private readonly logger: Logger,
    private readonly invalid: (message: string) => Error,
  ) {}

  on<E extends keyof ResolverHandleEvents>(event: E, listener: ResolverHandleEvents[E]): () => void {
    if (!NAMES.includes(event)) throw this.invalid(`unknown event ${JSON.stringify(event)}`);
    if (typeof listener !== "function") throw this.invalid(`the ${event} listener must be a function`);
    const listeners = this.#listeners[event] as Set<ResolverHandleEvents[E]>;
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
    };
  }

  emit<E extends keyof ResolverHandleEvents>(
    event: E,
    payload: Parameters<ResolverHandleEvents[E]>[0],
  ): void {
    const listeners = this.#listeners[event] as Set<(payload: unknown) => void>;
    if (listeners.size === 0) return;
    for (const listener of [...listeners]) {
      try {
        listener(payload);
      } catch (error) {
        this.logger.warn?.({ service: payload.service, err: error }, `a "${event}" listener threw`);
      }
    }
  }
}
