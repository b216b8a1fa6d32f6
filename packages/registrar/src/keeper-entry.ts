import { encodePauseMarker, pauseMarkerKey, pauseMarkerPrefix, servicePrefix } from "@etcd-naming/codec";
import type { IRequestOp } from "etcd3";
import type { Deferred } from "./deferred.js";
import { permissionDenied, type RegistrarError } from "./errors.js";
import { deleteOp, putOp } from "./txn.js";

/** How a keeper reports back to the registration that owns an entry. */
export interface EntryOwner {
  lost(error: RegistrarError): void;
  reregistered(leaseId: string): void;
  error(error: RegistrarError): void;
  /** etcd now holds the entry paused (`true`: key deleted, marker put) or served again (`false`). */
  pauseChanged(paused: boolean): void;
}

/** A caller waiting for a value of an entry (or a later one) to be in etcd. */
export interface Waiter {
  readonly version: number;
  readonly done: Deferred<void>;
}

/** What one write of an entry set out to do: its version and pause state when the write was sent. */
export interface WritePlan {
  readonly version: number;
  readonly paused: boolean;
  readonly marked: boolean;
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
  /** Desired: out of rotation, the key deleted and the pause marker put under the lease instead. */
  paused = false;
  /** A marker of ours may be in etcd: the next write of the entry served deletes it. */
  marked = false;
  /**
   * Revision of our last write that set the pause state in etcd (the first write included): a marker
   * event at or before it is history, not a request of another process.
   */
  stateRevision: bigint | undefined;
  /** A write of the entry is in flight: marker events wait for its revision (see `hold`). */
  writing = false;
  /** The pause state etcd holds after our last write (what `pauseChanged` last reported). */
  private pausedInEtcd = false;
  /** The latest marker request that arrived while a write was in flight. */
  private held: { revision: bigint; paused: boolean } | undefined;

  constructor(
    readonly key: string,
    readonly service: string,
    public value: string,
    readonly owner: EntryOwner,
  ) {}

  /**
   * Asks for the entry to be paused or served; true when a write is owed (the caller then waits for the
   * current version), false when etcd already holds that state.
   */
  want(paused: boolean): boolean {
    if (this.paused === paused) return this.dirty || this.waiters.length > 0;
    this.paused = paused;
    this.version += 1;
    this.dirty = true;
    return true;
  }

  /**
   * A marker put at `revision` while a write of ours was in flight: it may be that write's own marker,
   * whose revision is not known yet, so it is decided once the write has landed (`released`).
   */
  hold(revision: bigint, paused: boolean): void {
    if (this.held === undefined || revision > this.held.revision) this.held = { revision, paused };
  }

  /** The held request, if it is newer than our last pause-state write: the state it asks for. */
  released(): boolean | undefined {
    const held = this.held;
    this.held = undefined;
    if (held === undefined || (this.stateRevision !== undefined && held.revision <= this.stateRevision)) {
      return undefined;
    }
    return held.paused;
  }

  /** The key of the entry's pause marker. */
  get markerKey(): string {
    return pauseMarkerKey(this.key);
  }

  /** What a write sent now sets out to do. */
  plan(): WritePlan {
    return { version: this.version, paused: this.paused, marked: this.marked };
  }

  /** The operations of one write, all under `lease`: served, the key (and no marker); paused, the marker and no key. */
  ops(plan: WritePlan, lease: string): IRequestOp[] {
    if (plan.paused) {
      return [
        putOp(this.markerKey, encodePauseMarker({ state: "paused", value: this.value }), lease),
        deleteOp(this.key),
      ];
    }
    const put = putOp(this.key, this.value, lease);
    return plan.marked ? [put, deleteOp(this.markerKey)] : [put];
  }

  /** The number of operations `ops` gives for the current state. */
  get opCount(): number {
    return this.paused || this.marked ? 2 : 1;
  }

  /**
   * etcd's RBAC refused the write of `plan`: the error names the prefixes it needs. A pause the role
   * cannot write is given up, so the entry stays served.
   */
  refused(plan: WritePlan, cause: unknown): RegistrarError {
    const prefix = servicePrefix(this.service);
    if (!plan.paused && !plan.marked) return permissionDenied(`writing ${this.key}`, prefix, cause);
    if (plan.paused && !plan.marked && this.paused) this.want(false);
    const what = plan.paused ? `pausing ${this.key}` : `resuming ${this.key}`;
    return permissionDenied(what, `${prefix} and ${pauseMarkerPrefix(this.service)}`, cause);
  }

  /** Rejects every waiter with `error`. */
  rejectWaiters(error: unknown): void {
    for (const waiter of this.waiters.splice(0)) waiter.done.reject(error);
  }

  /** The write of `plan` landed at `revision` (whatever lease the keeper now has): note the pause state. */
  stateWritten(plan: WritePlan, revision: bigint): void {
    this.putRevision = revision;
    if (plan.paused) this.marked = true;
    else if (plan.marked) this.marked = false;
    if (plan.paused || plan.marked || this.stateRevision === undefined) this.stateRevision = revision;
    if (plan.paused !== this.pausedInEtcd) {
      this.pausedInEtcd = plan.paused;
      this.owner.pauseChanged(plan.paused);
    }
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
