import type { MemberRouter } from "@etcd-naming/etcd";
import type { Etcd3 } from "etcd3";
import { ClientClosedError, EtcdLeaseInvalidError } from "etcd3";
import type { Clock, RegistrarLogger } from "./clock.js";
import { RegistrarError, toRegistrarError } from "./errors.js";
import { KeepAliveSession } from "./keep-alive-session.js";
import { formatLeaseId } from "./lease-id.js";

/** What the lease tells the lease keeper, whose keys are attached to it. */
export interface LeaseEvents {
  readonly isClosing: boolean;
  /** The lease is gone: every key needs a re-put under the next one. */
  lost(error: RegistrarError): void;
  /** The keys have to move to a new lease (the old one stays alive until they have). */
  moving(): void;
  /** No lease could be granted; `closed` when the etcd client was closed under the keeper. */
  grantFailed(error: RegistrarError, closed: boolean): void;
}

/** What the lease needs. */
export interface LeaseContext {
  readonly client: Etcd3;
  readonly router: MemberRouter;
  readonly clock: Clock;
  readonly logger: RegistrarLogger;
  readonly ttl: number;
  readonly requestTimeoutMs: number;
  /** A keep-alive was answered this many seconds after it was sent (for the round-trip histogram). */
  readonly keptAlive: ((seconds: number) => void) | undefined;
}

/**
 * The lease a keeper's keys are attached to: its grant, its keep-alive session, its loss, a move to a
 * new lease after a leader change, and the revocation of leases given up.
 */
export class KeeperLease {
  private leaseId: string | undefined;
  private everGranted = false;
  /** The highest raft term seen in a grant or keep-alive response: a rise means a new leader. */
  private raftTerm = 0n;
  private keepAlive: KeepAliveSession | undefined;
  /** The keep-alive of a lease whose keys are being moved to a new one: see `leaderChanged`. */
  private retiring: KeepAliveSession | undefined;
  private readonly stale: string[] = [];

  constructor(
    private readonly context: LeaseContext,
    private readonly events: LeaseEvents,
  ) {}

  /** The current lease, if one is granted and not lost. */
  get id(): string | undefined {
    return this.leaseId;
  }

  /** Leases given up whose revocation is owed. */
  get hasStale(): boolean {
    return this.stale.length > 0;
  }

  /** Grants a lease; false if etcd could not be asked (the caller retries with backoff). */
  async grant(): Promise<boolean> {
    const { client, router, ttl, requestTimeoutMs } = this.context;
    let granted: { ID: string; TTL: string; header?: { raft_term: string } };
    try {
      granted = await router.call("Lease", "leaseGrant", { TTL: ttl }, requestTimeoutMs, (options) =>
        client.leaseClient.leaseGrant({ TTL: ttl }, options),
      );
    } catch (error) {
      const closed = error instanceof ClientClosedError;
      this.events.grantFailed(
        closed
          ? new RegistrarError("ETCD_UNAVAILABLE", "the etcd client was closed", { cause: error })
          : toRegistrarError(error, "ETCD_UNAVAILABLE", "etcd did not grant a lease"),
        closed,
      );
      return false;
    }
    if (Number(granted.TTL) > ttl && !this.everGranted) {
      // etcd raised the TTL to its configured minimum: failover would silently take longer than asked.
      void this.revoke(granted.ID);
      this.events.grantFailed(
        new RegistrarError(
          "INVALID_INPUT",
          `ttl ${ttl}s is below this etcd server's minimum lease TTL (${granted.TTL}s)`,
        ),
        false,
      );
      return true;
    }
    this.everGranted = true;
    this.noteTerm(granted.header?.raft_term);
    this.leaseId = granted.ID;
    this.stopKeepAlive();
    this.keepAlive = new KeepAliveSession(granted.ID, {
      router,
      clock: this.context.clock,
      logger: this.context.logger,
      ttlMs: ttl * 1000,
      keptAlive: this.context.keptAlive,
      lost: (leaseId, cause, reason) => this.lose(leaseId, cause, reason),
      renewed: (leaseId, raftTerm) => {
        if (this.noteTerm(raftTerm)) void this.leaderChanged(leaseId);
      },
    });
    return true;
  }

  /** `leaseId` is gone (if it is still the current one): the keys are re-put under a new lease. */
  lose(leaseId: string, cause: unknown, reason?: string): void {
    if (this.leaseId !== leaseId || this.events.isClosing) return;
    this.leaseId = undefined;
    this.stale.push(leaseId);
    this.stopKeepAlive();
    this.events.lost(
      new RegistrarError(
        "LEASE_LOST",
        `lease ${formatLeaseId(leaseId)} was lost${reason === undefined ? "" : ` (${reason})`}; re-registering`,
        { cause },
      ),
    );
  }

  /** The etcd client was closed: nothing can be revoked any more; the leases expire within the TTL. */
  forget(): void {
    this.stale.length = 0;
    this.leaseId = undefined;
  }

  /** Every key has moved to the new lease: revoking the old ones only drops what they still hold. */
  async revokeStale(): Promise<void> {
    this.stopRetiring();
    await Promise.all(this.stale.splice(0).map((id) => this.revoke(id)));
  }

  /** Stops the keep-alives and revokes every lease. */
  async close(): Promise<void> {
    this.stopKeepAlive();
    this.stopRetiring();
    const leases = [...this.stale.splice(0), ...(this.leaseId === undefined ? [] : [this.leaseId])];
    this.leaseId = undefined;
    await Promise.all(leases.map((id) => this.revoke(id)));
  }

  private async revoke(id: string): Promise<void> {
    const { client, router, requestTimeoutMs } = this.context;
    try {
      await router.call("Lease", "leaseRevoke", { ID: id }, requestTimeoutMs, (options) =>
        client.leaseClient.leaseRevoke({ ID: id }, options),
      );
    } catch (error) {
      if (error instanceof EtcdLeaseInvalidError) return;
      const lease = formatLeaseId(id);
      this.context.logger.warn?.(
        { lease, err: error },
        `could not revoke lease ${lease} (it expires within its TTL): ${String(error)}`,
      );
    }
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
    if (await this.context.router.allMembersAnswer(this.context.requestTimeoutMs)) return;
    if (this.leaseId !== leaseId || this.events.isClosing) return;
    const lease = formatLeaseId(leaseId);
    this.context.logger.warn?.(
      { lease },
      `etcd elected a new leader and a member does not answer; moving the keys of lease ${lease} to a new lease before that member can revoke it`,
    );
    // The old keep-alive runs on until every key is on the new lease, so the keys stay covered while
    // the grant and the puts are retried (a call that lands on the stopped member hangs until its deadline).
    this.stopRetiring();
    this.retiring = this.keepAlive;
    this.keepAlive = undefined;
    this.leaseId = undefined;
    this.stale.push(leaseId);
    this.events.moving();
  }

  private stopRetiring(): void {
    this.retiring?.stop();
    this.retiring = undefined;
  }

  private stopKeepAlive(): void {
    this.keepAlive?.stop();
    this.keepAlive = undefined;
  }
}
