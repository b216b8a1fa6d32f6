import { keyFromBytes, servicePrefix } from "@etcd-naming/codec";
import type {
  Etcd3,
  IDuplexStream,
  IKeyValue,
  ILeaseKeepAliveRequest,
  ILeaseKeepAliveResponse,
  IWatchResponse,
  Watcher,
} from "etcd3";
import { ClientClosedError, EtcdLeaseInvalidError, EtcdPermissionDeniedError, Range } from "etcd3";
import { backoffDelay, type ResolvedBackoff } from "./backoff.js";
import type { Clock, ClockTimer, RegistrarLogger } from "./clock.js";
import { type Deferred, deferred, within } from "./deferred.js";
import { etcdRefusal, permissionDenied, RegistrarError, toRegistrarError } from "./errors.js";
import { KeepAliveStreams, type OpenedKeepAlive } from "./keepalive-streams.js";
import { formatLeaseId } from "./lease-id.js";
import { chunk, commit, deleteOp, MAX_TXN_BYTES, putOp } from "./txn.js";

/** How a keeper reports back to the registration that owns an entry. */
export interface EntryOwner {
  lost(error: RegistrarError): void;
  reregistered(leaseId: string): void;
  error(error: RegistrarError): void;
}

interface Waiter {
  readonly version: number;
  readonly done: Deferred<void>;
}

/** One registered key: the desired state the keeper keeps true in etcd. */
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
}

export interface KeeperOptions {
  clock: Clock;
  logger: RegistrarLogger;
  backoff: ResolvedBackoff;
  maxTxnOps: number;
}

interface KeepAlive {
  readonly leaseId: string;
  stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse> | undefined;
  /** The member the stream went to. */
  host: OpenedKeepAlive["host"];
  /** A response arrived since the last write. */
  answered: boolean;
  opening: boolean;
  tick: ClockTimer | undefined;
  deadline: ClockTimer | undefined;
  /** Another member is being asked whether the lease is really gone. */
  confirming: boolean;
  stopped: boolean;
}

interface PendingDelete {
  readonly key: string;
  readonly done: Deferred<void>;
}

const CANCEL_BOUND_MS = 1000;
/** The longest deadline of one call to etcd, whatever the TTL. */
const MAX_REQUEST_TIMEOUT_MS = 30_000;
/** How long other members get to say a lease is alive before it counts as lost. */
const CONFIRM_BOUND_MS = 1000;

/**
 * One lease, one keep-alive stream and one delete-watch per service prefix, shared by every
 * registration made with the same client and TTL. All writes go through a single serial loop, so a
 * deregister can never race an in-flight re-put of the same key.
 */
