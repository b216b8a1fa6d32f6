import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse, Namespace } from "etcd3";
import { EtcdInvalidAuthTokenError, GRPCDeadlineExceededError, GRPCUnavailableError } from "etcd3";
import {
  isTransient,
  type OpenedStream,
  type OpenStreamOptions,
  only,
  openStream,
  type UnaryCallOptions,
  type UnaryOutcome,
  unaryCall,
} from "./calls.js";
import { deadlineIn, systemClock, type TimerHandle, within } from "./clock.js";
import { type EtcdPool, type EtcdService, etcdPool, type Member } from "./etcd3-pool.js";

/** etcd's refusal of a read at a revision older than its last compaction. */
const COMPACTED = /required revision has been compacted/;
/** etcd's refusal of a read at a revision past its store. */
const FUTURE = /required revision is a future revision/;

/** A lease keep-alive stream. */
export type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

/** A keep-alive stream and the member it went to (unknown if the pool cannot tell). */
export interface OpenedKeepAlive {
  readonly stream: KeepAliveStream;
  readonly host: Member | undefined;
}

/** Options of {@link MemberRouter}. */
export interface MemberRouterOptions {
  /** Shuffles members that rank alike (default `Math.random`, through the system clock). */
  random?: () => number;
}

/** What {@link MemberRouter.leaseStatus} learnt of a lease. */
export type LeaseStatus =
  /** The highest TTL in seconds a member reported (0 or less: the lease is gone). */
  | { readonly kind: "ttl"; readonly ttl: number }
  /** No member answered, but one said it has no leader. */
  | { readonly kind: "no-leader" }
  /** No answer in time, or no other member to ask. */
  | { readonly kind: "unknown" };

/** etcd's `ErrGRPCNoLeader`, what a member without a leader answers a `hasleader` call. */
const NO_LEADER = /etcdserver: no leader/;

/** Beyond its deadline a gRPC call should fail on its own; give it this long before abandoning it. */
const ABANDON_SLACK_MS = 500;

/**
 * Routes calls and streams to the members of one etcd3 client, best ranked first, and fails over: a
 * member that answered since it last went silent ranks first, then one never heard from, then those that
 * went silent least recently. etcd3's own calls pick a member at random and never say which, so a stream
 * to a member that is stopped or cut off while the others are fine stays open, silent, until it matters.
 *
 * Each user keeps its own router (what went silent for a lease's keep-alives is its own history).
 */
export class MemberRouter {
  /** The client's pool, or undefined for a client whose members cannot be told apart. */
  readonly pool: EtcdPool | undefined;
  private readonly lastSilent = new Map<Member, number>();
  private readonly lastAnswered = new Map<Member, number>();
  /** Orders silences and answers: only which came last for a member matters, not when. */
  private events = 0;
  private readonly random: () => number;

  constructor(
    readonly client: Namespace,
    options: MemberRouterOptions = {},
  ) {
    this.pool = etcdPool(client);
    this.random = options.random ?? systemClock.random;
  }

  /** The client's members (none when the pool cannot be driven). */
  get members(): readonly Member[] {
    return this.pool?.members ?? [];
  }

  /** `member` did not answer in time (or failed): later calls and streams go elsewhere first. */
  noteSilent(member: Member | undefined): void {
    if (member === undefined) return;
    this.events += 1;
    this.lastSilent.set(member, this.events);
  }

  /** `member` answered: the member to go back to while it keeps answering. */
  answered(member: Member | undefined): void {
    if (member === undefined) return;
    this.events += 1;
    this.lastAnswered.set(member, this.events);
  }

  /**
   * Counts `error` against `member` in etcd3 (a transient one closes the member's channels, so every user
   * of the client moves on), unless it is the only member: gRPC reconnects to a lone member by itself,
   * and its open circuit breaker would only refuse the client's next calls (a deregistration on shutdown).
   */
  reportFailure(member: Member, error: Error): void {
    if (this.pool === undefined || this.pool.members.length < 2) return;
    this.pool.markFailed(member, error);
  }

  /** Drops the client's cached auth token: etcd said "invalid auth token" on a stream, which etcd3 does not handle. */
  invalidateAuthToken(): void {
    this.pool?.invalidateAuthToken();
  }

  /**
   * `member` did not answer a keep-alive within a tick: rank it last and close its channels (so the
   * client's other calls reconnect too) unless it is the only member.
   */
  silent(member: Member | undefined, reason: string): void {
    if (member === undefined || this.pool === undefined) return;
    this.noteSilent(member);
    this.reportFailure(member, new GRPCUnavailableError(reason));
  }

