import { printableKey, servicePrefix } from "@etcd-naming/codec";
import { type Clock, MemberRouter, nextTurn } from "@etcd-naming/etcd";
import type { Etcd3 } from "etcd3";
import { ClientClosedError, EtcdLeaseInvalidError, EtcdPermissionDeniedError } from "etcd3";
import type { ResolvedBackoff } from "./backoff.js";
import { backoffDelay } from "./backoff.js";
import type { RegistrarLogger } from "./clock.js";
import { type Deferred, deferred } from "./deferred.js";
import { DeleteWatches } from "./delete-watches.js";
import { etcdRefusal, permissionDenied, RegistrarError, toRegistrarError } from "./errors.js";
import type { KeeperEntry } from "./keeper-entry.js";
import { KeeperLease } from "./keeper-lease.js";
import type { RegistrarMetrics } from "./metrics.js";
import { PauseWatches } from "./pause-watches.js";
import { chunk, commit, deleteOp, MAX_TXN_BYTES } from "./txn.js";
import { WakeUp } from "./wake-up.js";

export type { EntryOwner } from "./keeper-entry.js";
export { KeeperEntry } from "./keeper-entry.js";

export interface KeeperOptions {
  clock: Clock;
  logger: RegistrarLogger;
  backoff: ResolvedBackoff;
  maxTxnOps: number;
  /** Where the lease's metrics go; undefined records none. */
  metrics: RegistrarMetrics | undefined;
}

interface PendingDelete {
  readonly key: string;
  readonly done: Deferred<void>;
}

/** The longest deadline of one call to etcd, whatever the TTL. */
const MAX_REQUEST_TIMEOUT_MS = 30_000;

/**
 * One lease, one keep-alive stream and one delete-watch per service prefix, shared by every
 * registration made with the same client and TTL. All writes go through a single serial loop, so a
 * deregister can never race an in-flight re-put of the same key.
 */