export class LeaseKeeper {
  readonly closed: Promise<void>;
  private readonly entries = new Map<string, KeeperEntry>();
  private readonly deletes: PendingDelete[] = [];
  private readonly watches = new Map<string, ServiceWatch>();
  private readonly staleLeases: string[] = [];
  private leaseId: string | undefined;
  private everGranted = false;
  /** The highest raft term seen in a grant or keep-alive response: a rise means a new leader. */
  private raftTerm = 0n;
  private keepAlive: KeepAlive | undefined;
  /** The keep-alive of a lease whose keys are being moved to a new one: see `leaderChanged`. */
  private retiring: KeepAlive | undefined;
  private readonly keepAliveStreams: KeepAliveStreams;
  private closing = false;
  private kicked = false;
  private wake: (() => void) | undefined;
  private readonly ttlMs: number;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly client: Etcd3,
    readonly ttl: number,
    private readonly options: KeeperOptions,
    private readonly onClosing: () => void,
  ) {
    this.ttlMs = ttl * 1000;
    // A call that has not answered within a third of the TTL (at least 1 s, at most 30 s) is better
    // retried than waited on: the keeper's loop waits for it, and so would every other registration.
    this.requestTimeoutMs = Math.min(MAX_REQUEST_TIMEOUT_MS, Math.max(1000, this.ttlMs / 3));
    this.keepAliveStreams = new KeepAliveStreams(client);
    this.closed = this.run().catch((error: unknown) => {
      this.options.logger.warn(`etcd-naming: lease keeper stopped unexpectedly: ${String(error)}`);
    });
  }

  get isClosing(): boolean {
    return this.closing;
  }

  get currentLeaseId(): string | undefined {
    return this.leaseId;
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
   * Forgets `entry` first (so its deletion is not mistaken for someone else's and re-put), then deletes
   * the key; the last entry out revokes the lease.
   */
  async remove(entry: KeeperEntry): Promise<void> {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    const gone = new RegistrarError("DEREGISTERED", `${entry.key} was deregistered`);
    for (const waiter of entry.waiters.splice(0)) waiter.done.reject(gone);
    const done = deferred<void>();
    this.deletes.push({ key: entry.key, done });
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
    this.kicked = true;
    this.wake?.();
  }

  /** Waits for a kick, or `ms` if given: backoff sleeps wake early so a deregister is never held up. */
  private pause(ms?: number): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: ClockTimer | undefined;
      const done = (): void => {
        if (timer !== undefined) this.options.clock.clearTimeout(timer);
        this.wake = undefined;
        this.kicked = false;
        resolve();
      };
      if (ms !== undefined) timer = this.options.clock.setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    let failures = 0;
    const retryLater = async (): Promise<void> => {
      await this.pause(backoffDelay(failures, this.options.backoff));
      failures += 1;
    };
    for (;;) {
      // Let every registration made in the same tick join the batch.
      await new Promise<void>((resolve) => setImmediate(resolve));
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
      if (dirty && this.leaseId === undefined) {
        if (await this.grant()) {
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
      if (this.staleLeases.length > 0) {
        await this.revokeStale();
        continue;
      }
      await this.pause();
    }
  }

  private async grant(): Promise<boolean> {
    let granted: { ID: string; TTL: string; header?: { raft_term: string } };
    try {
      granted = await this.keepAliveStreams.call(
        "Lease",
        "leaseGrant",
        { TTL: this.ttl },
        this.requestTimeoutMs,
        (options) => this.client.leaseClient.leaseGrant({ TTL: this.ttl }, options),
      );
    } catch (error) {
      if (error instanceof ClientClosedError) {
        this.abandon(error);
        return false;
      }
      this.failInitial(toRegistrarError(error, "ETCD_UNAVAILABLE", "etcd did not grant a lease"));
      return false;
    }
    if (Number(granted.TTL) > this.ttl && !this.everGranted) {
      // etcd raised the TTL to its configured minimum: failover would silently take longer than asked.
      void this.revoke(granted.ID);
      this.failInitial(
        new RegistrarError(
          "INVALID_INPUT",
          `ttl ${this.ttl}s is below this etcd server's minimum lease TTL (${granted.TTL}s)`,
        ),
      );
      return true;
    }
    this.everGranted = true;
    this.noteTerm(granted.header?.raft_term);
    this.leaseId = granted.ID;
    this.startKeepAlive(granted.ID);
    return true;
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
      for (const waiter of entry.waiters.splice(0)) waiter.done.reject(error);
      if (entry.registered) entry.owner.error(error);
    }
    this.entries.clear();
    this.staleLeases.length = 0;
    this.leaseId = undefined;
    this.closeIfIdle();
    this.kick();
  }

  /** Rejects and forgets entries whose first write has not happened: their `register()` call fails. */
  private failInitial(error: RegistrarError): void {
    for (const entry of [...this.entries.values()]) {
      if (entry.registered) continue;
      this.entries.delete(entry.key);
      for (const waiter of entry.waiters.splice(0)) waiter.done.reject(error);
    }
    this.closeIfIdle();
  }

  private async flushPuts(): Promise<"ok" | "lease" | "failed"> {
    const lease = this.leaseId;
    if (lease === undefined) return "lease";
    const dirty = [...this.entries.values()].filter((e) => e.dirty);
    const size = (e: KeeperEntry) => Buffer.byteLength(e.key) + Buffer.byteLength(e.value);
    for (const batch of chunk(dirty, this.options.maxTxnOps, MAX_TXN_BYTES, size)) {
      const live = batch.filter((e) => this.entries.get(e.key) === e);
      if (live.length === 0) continue;
      const versions = live.map((e) => e.version);
      for (const e of live) e.dirty = false;
      let revision: bigint;
      try {
        const res = await commit(
          this.client,
          live.map((e) => putOp(e.key, e.value, lease)),
          this.requestTimeoutMs,
          this.keepAliveStreams,
        );
        revision = BigInt(res.header.revision);
      } catch (error) {
        for (const e of live) e.dirty = true;
        if (error instanceof EtcdLeaseInvalidError) {
          this.loseLease(lease, error);
          return "lease";
        }
        if (error instanceof ClientClosedError) {
          this.abandon(error);
          return "failed";
        }
        if (error instanceof EtcdPermissionDeniedError) {
          // Each caller learns which of its keys was refused; live registrations are told once per
          // attempt (the backoff spaces attempts out) and keep retrying in case the role is fixed.
          for (const e of live) {
            const refused = permissionDenied(`writing ${e.key}`, servicePrefix(e.service), error);
            for (const waiter of e.waiters.splice(0)) waiter.done.reject(refused);
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
        for (const e of live) {
          for (const waiter of e.waiters.splice(0)) waiter.done.reject(wrapped);
        }
        return "failed";
      }
      live.forEach((e, i) => {
        if (this.entries.get(e.key) !== e) return;
        e.putRevision = revision;
        // The lease was given up while the put was in flight: the entry is dirty again and waits for
        // the re-put under the next lease; reporting this write would announce the lost lease.
        if (this.leaseId !== lease) return;
        e.leaseId = lease;
        e.registered = true;
        const written = versions[i] ?? e.version;
        e.waiters = e.waiters.filter((waiter) => {
          if (waiter.version > written) return true;
          waiter.done.resolve();
          return false;
        });
        if (e.lost) {
          e.lost = false;
          e.owner.reregistered(lease);
        }
      });
      for (const service of new Set(live.map((e) => e.service))) {
        if (!this.watches.has(service)) this.watchService(service, revision + 1n);
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
          this.keepAliveStreams,
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
        this.options.logger.warn(
          `etcd-naming: deleting ${batch.map((d) => d.key).join(", ")} failed, retrying: ${String(error)}`,
        );
        this.deletes.unshift(...batches.slice(i).flat());
        ok = false;
        break;
      }
    }
    for (const [service, watch] of this.watches) {
      if ([...this.entries.values()].some((e) => e.service === service)) continue;
      this.watches.delete(service);
      watch.close();
    }
    return ok;
  }

  private async shutdown(): Promise<void> {
    this.stopKeepAlive();
    this.stopRetiring();
    for (const watch of this.watches.values()) watch.close();
    this.watches.clear();
    const leases = [...this.staleLeases.splice(0), ...(this.leaseId === undefined ? [] : [this.leaseId])];
    this.leaseId = undefined;
    await Promise.all(leases.map((id) => this.revoke(id)));
  }

  private async revokeStale(): Promise<void> {
    this.stopRetiring();
    // Every key has moved to the new lease by now; revoking the old one only drops what it still holds.
    await Promise.all(this.staleLeases.splice(0).map((id) => this.revoke(id)));
  }

  private async revoke(id: string): Promise<void> {
    try {
      await this.keepAliveStreams.call("Lease", "leaseRevoke", { ID: id }, this.requestTimeoutMs, (options) =>
        this.client.leaseClient.leaseRevoke({ ID: id }, options),
      );
    } catch (error) {
      if (error instanceof EtcdLeaseInvalidError) return;
      this.options.logger.warn(
        `etcd-naming: could not revoke lease ${formatLeaseId(id)} (it expires within its TTL): ${String(error)}`,
      );
    }
  }

  private loseLease(leaseId: string, cause: unknown, reason?: string): void {
    if (this.leaseId !== leaseId || this.closing) return;
    this.leaseId = undefined;
    this.staleLeases.push(leaseId);
    this.stopKeepAlive();
    const error = new RegistrarError(
      "LEASE_LOST",
      `lease ${formatLeaseId(leaseId)} was lost${reason === undefined ? "" : ` (${reason})`}; re-registering`,
      { cause },
    );
    for (const entry of this.entries.values()) {
      entry.dirty = true;
      if (entry.registered && !entry.lost) {
        entry.lost = true;
        entry.owner.lost(error);
      }
    }
    this.kick();
  }

  /** Returns true if `term` is newer than any seen before. */
  private noteTerm(term: string | undefined): boolean {
    if (term === undefined) return false;
    const seen = BigInt(term);
    if (seen <= this.raftTerm) return false;
    const first = this.raftTerm === 0n;
    this.raftTerm = seen;
    return !first;
  }

  /**
   * In etcd without the fix for etcd-io/etcd#15247 (3.4.23 among them), a leader that was stopped
   * (SIGSTOP, a stall, a VM pause) revokes, when it resumes, every lease it has not seen renewed
   * meanwhile: it still believes it leads, and its revoke is committed by the new leader. Our lease is
   * alive on the new leader, but its keys would be deleted a moment after the old leader wakes up. If a
   * member does not answer right after the election, move the keys to a lease that member has never
   * seen; the old lease is revoked once nothing is attached to it, and the registrations lose nothing.
   */
  private async leaderChanged(leaseId: string): Promise<void> {
    if (await this.keepAliveStreams.allMembersAnswer(this.requestTimeoutMs)) return;
    if (this.leaseId !== leaseId || this.closing) return;
    this.options.logger.warn(
      `etcd-naming: etcd elected a new leader and a member does not answer; moving the keys of lease ${formatLeaseId(leaseId)} to a new lease before that member can revoke it`,
    );
    // The old keep-alive runs on until every key is on the new lease, so the keys stay covered while
    // the grant and the puts are retried (a call that lands on the stopped member hangs until its deadline).
    this.stopRetiring();
    this.retiring = this.keepAlive;
    this.keepAlive = undefined;
    this.leaseId = undefined;
    this.staleLeases.push(leaseId);
    for (const entry of this.entries.values()) entry.dirty = true;
    this.kick();
  }

  private startKeepAlive(leaseId: string): void {
    this.stopKeepAlive();
    const ka: KeepAlive = {
      leaseId,
      stream: undefined,
      host: undefined,
      answered: false,
      opening: false,
      tick: undefined,
      deadline: undefined,
      confirming: false,
      stopped: false,
    };
    this.keepAlive = ka;
    this.armDeadline(ka);
    this.scheduleTick(ka);
  }

  private stopRetiring(): void {
    const ka = this.retiring;
    this.retiring = undefined;
    if (ka !== undefined) this.halt(ka);
  }

  private stopKeepAlive(): void {
    const ka = this.keepAlive;
    if (ka === undefined) return;
    this.keepAlive = undefined;
    this.halt(ka);
  }

  private halt(ka: KeepAlive): void {
    ka.stopped = true;
    if (ka.tick !== undefined) this.options.clock.clearTimeout(ka.tick);
    if (ka.deadline !== undefined) this.options.clock.clearTimeout(ka.deadline);
    endStream(ka.stream);
    ka.stream = undefined;
  }

  /**
   * etcd drops the lease once a whole TTL passes without a renewal; so do we, and re-grant, unless
   * another member says the lease lives on (a new leader extends every lease when it takes over).
   */
  private armDeadline(ka: KeepAlive, ms = this.ttlMs): void {
    if (ka.deadline !== undefined) this.options.clock.clearTimeout(ka.deadline);
    ka.deadline = this.options.clock.setTimeout(() => {
      ka.deadline = undefined;
      if (!ka.stopped) void this.confirmLoss(ka, "no successful keep-alive within the TTL");
    }, ms);
  }

  /**
   * Declares the lease lost unless a member other than the keep-alive stream's says it has time left:
   * then the deadline is re-armed for that time, and the next tick moves a silent stream elsewhere.
   * With no other member to ask, or none answering in time, the loss stands.
   */
  private async confirmLoss(ka: KeepAlive, reason: string, cause?: unknown): Promise<void> {
    if (ka.confirming) return;
    ka.confirming = true;
    let ttl: number | undefined;
    try {
      ttl = await this.keepAliveStreams.timeToLive(ka.leaseId, ka.host, CONFIRM_BOUND_MS);
    } finally {
      ka.confirming = false;
    }
    if (ka.stopped) return;
    if (ttl === undefined || ttl <= 0) {
      this.loseLease(ka.leaseId, cause, reason);
      return;
    }
    this.options.logger.warn(
      `etcd-naming: lease ${formatLeaseId(ka.leaseId)} looked lost (${reason}) but another etcd member reports ${ttl}s left; keeping it`,
    );
    // A keep-alive answered meanwhile re-armed the deadline for the whole TTL: keep that.
    if (ka.deadline === undefined) this.armDeadline(ka, Math.min(ttl * 1000, this.ttlMs));
  }

  private scheduleTick(ka: KeepAlive): void {
    ka.tick = this.options.clock.setTimeout(() => {
      if (ka.stopped) return;
      this.sendKeepAlive(ka);
      this.scheduleTick(ka);
    }, this.ttlMs / 3);
  }

  private sendKeepAlive(ka: KeepAlive): void {
    if (ka.stream !== undefined && ka.answered) {
      ka.answered = false;
      ka.stream.write({ ID: ka.leaseId });
      return;
    }
    if (ka.stream !== undefined) {
      // No answer since the previous tick. A member that is stopped or cut off while the others are
      // fine keeps the stream open and silent until the lease expires: give it up and reopen elsewhere.
      const reason = `etcd member ${ka.host?.host ?? "?"} did not answer a keep-alive of lease ${formatLeaseId(ka.leaseId)}`;
      this.keepAliveStreams.silent(ka.host, reason);
      endStream(ka.stream);
      ka.stream = undefined;
    }
    if (ka.opening) return;
    ka.opening = true;
    this.keepAliveStreams.open().then(
      ({ stream, host }) => {
        ka.opening = false;
        if (ka.stopped) {
          endStream(stream);
          return;
        }
        const drop = (): void => {
          if (ka.stream === stream) ka.stream = undefined;
        };
        stream.on("error", drop);
        stream.on("end", drop);
        stream.on("data", (res: ILeaseKeepAliveResponse) => {
          if (ka.stopped || res.ID !== ka.leaseId) return;
          if (Number(res.TTL) <= 0) {
            // A member that was stopped answers from its stale view when it resumes, in which a lease
            // granted meanwhile does not exist yet. Its stream is given up whatever the others say.
            const reason = "revoked or expired in etcd";
            if (ka.stream === stream) {
              this.keepAliveStreams.silent(
                host,
                `etcd member ${host?.host ?? "?"} reports lease ${formatLeaseId(ka.leaseId)} gone`,
              );
              endStream(stream);
              ka.stream = undefined;
            }
            void this.confirmLoss(ka, reason, new EtcdLeaseInvalidError(ka.leaseId));
            return;
          }
          if (ka.stream === stream) ka.answered = true;
          this.keepAliveStreams.answered(host);
          this.armDeadline(ka);
          if (this.noteTerm(res.header?.raft_term)) void this.leaderChanged(ka.leaseId);
        });
        ka.stream = stream;
        ka.host = host;
        ka.answered = false;
        stream.write({ ID: ka.leaseId });
      },
      () => {
        // The next tick retries; the deadline timer decides when the lease counts as lost.
        ka.opening = false;
      },
    );
  }

  private watchService(service: string, fromRevision: bigint): void {
    const watch = new ServiceWatch(this.client, servicePrefix(service), fromRevision, {
      deleted: (key, revision) => this.onRemoteDelete(key, revision),
      failed: (error) => {
        if (this.watches.get(service) !== watch) return;
        this.watches.delete(service);
        watch.close();
        this.options.logger.warn(
          `etcd-naming: delete watch on ${servicePrefix(service)} failed, re-listing: ${String(error)}`,
        );
        void this.resync(service);
      },
    });
    this.watches.set(service, watch);
  }

  /**
   * The registration is the source of truth: a key deleted after our last write, by anyone but us, is
   * put back. Deletes at or before our last write are history (e.g. the old lease expiring during an
   * outage before the re-put).
   */
  private onRemoteDelete(key: string, revision: bigint): void {
    const entry = this.entries.get(key);
    if (entry === undefined || entry.dirty || entry.putRevision === undefined) return;
    if (revision <= entry.putRevision) return;
    entry.dirty = true;
    this.kick();
  }

  /** After a watch had to be re-created: re-put whatever vanished meanwhile, then watch from here on. */
  private async resync(service: string): Promise<void> {
    const range = Range.prefix(servicePrefix(service));
    for (let attempt = 0; !this.closing; attempt += 1) {
      try {
        const res = await this.client.kv.range(
          { key: range.start, range_end: range.end, keys_only: true },
          { deadline: new Date(Date.now() + this.requestTimeoutMs) },
        );
        // Shut down, or the service deregistered, while the range was in flight: a watch opened now
        // would be closed by nobody (and keep the process alive).
        const live = [...this.entries.values()].filter((e) => e.service === service);
        if (this.closing || live.length === 0) return;
        const present = new Set(res.kvs.map((kv: IKeyValue) => keyFromBytes(kv.key)));
        for (const entry of live) {
          if (entry.registered && !present.has(entry.key)) entry.dirty = true;
        }
        if (!this.watches.has(service)) this.watchService(service, BigInt(res.header.revision) + 1n);
        this.kick();
        return;
      } catch {
        await new Promise<void>((resolve) =>
          this.options.clock.setTimeout(resolve, backoffDelay(attempt, this.options.backoff)),
        );
      }
    }
  }
}

/** The prefix a key was registered under, for messages: everything up to its last `/`. */
function keyPrefix(key: string): string {
  return key.slice(0, key.lastIndexOf("/") + 1);
}

function endStream(stream: { end(): void } | undefined): void {
  try {
    stream?.end();
  } catch {
    // Already broken: nothing to close.
  }
}

interface ServiceWatchEvents {
  deleted(key: string, revision: bigint): void;
  failed(error: unknown): void;
}

/**
 * A delete-only prefix watch that resumes from the revision after the last event it handled (etcd3
 * itself resumes from the last response header, which can skip events).
 */
class ServiceWatch {
  private readonly watcher: Watcher;
  private resumeFrom: bigint;
  private closed = false;

  constructor(client: Etcd3, prefix: string, fromRevision: bigint, events: ServiceWatchEvents) {
    this.resumeFrom = fromRevision;
    this.watcher = client.watch().prefix(prefix).only("delete").startRevision(String(fromRevision)).watcher();
    this.watcher.on("data", (res: IWatchResponse) => {
      if (this.closed) return;
      for (const event of res.events) {
        const revision = BigInt(event.kv.mod_revision);
        if (revision >= this.resumeFrom) this.resumeFrom = revision + 1n;
        if (event.type === "Delete") events.deleted(keyFromBytes(event.kv.key), revision);
      }
    });
    this.watcher.on("disconnected", () => {
      this.watcher.request.start_revision = String(this.resumeFrom);
    });
    this.watcher.on("error", (error: unknown) => {
      if (!this.closed) events.failed(error);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // etcd3's cancel can hang on a broken stream: never wait on it for long.
    void within(this.watcher.cancel(), CANCEL_BOUND_MS);
  }
}