  /** The members, best ranked first (alike ones shuffled), repeated without end. */
  *order(): Generator<Member> {
    const hosts = [...this.members];
    for (let i = hosts.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [hosts[i], hosts[j]] = [hosts[j]!, hosts[i]!];
    }
    // A member never heard from may well be the stopped one, and a follower that went silent only
    // because the leader it forwards renewals to stopped answers again after the election.
    const rank = (host: Member): [number, number] => {
      const silent = this.lastSilent.get(host) ?? 0;
      const answered = this.lastAnswered.get(host) ?? 0;
      if (answered > silent) return [0, -answered];
      if (silent === 0) return [1, 0];
      return [2, silent];
    };
    hosts.sort((a, b) => {
      const [ga, oa] = rank(a);
      const [gb, ob] = rank(b);
      return ga - gb || oa - ob;
    });
    for (;;) yield* hosts;
  }

  /** Opens a stream on the best ranked member that the pool can connect to. */
  openStream<S extends { on(event: "error", listener: (error: Error) => void): unknown }>(
    service: EtcdService,
    method: string,
    options: Omit<OpenStreamOptions, "order"> = {},
  ): Promise<OpenedStream<S>> {
    if (this.pool === undefined)
      return Promise.reject(new TypeError("the etcd3 client has no connection pool"));
    return openStream<S>(this.pool, service, method, { ...options, order: this.order() });
  }

  /** Opens a lease keep-alive stream on the best ranked member (anywhere, through etcd3, without a pool). */
  async openKeepAlive(): Promise<OpenedKeepAlive> {
    if (this.pool === undefined) {
      const stream = await (this.client as Etcd3).leaseClient.leaseKeepAlive();
      return { stream, host: undefined };
    }
    // What etcd3's own leaseKeepAlive() does: a stream error counts against the member.
    const { stream, member } = await this.openStream<KeepAliveStream>("Lease", "leaseKeepAlive", {
      markFailedOnError: true,
    });
    return { stream, host: member };
  }

  /**
   * One unary etcd call, abandoned shortly after `timeoutMs` even if etcd3 still waits on it. With
   * several members each is tried once, best ranked first, under a deadline of its own. etcd3's own call
   * picks members at random and retries a timed-out call on the others under the original, already
   * expired deadline: each retry fails at once yet counts towards that member's circuit breaker, so while
   * one member is stopped two or three timed-out calls open every breaker and the client refuses all calls
   * for seconds. `viaClient` is the call as etcd3 makes it, for a single member or a pool whose members
   * cannot be told apart.
   */
  async call<T>(
    service: EtcdService,
    method: string,
    request: object,
    timeoutMs: number,
    viaClient: (options: { deadline: Date }) => Promise<T>,
  ): Promise<T> {
    const pool = this.pool;
    if (pool === undefined || pool.members.length < 2) {
      return bounded(viaClient({ deadline: deadlineIn(timeoutMs) }), timeoutMs);
    }
    const order = this.order();
    let lastError: unknown;
    for (let i = 0; i < pool.members.length; i++) {
      const member = order.next().value as Member;
      try {
        const outcome = await bounded(
          unaryCall<T>(pool, service, method, request, { order: only(member), timeoutMs }),
          timeoutMs,
        );
        return (outcome as { response: T }).response;
      } catch (error) {
        if (error instanceof EtcdInvalidAuthTokenError) pool.invalidateAuthToken();
        else if (!isTransient(error)) throw error;
        lastError = error;
        this.noteSilent(member);
      }
    }
    throw lastError;
  }

  /**
   * The lease's remaining TTL in seconds according to any member but `except`, asked at once, or
   * undefined if none answers within `timeoutMs` or there is no other member to ask (nor a stream member
   * to tell the others from: no stream was ever opened). The member a keep-alive stream is on can be
   * the one that is wrong: stopped while the others elected a new leader that keeps the lease alive,
   * or just resumed and answering from its stale view of the leases.
   */
  async timeToLive(
    leaseId: string,
    except: Member | undefined,
    timeoutMs: number,
  ): Promise<number | undefined> {
    const status = await this.leaseStatus(leaseId, except, timeoutMs);
    return status.kind === "ttl" ? status.ttl : undefined;
  }

  /**
   * What the members but `except` say of the lease, asked at once with `hasleader` (a member without a
   * leader refuses at once rather than waiting for one): the highest TTL any of them reports; else
   * `no-leader` when one said it has no leader (no leader is expiring leases then, and the next one
   * renews every lease for a whole TTL when it takes over); else `unknown` (no answer within
   * `timeoutMs`, or nobody else to ask). `askAll` asks `except` too, when it is not the only member.
   */
  async leaseStatus(
    leaseId: string,
    except: Member | undefined,
    timeoutMs: number,
    askAll = false,
  ): Promise<LeaseStatus> {
    const pool = this.pool;
    if (pool === undefined || (except === undefined && !askAll)) return { kind: "unknown" };
    // A lone member is the stream's own: what it says of the lease is what the stream already failed at.
    if (askAll && pool.members.length < 2) return { kind: "unknown" };
    const others = askAll ? pool.members : pool.members.filter((member) => member !== except);
    if (others.length === 0) return { kind: "unknown" };
    const answers = await Promise.all(
      others.map((member) =>
        within(
          unaryCall<{ TTL: string }>(
            pool,
            "Lease",
            "leaseTimeToLive",
            { ID: leaseId },
            { order: only(member), timeoutMs, metadata: { hasleader: "true" } },
          ).then(
            (outcome) => ("response" in outcome ? Number(outcome.response.TTL) : Number.NaN),
            (error: unknown) => (NO_LEADER.test(String(error)) ? "no-leader" : Number.NaN),
          ),
          timeoutMs + 100,
        ),
      ),
    );
    const ttls = answers.filter(
      (answer): answer is number => typeof answer === "number" && !Number.isNaN(answer),
    );
    if (ttls.length > 0) return { kind: "ttl", ttl: Math.max(...ttls) };
    if (answers.includes("no-leader")) return { kind: "no-leader" };
    return { kind: "unknown" };
  }

