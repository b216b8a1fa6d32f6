import { keyFromBytes } from "@etcd-naming/codec";
import { PrefixLister, type PrefixListing, ResumableWatch, type WatchEvent } from "@etcd-naming/etcd";
import type { Etcd3 } from "etcd3";
import { backoffDelay, type ResolvedBackoff } from "./backoff.js";
import type { Clock, RegistrarLogger } from "./clock.js";
import type { KeeperEntry } from "./keeper-entry.js";

/** What the lease keeper's per-service watches need from it. */
export interface ServiceWatchOwner {
  readonly client: Etcd3;
  readonly clock: Clock;
  readonly logger: RegistrarLogger;
  readonly backoff: ResolvedBackoff;
  readonly requestTimeoutMs: number;
  readonly isClosing: boolean;
  /** The live entry of `key`. */
  entry(key: string): KeeperEntry | undefined;
  /** The live entries of `service`. */
  entriesOf(service: string): KeeperEntry[];
}

/** How one kind of per-service watch reads etcd. */
export interface ServiceWatchKind {
  /** Named in the warning when a watch fails ("delete", "pause"). */
  readonly name: string;
  /** The prefix watched for `service`. */
  prefix(service: string): string;
  /** Only deletes (etcd filters the puts out); the re-list then reads keys only. */
  readonly deletesOnly: boolean;
  /** Each response's events. */
  events(events: readonly WatchEvent[]): void;
  /** A re-list after a watch had to be re-created: catch up on what happened meanwhile. */
  relisted(service: string, listing: PrefixListing): void;
  /** An error after which the service is not watched again by this keeper (e.g. a refused read). */
  stops?(error: unknown): boolean;
}

/**
 * One resumable watch per service of the lease keeper's entries. A watch that etcd ends (a compaction past
 * its resume point, a cancel) is replaced after a re-list from which the kind catches up; a watch whose
 * error `stops` it is never opened again for that service.
 */
export class ServiceWatches {
  private readonly watches = new Map<string, ResumableWatch>();
  private readonly stopped = new Set<string>();
  private lister: PrefixLister | undefined;

  constructor(
    private readonly owner: ServiceWatchOwner,
    private readonly kind: ServiceWatchKind,
  ) {}

  /** Watches `service` from `fromRevision` unless it is watched already. */
  ensure(service: string, fromRevision: bigint): void {
    if (this.watches.has(service) || this.stopped.has(service)) return;
    const prefix = this.kind.prefix(service);
    const watch: ResumableWatch = new ResumableWatch(this.owner.client, prefix, fromRevision, {
      deletesOnly: this.kind.deletesOnly,
      clock: this.owner.clock,
      // The registration's backoff, with its own `random`, as every other retry of the keeper.
      retryDelayMs: (attempt) => backoffDelay(attempt, this.owner.backoff),
      onEvents: (events) => this.kind.events(events),
      onError: (error) => {
        if (this.watches.get(service) !== watch) return;
        this.watches.delete(service);
        void watch.close();
        if (this.kind.stops?.(error)) {
          this.stopped.add(service);
          return;
        }
        this.owner.logger.warn?.(
          { service, err: error },
          `${this.kind.name} watch on ${prefix} failed, re-listing: ${String(error)}`,
        );
        void this.resync(service);
      },
    });
    this.watches.set(service, watch);
  }

  /** Stops the watches of services that no longer have an entry. */
  closeUnused(): void {
    for (const [service, watch] of this.watches) {
      if (this.owner.entriesOf(service).length > 0) continue;
      this.watches.delete(service);
      void watch.close();
    }
  }

  closeAll(): void {
    for (const watch of this.watches.values()) void watch.close();
    this.watches.clear();
  }

  /** After a watch had to be re-created: catch up from a listing, then watch from its revision on. */
  private async resync(service: string): Promise<void> {
    for (let attempt = 0; !this.owner.isClosing; attempt += 1) {
      try {
        this.lister ??= new PrefixLister(this.owner.client, {
          timeoutMs: this.owner.requestTimeoutMs,
          viaClient: true,
        });
        const listing = await this.lister.list(this.kind.prefix(service), {
          keysOnly: this.kind.deletesOnly,
        });
        // Shut down, or the service deregistered, while the range was in flight: a watch opened now
        // would be closed by nobody (and keep the process alive).
        if (this.owner.isClosing || this.owner.entriesOf(service).length === 0) return;
        this.kind.relisted(service, listing);
        this.ensure(service, BigInt(listing.revision) + 1n);
        return;
      } catch (error) {
        if (this.kind.stops?.(error)) {
          this.stopped.add(service);
          return;
        }
        await new Promise<void>((resolve) =>
          this.owner.clock.setTimeout(resolve, backoffDelay(attempt, this.owner.backoff)),
        );
      }
    }
  }
}

/** The keys of a listing, as the entries name them. */
export function listedKeys(listing: PrefixListing): Set<string> {
  return new Set(listing.kvs.map((kv) => keyFromBytes(kv.key)));
}
