import type { KeepAliveStream, LeaseStatus, Member, MemberRouter } from "@etcd-naming/etcd";
import type { ILeaseKeepAliveResponse } from "etcd3";
import { EtcdLeaseInvalidError } from "etcd3";
import type { Clock, ClockTimer, RegistrarLogger } from "./clock.js";
import { formatLeaseId } from "./lease-id.js";

/** How long other members get to say a lease is alive before it counts as lost. */
const CONFIRM_BOUND_MS = 1000;

/** What a keep-alive session needs from the lease keeper that runs it. */
export interface SessionOwner {
  readonly router: MemberRouter;
  readonly clock: Clock;
  readonly logger: RegistrarLogger;
  /** The lease's TTL in ms: a tick every third of it, lost after a whole one without a renewal. */
  readonly ttlMs: number;
  /** The lease is gone (etcd said so, or no renewal for a TTL and no other member says otherwise). */
  lost(leaseId: string, cause: unknown, reason: string): void;
  /** A renewal answered, with the raft term of the member that answered. */
  renewed(leaseId: string, raftTerm: string | undefined): void;
  /** A keep-alive on the current stream was answered this many seconds after it was written. */
  readonly keptAlive: ((seconds: number) => void) | undefined;
}

/**
 * The keep-alive of one lease: a renewal every TTL/3 on a stream to the best ranked member, a new
 * stream on another member when one stays silent for a tick, and loss detection after a whole TTL
 * without a renewal, unless another member says the lease lives on.
 */
export class KeepAliveSession {
  private stream: KeepAliveStream | undefined;
  /** The member the stream went to. */
  private host: Member | undefined;
  /** A response arrived since the last write. */
  private answered = false;
  /** When the last keep-alive on the current stream was written (clock ms). */
  private sentAt: number | undefined;
  private opening = false;
  private tick: ClockTimer | undefined;
  private deadline: ClockTimer | undefined;
  /** Another member is being asked whether the lease is really gone. */
  private confirming = false;
  private stopped = false;
  /** What broke the last keep-alive stream or refused to open one, since the last answer. */
  private lastError: Error | undefined;

  constructor(
    readonly leaseId: string,
    private readonly owner: SessionOwner,
  ) {
    this.armDeadline();
    this.scheduleTick();
  }

  stop(): void {
    this.stopped = true;
    if (this.tick !== undefined) this.owner.clock.clearTimeout(this.tick);
    if (this.deadline !== undefined) this.owner.clock.clearTimeout(this.deadline);
    endStream(this.stream);
    this.stream = undefined;
  }

  /**
   * etcd drops the lease once a whole TTL passes without a renewal; so do we, and re-grant, unless
   * another member says the lease lives on (a new leader extends every lease when it takes over).
   */
  private armDeadline(ms = this.owner.ttlMs): void {
    if (this.deadline !== undefined) this.owner.clock.clearTimeout(this.deadline);
    this.deadline = this.owner.clock.setTimeout(() => {
      this.deadline = undefined;
      if (this.stopped) return;
      // The reason names what the keep-alives last ran into (an expired certificate, a refused handshake).
      const last =
        this.lastError === undefined ? "" : `; last error: ${this.lastError.message.split("\n")[0]}`;
      void this.confirmLoss(`no successful keep-alive within the TTL${last}`, this.lastError);
    }, ms);
  }

  /**
   * Declares the lease lost unless a member other than the keep-alive stream's says it has time left:
   * then the deadline is re-armed for that time, and the next tick moves a silent stream elsewhere.
   * While the others say they have no leader (an election, a partition with no majority), nobody can
   * expire the lease and the next leader renews it for a whole TTL: the verdict waits, re-asked every
   * tick, for a member with a leader (whose keep-alive answer re-arms the deadline, or reports the lease
   * gone). With no member answering in time, twice, the loss stands.
   */
  private async confirmLoss(reason: string, cause?: unknown): Promise<void> {
    if (this.confirming) return;
    this.confirming = true;
    let status: LeaseStatus;
    try {
      status = await this.owner.router.leaseStatus(this.leaseId, this.host, CONFIRM_BOUND_MS);
      // No other member answered in time (a starved machine, or one still shunned after a fault): every
      // member is asked once more, the stream's own included, before the lease is given up. A member with
      // a leader gets its answer from the leader, so any of them will do.
      if (status.kind === "unknown" && !this.stopped)
        status = await this.owner.router.leaseStatus(this.leaseId, this.host, 2 * CONFIRM_BOUND_MS, true);
    } finally {
      this.confirming = false;
    }
    if (this.stopped) return;
    const lease = formatLeaseId(this.leaseId);
    if (status.kind === "no-leader") {
      this.owner.logger.warn?.(
        { lease, member: this.host?.host },
        `lease ${lease} looked lost (${reason}) but the etcd members have no leader to expire it; waiting for one`,
      );
      if (this.deadline === undefined) this.armDeadline(this.owner.ttlMs / 3);
      return;
    }
    if (status.kind === "unknown" || status.ttl <= 0) {
      this.owner.lost(this.leaseId, cause, reason);
      return;
    }
    const ttl = status.ttl;
    this.owner.logger.warn?.(
      { lease, member: this.host?.host },
      `lease ${lease} looked lost (${reason}) but another etcd member reports ${ttl}s left; keeping it`,
    );
    // A keep-alive answered meanwhile re-armed the deadline for the whole TTL: keep that.
    if (this.deadline === undefined) this.armDeadline(Math.min(ttl * 1000, this.owner.ttlMs));
  }