  /**
   * Whether `member` says `revision` is compacted: a linearizable count of [key, rangeEnd) at that
   * revision, refused with etcd's "required revision has been compacted" (true), or answered or refused
   * as a future revision (false: a watch may start one past the store).
   * Undefined when it gives no answer within `timeoutMs` or fails otherwise. Linearizable, so etcd's gRPC
   * proxy forwards it rather than answering from its cache.
   */
  async isCompacted(
    member: Member,
    range: { key: Uint8Array; rangeEnd: Uint8Array },
    revision: bigint,
    timeoutMs: number,
  ): Promise<boolean | undefined> {
    const outcome = await this.countRange(member, range, { revision: String(revision) }, timeoutMs, {
      isAnswer: (error) => COMPACTED.test(error.message) || FUTURE.test(error.message),
    });
    if (outcome === undefined) return undefined;
    return "answer" in outcome && COMPACTED.test(outcome.answer.message);
  }

  /**
   * The store revision `member` reports when asked to count the keys of [key, rangeEnd) (a linearizable
   * read needs its leader; a serializable one only the member), or undefined if it gives no answer within
   * `timeoutMs` or answers with an error. A liveness probe that costs no write.
   */
  async readRevision(
    member: Member,
    range: { key: Uint8Array; rangeEnd: Uint8Array; linearizable: boolean },
    timeoutMs: number,
  ): Promise<bigint | undefined> {
    const outcome = await this.countRange<{ header?: { revision?: string } }>(
      member,
      range,
      { serializable: !range.linearizable },
      timeoutMs,
    );
    if (outcome === undefined || !("response" in outcome)) return undefined;
    return BigInt(outcome.response.header?.revision ?? "0");
  }

  /**
   * A count-only range of [key, rangeEnd) on `member` alone, with `fields` added to the request;
   * undefined without a pool, or when no outcome comes within `timeoutMs` (or the call fails).
   */
  private countRange<T>(
    member: Member,
    range: { key: Uint8Array; rangeEnd: Uint8Array },
    fields: { revision: string } | { serializable: boolean },
    timeoutMs: number,
    options: Pick<UnaryCallOptions, "isAnswer"> = {},
  ): Promise<UnaryOutcome<T> | undefined> {
    const pool = this.pool;
    if (pool === undefined) return Promise.resolve(undefined);
    const request = { key: range.key, range_end: range.rangeEnd, count_only: true, ...fields };
    return within(
      unaryCall<T>(pool, "KV", "range", request, { order: only(member), timeoutMs, ...options }),
      timeoutMs + 100,
    );
  }

  /**
   * Whether every member answers a status call within `timeoutMs` (true when the pool cannot be asked
   * member by member). Those that do not rank last. A member that does not answer right after a leader
   * change may be the deposed leader, stopped rather than gone.
   */
  async allMembersAnswer(timeoutMs: number): Promise<boolean> {
    const pool = this.pool;
    if (pool === undefined || pool.members.length < 2) return true;
    const members = [...pool.members];
    const answers = await Promise.all(
      members.map((member) =>
        within(
          unaryCall(pool, "Maintenance", "status", {}, { order: only(member), timeoutMs }).then(() => true),
          timeoutMs + 500,
        ),
      ),
    );
    members.forEach((member, i) => {
      if (answers[i] !== true) this.noteSilent(member);
    });
    return answers.every((answered) => answered === true);
  }
}

/** `promise`, or GRPCDeadlineExceededError if it has not settled shortly after `timeoutMs` of real time. */
export function bounded<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: TimerHandle;
  const abandoned = new Promise<never>((_, reject) => {
    timer = systemClock.setTimeout(
      () => reject(new GRPCDeadlineExceededError(`no answer from etcd within ${timeoutMs}ms`)),
      timeoutMs + ABANDON_SLACK_MS,
    );
  });
  promise.catch(() => undefined);
  return Promise.race([promise, abandoned]).finally(() => systemClock.clearTimeout(timer));
}
