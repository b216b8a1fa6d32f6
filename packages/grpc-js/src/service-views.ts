import {
  type EndpointsUpdate,
  type NamingSource,
  type ServiceSnapshot,
  type ServiceWatcher,
  type WatcherError,
  type WatchServiceOptions,
  watchService,
} from "@etcd-naming/watcher";
import { AddressCache } from "./address-cache.js";

/** A resolver's share of its service's watcher view; release it once, when done. */
export interface ViewShare {
  /** The watcher view every channel of the service reads and subscribes to. */
  readonly view: ServiceWatcher;
  /** Why etcd is unreachable while the view is stale, also when it went stale before this share was taken. */
  readonly cause: Error | undefined;
  /** The service's parsed addresses, shared by its channels (each selection's own when absent). */
  readonly addresses?: AddressCache;
  release(): void;
}

/** What the registration hears from every service view, named by service. */
export interface ViewObserver {
  update(service: string, update: EndpointsUpdate): void;
  stale(service: string, error: WatcherError): void;
  fresh(service: string): void;
}

interface Entry {
  readonly view: ServiceWatcher;
  readonly addresses: AddressCache;
  users: number;
  cause: Error | undefined;
}

/**
 * One watcher view per service for all channels of a registration. The watcher already shares the etcd
 * watch between views; what it does not do is what this adds. One view per channel would mean a diff,
 * a coalescing timer and a copy of the set per channel (1,000 channels on one target is a tested case)
 * and every watcher warning logged once per channel; and a channel opened during an outage would not
 * learn its cause, since `stale` is emitted only when the view goes stale. So the channels of a service
 * share one view, counted here and closed with its last user or with the registration.
 */
export class ServiceViews {
  readonly #source: NamingSource;
  readonly #options: WatchServiceOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #closing = new Set<Promise<void>>();
  #closed = false;

  readonly #observer: ViewObserver | undefined;

  constructor(source: NamingSource, options: WatchServiceOptions, observer?: ViewObserver) {
    this.#source = source;
    this.#options = options;
    this.#observer = observer;
  }

  /** The view's snapshot of `service`, if it is watched. */
  snapshot(service: string): ServiceSnapshot | undefined {
    return this.#entries.get(service)?.view.snapshot();
  }

  /** How many services are being watched right now. */
  get size(): number {
    return this.#entries.size;
  }

  acquire(service: string): ViewShare {
    if (this.#closed) throw new Error("the registration's service views are closed");
    let entry = this.#entries.get(service);
    if (entry === undefined) {
      entry = this.#open(service);
      this.#entries.set(service, entry);
    }
    const current = entry;
    current.users++;
    let released = false;
    return {
      view: current.view,
      addresses: current.addresses,
      get cause() {
        return current.cause;
      },
      release: () => {
        if (released) return;
        released = true;
        current.users--;
        if (current.users > 0 || this.#entries.get(service) !== current) return;
        this.#entries.delete(service);
        this.#stop(current.view);
      },
    };
  }

  /** Stops every view; later `acquire` calls throw. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#entries.values()) this.#stop(entry.view);
    this.#entries.clear();
    await Promise.all(this.#closing);
  }

  #open(service: string): Entry {
    const entry: Entry = {
      view: watchService(this.#source, service, this.#options),
      addresses: new AddressCache(),
      users: 0,
      cause: undefined,
    };
    // Subscribed before any resolver, so the cause is set when a resolver hears of the outage.
    entry.view.on("stale", (error) => {
      entry.cause = error;
      this.#observer?.stale(service, error);
    });
    entry.view.on("fresh", () => {
      entry.cause = undefined;
      this.#observer?.fresh(service);
    });
    const observer = this.#observer;
    if (observer !== undefined) entry.view.on("update", (update) => observer.update(service, update));
    return entry;
  }

  #stop(view: ServiceWatcher): void {
    const done = view.close().finally(() => this.#closing.delete(done));
    this.#closing.add(done);
  }
}
