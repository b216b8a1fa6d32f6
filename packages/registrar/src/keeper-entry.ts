import type { Deferred } from "./deferred.js";
import type { RegistrarError } from "./errors.js";

/** How a keeper reports back to the registration that owns an entry. */
export interface EntryOwner {
  lost(error: RegistrarError): void;
  reregistered(leaseId: string): void;
  error(error: RegistrarError): void;
}

/** A caller waiting for a value of an entry (or a later one) to be in etcd. */
export interface Waiter {
  readonly version: number;
  readonly done: Deferred<void>;
}

/** One registered key: the desired state the lease keeper keeps true in etcd. */
export class KeeperEntry {
  /** Needs a (re-)put under the current lease. */
  dirty = true;
  /** The first write succeeded: from then on failures are retried instead of reported. */
  registered = false;
  /** `lost` was emitted and `reregistered` is owed. */
  lost = false;
  /** Bumped by every value change, so a waiter resolves only once its own value is written. */
  version = 0;
  /** Store revision of our last write; deletes at or before it are history, not news. */
  putRevision: bigint | undefined;
  leaseId: string | undefined;
  waiters: Waiter[] = [];

  constructor(
    readonly key: string,
    readonly service: string,
    public value: string,
    readonly owner: EntryOwner,
  ) {}

  /** Rejects every waiter with `error`. */
  rejectWaiters(error: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.done.reject(error);
  }

  /**
   * Value `version` is in etcd under `leaseId` at `revision`: resolve the waiters it satisfies, and tell
   * the owner when this write ends a loss.
   */
  written(leaseId: string, revision: bigint, version: number): void {
    this.putRevision = revision;
    this.leaseId = leaseId;
    this.registered = true;
    this.waiters = this.waiters.filter((waiter) => {
      if (waiter.version > version) return true;
      waiter.done.resolve();
      return false;
    });
    if (this.lost) {
      this.lost = false;
      this.owner.reregistered(leaseId);
    }
  }
}