  private scheduleTick(): void {
    this.tick = this.owner.clock.setTimeout(() => {
      if (this.stopped) return;
      this.send();
      this.scheduleTick();
    }, this.owner.ttlMs / 3);
  }

  private send(): void {
    if (this.stream !== undefined && this.answered) {
      this.answered = false;
      this.sentAt = this.owner.clock.now();
      this.stream.write({ ID: this.leaseId });
      return;
    }
    if (this.stream !== undefined) {
      // No answer since the previous tick. A member that is stopped or cut off while the others are
      // fine keeps the stream open and silent until the lease expires: give it up and reopen elsewhere.
      const reason = `etcd member ${this.host?.host ?? "?"} did not answer a keep-alive of lease ${formatLeaseId(this.leaseId)}`;
      this.owner.router.silent(this.host, reason);
      endStream(this.stream);
      this.stream = undefined;
    }
    if (this.opening) return;
    this.opening = true;
    this.owner.router.openKeepAlive().then(
      ({ stream, host }) => {
        this.opening = false;
        if (this.stopped) {
          endStream(stream);
          return;
        }
        const drop = (): void => {
          if (this.stream === stream) this.stream = undefined;
        };
        stream.on("error", (error: Error) => {
          this.lastError = error;
          // A member that was killed or restarted fails the stream (and the next one opened on it)
          // without ever going silent: rank it last, or each tick reopens on it until the lease expires.
          if (this.stream === stream) this.owner.router.noteSilent(host);
          drop();
        });
        stream.on("end", drop);
        stream.on("data", (res: ILeaseKeepAliveResponse) => this.onAnswer(stream, host, res));
        this.stream = stream;
        this.host = host;
        this.answered = false;
        this.sentAt = this.owner.clock.now();
        stream.write({ ID: this.leaseId });
      },
      (error: unknown) => {
        // The next tick retries; the deadline timer decides when the lease counts as lost.
        this.opening = false;
        if (error instanceof Error) this.lastError = error;
      },
    );
  }

  private onAnswer(stream: KeepAliveStream, host: Member | undefined, res: ILeaseKeepAliveResponse): void {
    if (this.stopped || res.ID !== this.leaseId) return;
    if (Number(res.TTL) <= 0) {
      // A member that was stopped answers from its stale view when it resumes, in which a lease
      // granted meanwhile does not exist yet. Its stream is given up whatever the others say.
      const reason = "revoked or expired in etcd";
      if (this.stream === stream) {
        this.owner.router.silent(
          host,
          `etcd member ${host?.host ?? "?"} reports lease ${formatLeaseId(this.leaseId)} gone`,
        );
        endStream(stream);
        this.stream = undefined;
      }
      void this.confirmLoss(reason, new EtcdLeaseInvalidError(this.leaseId));
      return;
    }
    this.lastError = undefined;
    if (this.stream === stream) {
      this.answered = true;
      if (this.sentAt !== undefined) this.owner.keptAlive?.((this.owner.clock.now() - this.sentAt) / 1000);
      this.sentAt = undefined;
    }
    this.owner.router.answered(host);
    this.armDeadline();
    this.owner.renewed(this.leaseId, res.header?.raft_term);
  }
}

function endStream(stream: { end(): void } | undefined): void {
  try {
    stream?.end();
  } catch {
    // Already broken: nothing to close.
  }
}
