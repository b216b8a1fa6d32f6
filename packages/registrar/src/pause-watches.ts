import { decodePauseMarker, endpointKeyOfMarker, keyFromBytes, pauseMarkerPrefix } from "@etcd-naming/codec";
import { PrefixLister, ResumableWatch } from "@etcd-naming/etcd";
import { type Etcd3, EtcdPermissionDeniedError } from "etcd3";
import { backoffDelay, type ResolvedBackoff } from "./backoff.js";
import type { Clock, RegistrarLogger } from "./clock.js";
import type { KeeperEntry } from "./keeper-entry.js";

/** What the pause watches need from the lease keeper. */
export interface PauseWatchOwner {
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
  /** Another process asks for `entry` to be paused (`true`) or served again (`false`). */
  requested(entry: KeeperEntry, paused: boolean): void;
}

/** Whether etcd refused a watch or a range for lack of a permission. */
function isDenied(error: unknown): boolean {
  return error instanceof EtcdPermissionDeniedError || /permission denied/i.test(String(error));
}

/**
 * One watch per service on its pause markers (`/etcd-naming/paused/<service>/`), so that another process
 * (`etcd-naming pause`/`resume`) can pause and resume the registrations of this one: a marker put after our
 * last pause-state write of an entry is a request. Marker deletions are ignored: they are our own
 * resume, or the marker going with its lease, which the lease keeper handles as a lost lease. A role that
 * may not read the markers gets no watch (a registration needs only `readwrite` on its service prefix);
 * pausing from another process then does not reach it.
 */
export class PauseWatches {
  private readonly watches = new Map<string, ResumableWatch>();
  /** Services whose markers this client may not read: never watched again by this keeper. */
  private readonly denied = new Set<string>();
  private lister: PrefixLister | undefined;

  constructor(private readonly owner: PauseWatchOwner) {}

  /** Watches the markers of `service` from `fromRevision` unless they are watched already. */
  ensure(service: string, fromRevision: bigint): void {
    if (this.watches.has(service) || this.denied.has(service)) return;
    const prefix = pauseMarkerPrefix(service);
    const watch: ResumableWatch = new ResumableWatch(this.owner.client, prefix, fromRevision, {
      onEvents: (events) => {
        for (const event of events) {
          if (event.type === "put") this.marker(keyFromBytes(event.kv.key), event.kv.value, event.revision);
        }
      },
      onError: (error) => {
        if (this.watches.get(service) !== watch) return;
        this.watches.delete(service);
        void watch.close();
        if (isDenied(error)) {
          this.denied.add(service);
          return;
        }
        this.owner.logger.warn(`etcd-naming: pause watch on ${prefix} failed, re-listing: ${String(error)}`);
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

  /** A marker put at `revision`: a request when it is newer than our own last pause-state write. */
  private marker(markerKey: string, value: Uint8Array, revision: bigint): void {
    const key = endpointKeyOfMarker(markerKey);
    const entry = key === undefined ? undefined : this.owner.entry(key);
    if (entry === undefined || entry.stateRevision === undefined || revision <= entry.stateRevision) return;
    const marker = decodePauseMarker(value);
    if (marker === undefined) {
      this.owner.logger.warn(
        `etcd-naming: ignoring the unreadable pause marker ${markerKey} (expected {"state":"paused"} or {"state":"resumed"})`,
      );
      return;
    }
    if (entry.writing) entry.hold(revision, marker.state === "paused");
    else this.owner.requested(entry, marker.state === "paused");
  }

  /** After a watch had to be re-created: apply the markers written meanwhile, then watch from here on. */
  private async resync(service: string): Promise<void> {
    for (let attempt = 0; !this.owner.isClosing; attempt += 1) {
      try {
        this.lister ??= new PrefixLister(this.owner.client, {
          timeoutMs: this.owner.requestTimeoutMs,
          viaClient: true,
        });
        const listing = await this.lister.list(pauseMarkerPrefix(service));
        if (this.owner.isClosing || this.owner.entriesOf(service).length === 0) return;
        for (const kv of listing.kvs) this.marker(keyFromBytes(kv.key), kv.value, BigInt(kv.mod_revision));
        this.ensure(service, BigInt(listing.revision) + 1n);
        return;
      } catch (error) {
        if (isDenied(error)) {
          this.denied.add(service);
          return;
        }
        await new Promise<void>((resolve) =>
          this.owner.clock.setTimeout(resolve, backoffDelay(attempt, this.owner.backoff)),
        );
      }
    }
  }
}