export class LeaseKeeper {
  readonly closed: Promise<void>;
  private readonly entries = new Map<string, KeeperEntry>();
  private readonly deletes: PendingDelete[] = [];
  private readonly deleteWatches: DeleteWatches;
  private readonly pauseWatches: PauseWatches;
  private readonly lease: KeeperLease;
  /** Routes the keeper's calls and keep-alive streams to the client's members. */
  private readonly router: MemberRouter;
  private closing = false;
  private readonly alarm: WakeUp;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly client: Etcd3,
    readonly ttl: number,
    private readonly options: KeeperOptions,
    private readonly onClosing: () => void,
  ) {
    // A call that has not answered within a third of the TTL (at least 1 s, at most 30 s) is better
    // retried than waited on: the keeper's loop waits for it, and so would every other registration.
    this.requestTimeoutMs = Math.min(MAX_REQUEST_TIMEOUT_MS, Math.max(1000, (ttl * 1000) / 3));
    const { clock, logger, backoff } = options;
    this.alarm = new WakeUp(clock);
    this.router = new MemberRouter(client, { random: () => clock.random() });
    const keeper = this;
    const context = { client, router: this.router, clock, logger, requestTimeoutMs: this.requestTimeoutMs };
    this.lease = new KeeperLease(
      { ...context, ttl, keptAlive: options.metrics?.keptAlive },
      {
        get isClosing() {
          return keeper.closing;
        },
        lost: (error) => {
          for (const entry of this.entries.values()) {
            entry.dirty = true;
            if (entry.registered && !entry.lost) {
              entry.lost = true;
              entry.owner.lost(error);
            }
          }
          this.kick();
        },
        moving: () => {
          for (const entry of this.entries.values()) entry.dirty = true;
          this.kick();
        },
        grantFailed: (error, closed) => (closed ? this.abandon(error.cause) : this.failInitial(error)),
      },
    );
    const watchOwner = {
      ...context,
      backoff,
      get isClosing() {
        return keeper.closing;
      },
      entry: (key: string) => this.entries.get(key),
      entriesOf: (service: string) => [...this.entries.values()].filter((e) => e.service === service),
      kick: () => this.kick(),
      requested: (entry: KeeperEntry, paused: boolean) => this.request(entry, paused),
    };
    this.deleteWatches = new DeleteWatches(watchOwner);
    this.pauseWatches = new PauseWatches(watchOwner);
    this.closed = this.run().catch((error: unknown) => {
      this.options.logger.warn?.({ err: error }, `lease keeper stopped unexpectedly: ${String(error)}`);
    });
  }

  get isClosing(): boolean {
    return this.closing;
  }

  get currentLeaseId(): string | undefined {
    return this.lease.id;
  }

  /** Queues the first write of `entry`; resolves once the key is in etcd with the lease attached. */
  add(entry: KeeperEntry): Promise<void> {
    if (this.closing) throw new Error("lease keeper is closing");
    if (this.entries.has(entry.key)) {
      return Promise.reject(
        new RegistrarError("INVALID_INPUT", `${entry.key} is already registered by this process`),
      );
    }
    const done = deferred<void>();
    entry.waiters.push({ version: entry.version, done });
    this.entries.set(entry.key, entry);
    this.kick();
    return done.promise;
  }

  /** Rewrites `entry` with a new value under the current lease. */
  update(entry: KeeperEntry, value: string): Promise<void> {
    if (this.entries.get(entry.key) !== entry) {
      return Promise.reject(new RegistrarError("DEREGISTERED", `${entry.key} is deregistered`));
    }
    entry.value = value;
    entry.version += 1;
    entry.dirty = true;
    const done = deferred<void>();
    entry.waiters.push({ version: entry.version, done });
    this.kick();
    return done.promise;
  }

  /**
   * Pauses `entry` (its key deleted, its marker put, both under the lease) or serves it again (the key
   * put, the marker deleted); resolves once etcd holds that state, at once when it already does.
   */
  setPaused(entry: KeeperEntry, paused: boolean): Promise<void> {
    if (this.entries.get(entry.key) !== entry) {
      return Promise.reject(new RegistrarError("DEREGISTERED", `${entry.key} is deregistered`));
    }
    if (!entry.want(paused)) return Promise.resolve();
    const done = deferred<void>();
    entry.waiters.push({ version: entry.version, done });
    this.kick();
    return done.promise;
  }

  /** Another process asked (through a marker) for `entry` to be paused or served. */
  private request(entry: KeeperEntry, paused: boolean | undefined): void {
    if (paused !== undefined) void this.setPaused(entry, paused).catch(() => undefined);
  }

  /**
   * Forgets `entry` first (so its deletion is not mistaken for someone else's and re-put), then deletes
   * the key; the last entry out revokes the lease.
   */
  async remove(entry: KeeperEntry): Promise<void> {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    const gone = new RegistrarError("DEREGISTERED", `${entry.key} was deregistered`);
    entry.rejectWaiters(gone);
    const done = deferred<void>();
    this.deletes.push({ key: entry.key, done });
    // Its pause marker goes too (it would go with the lease, but the lease may be shared).
    if (entry.paused || entry.marked) this.deletes.push({ key: entry.markerKey, done: deferred<void>() });
    this.closeIfIdle();
    this.kick();
    await done.promise;
    if (this.closing) await this.closed;
  }

  private closeIfIdle(): void {
    if (this.entries.size > 0 || this.closing) return;
    this.closing = true;
    this.onClosing();
  }

  private kick(): void {
    this.alarm.kick();
  }

  private async run(): Promise<void> {
    let failures = 0;
    const retryLater = async (): Promise<void> => {
      await this.alarm.wait(backoffDelay(failures, this.options.backoff));
      failures += 1;
    };
    for (;;) {
      // Let every registration made in the same tick join the batch.
      await nextTurn();
      if (this.deletes.length > 0) {
        if (await this.flushDeletes()) {
          failures = 0;
        } else {
          await retryLater();
        }
        continue;
      }
      if (this.closing) {
        await this.shutdown();
        return;
      }
      const dirty = [...this.entries.values()].some((e) => e.dirty);
      if (dirty && this.lease.id === undefined) {
        if (await this.lease.grant()) {
          failures = 0;
        } else {
          await retryLater();
        }
        continue;
      }
      if (dirty) {
        const outcome = await this.flushPuts();
        if (outcome === "ok") failures = 0;
        if (outcome === "failed") await retryLater();
        continue;
      }
      if (this.lease.hasStale) {
        await this.lease.revokeStale();
        continue;
      }
      await this.alarm.wait();
    }
  }

  /**
   * The etcd client was closed under live registrations: nothing can be written any more, so stop
   * (the lease expires within its TTL) and tell every registration.
   */
  private abandon(cause: unknown): void {
    if (this.closing) return;
    const error = new RegistrarError(
      "ETCD_UNAVAILABLE",
      "the etcd client was closed while registrations were live; they expire within the TTL",
      { cause },
    );
    for (const entry of this.entries.values()) {
      entry.rejectWaiters(error);
      if (entry.registered) entry.owner.error(error);
    }
    this.entries.clear();
    this.lease.forget();
    this.closeIfIdle();
    this.kick();
  }

  /** Rejects and forgets entries whose first write has not happened: their `register()` call fails. */
  private failInitial(error: RegistrarError): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.registered) continue;
      this.entries.delete(entry.key);
      entry.rejectWaiters(error);
    }
    this.closeIfIdle();
  }

  private async flushPuts(): Promise<"ok" | "lease" | "failed"> {
    const lease = this.lease.id;
    if (lease === undefined) return "lease";
    const dirty = [...this.entries.values()].filter((e) => e.dirty);
    // A paused entry's value goes into its marker: about twice the bytes, and two operations.
    const size = (e: KeeperEntry) => (Buffer.byteLength(e.key) + Buffer.byteLength(e.value)) * e.opCount;
    const ops = (e: KeeperEntry) => e.opCount;
    for (const batch of chunk(dirty, this.options.maxTxnOps, MAX_TXN_BYTES, size, ops)) {
      const live = batch.filter((e) => this.entries.get(e.key) === e);
      if (live.length === 0) continue;
      const plans = live.map((e) => e.plan());
      for (const e of live) [e.dirty, e.writing] = [false, true];
      let revision: bigint;
      try {
        const res = await commit(
          this.client,
          live.flatMap((e, i) => e.ops(plans[i]!, lease)),
          this.requestTimeoutMs,
          this.router,
        );
        revision = BigInt(res.header.revision);
      } catch (error) {
        for (const e of live) [e.dirty, e.writing] = [true, false];
        for (const e of live) this.request(e, e.released());
        if (error instanceof EtcdLeaseInvalidError) {
          this.lease.lose(lease, error);
          return "lease";
        }
        if (error instanceof ClientClosedError) {
          this.abandon(error);
          return "failed";
        }
        if (error instanceof EtcdPermissionDeniedError) {
          // Each caller learns which of its keys was refused; live registrations are told once per
          // attempt (the backoff spaces attempts out) and keep retrying in case the role is fixed.
          for (const [i, e] of live.entries()) {
            const refused = e.refused(plans[i]!, error);
            e.rejectWaiters(refused);
            if (e.registered) e.owner.error(refused);
          }
          const first = live[0]!;
          this.failInitial(permissionDenied(`writing ${first.key}`, servicePrefix(first.service), error));
          return "failed";
        }
        const wrapped =
          etcdRefusal(error, "writing endpoints to etcd") ??
          toRegistrarError(error, "ETCD_UNAVAILABLE", "writing endpoints to etcd failed");
        this.failInitial(wrapped);
        for (const e of live) e.rejectWaiters(wrapped);
        return "failed";
      }
      live.forEach((e, i) => {
        e.writing = false;
        if (this.entries.get(e.key) !== e) return;
        e.stateWritten(plans[i]!, revision);
        this.request(e, e.released());
        // The lease was given up while the put was in flight: the entry is dirty again and waits for
        // the re-put under the next lease; reporting this write would announce the lost lease.
        if (this.lease.id === lease) e.written(lease, revision, plans[i]!.version);
      });
      for (const service of new Set(live.map((e) => e.service))) {
        this.deleteWatches.ensure(service, revision + 1n);
        this.pauseWatches.ensure(service, revision + 1n);
      }
    }
    return "ok";
  }

  /**
   * Returns false when etcd could not be reached: the unsent deletes go back to the head of the queue
   * for a retry with backoff, because their entries are already forgotten and nothing else would ever
   * delete the keys while another registration keeps the shared lease alive. Once the keeper is closing
   * nobody renews the lease, so the keys go with it within the TTL: the callers are told instead.
   */
  private async flushDeletes(): Promise<boolean> {
    const batches = chunk(this.deletes.splice(0), this.options.maxTxnOps);
    let ok = true;
    for (const [i, batch] of batches.entries()) {
      try {
        await commit(
          this.client,
          batch.map((d) => deleteOp(d.key)),
          this.requestTimeoutMs,
          this.router,
        );
        for (const d of batch) d.done.resolve();
      } catch (error) {
        if (error instanceof EtcdPermissionDeniedError) {
          for (const d of batch)
            d.done.reject(permissionDenied(`deleting ${d.key}`, keyPrefix(d.key), error));
          continue;
        }
        if (error instanceof ClientClosedError) this.abandon(error);
        if (this.closing) {
          const wrapped = toRegistrarError(
            error,
            "ETCD_UNAVAILABLE",
            "deleting endpoints from etcd failed (they expire with their lease within the TTL)",
          );
          for (const d of batch) d.done.reject(wrapped);
          continue;
        }
        // One string, as every field the logger redacts: it does not look inside arrays.
        const keys = batch.map((d) => printableKey(d.key)).join(", ");
        this.options.logger.warn?.(
          { keys, err: error },
          `deleting ${keys} failed, retrying: ${String(error)}`,
        );
        this.deletes.unshift(...batches.slice(i).flat());
        ok = false;
        break;
      }
    }
    this.deleteWatches.closeUnused();
    this.pauseWatches.closeUnused();
    return ok;
  }

  private async shutdown(): Promise<void> {
    this.deleteWatches.closeAll();
    this.pauseWatches.closeAll();
    await this.lease.close();
  }
}

/** The prefix a key was registered under, for messages: everything up to its last `/`. */
function keyPrefix(key: string): string {
  return key.slice(0, key.lastIndexOf("/") + 1);
}
