import { keyFromBytes, servicePrefix } from "@etcd-naming/codec";
import { PrefixLister, ResumableWatch } from "@etcd-naming/etcd";
import type { Etcd3 } from "etcd3";
import { backoffDelay, type ResolvedBackoff } from "./backoff.js";
import type { Clock, RegistrarLogger } from "./clock.js";
import type { KeeperEntry } from "./keeper-entry.js";

/** What the delete watches need from the lease keeper. */
export interface DeleteWatchOwner {
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
  /** Wakes the write loop: an entry became dirty. */
  kick(): void;
}

/**
 * One delete-only watch per service prefix, so the registration stays the source of truth: a key
 * deleted after our last write, by anyone but us, is put back (unless the entry is paused). A watch that etcd ends (a compaction
 * past its resume point, a cancel) is replaced after a re-list that marks whatever vanished meanwhile.
 */
export class DeleteWatches {
  private readonly watches = new Map<string, ResumableWatch>();
  private lister: PrefixLister | undefined;

  constructor(private readonly owner: DeleteWatchOwner) {}

  /** Watches `service` from `fromRevision` unless it is watched already. */
  ensure(service: string, fromRevision: bigint): void {
    if (this.watches.has(service)) return;
    const prefix = servicePrefix(service);
    const watch: ResumableWatch = new ResumableWatch(this.owner.client, prefix, fromRevision, {
      deletesOnly: true,
      onEvents: (events) => {
        for (const event of events) this.deleted(keyFromBytes(event.kv.key), event.revision);
      },
      onError: (error) => {
        if (this.watches.get(service) !== watch) return;
        this.watches.delete(service);
        void watch.close();
        this.owner.logger.warn(`etcd-naming: delete watch on ${prefix} failed, re-listing: ${String(error)}`);
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

  /**
   * Deletes at or before our last write are history (e.g. the old lease expiring during an outage
   * before the re-put), not news.
   */
  private deleted(key: string, revision: bigint): void {
    const entry = this.owner.entry(key);
    // A paused entry's key is meant to be absent (deleted by our own pause write).
    if (entry === undefined || entry.dirty || entry.paused || entry.putRevision === undefined) return;
    if (revision <= entry.putRevision) return;
    entry.dirty = true;
    this.owner.kick();
  }

  /** After a watch had to be re-created: re-put whatever vanished meanwhile, then watch from here on. */
  private async resync(service: string): Promise<void> {
    for (let attempt = 0; !this.owner.isClosing; attempt += 1) {
      try {
        this.lister ??= new PrefixLister(this.owner.client, {
          timeoutMs: this.owner.requestTimeoutMs,
          viaClient: true,
        });
        const listing = await this.lister.list(servicePrefix(service), { keysOnly: true });
        // Shut down, or the service deregistered, while the range was in flight: a watch opened now
        // would be closed by nobody (and keep the process alive).
        const live = this.owner.entriesOf(service);
        if (this.owner.isClosing || live.length === 0) return;
        const present = new Set(listing.kvs.map((kv) => keyFromBytes(kv.key)));
        for (const entry of live) {
          if (entry.registered && !entry.paused && !present.has(entry.key)) entry.dirty = true;
        }
        this.ensure(service, BigInt(listing.revision) + 1n);
        this.owner.kick();
        return;
      } catch {
        await new Promise<void>((resolve) =>
          this.owner.clock.setTimeout(resolve, backoffDelay(attempt, this.owner.backoff)),
        );
      }
    }
  }
}
