import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from "etcd3";
import {
  EtcdInvalidAuthTokenError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
  isRecoverableError,
} from "etcd3";
import { within } from "./deferred.js";

export type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

// The parts of etcd3's connection pool used here. They are not public API, so they are described
// rather than imported; etcd3 is pinned to ^1.1.2, whose pool has this shape.
interface PoolHost {
  readonly host: string;
}
interface LeaseGrpcClient {
  leaseKeepAlive(metadata: unknown, options?: object): KeepAliveStream & { readonly writable?: boolean };
  leaseTimeToLive(
    request: { ID: string },
    metadata: unknown,
    options: object,
    callback: (error: Error | null, response?: { TTL: string }) => void,
  ): void;
}
interface MaintenanceGrpcClient {
  status(
    request: object,
    metadata: unknown,
    options: object,
    callback: (error: Error | null, response?: unknown) => void,
  ): void;
}
type UnaryMethod = (
  request: object,
  metadata: unknown,
  options: object,
  callback: (error: Error | null, response?: unknown) => void,
) => void;
type UnaryGrpcClient = Partial<Record<string, UnaryMethod>>;
interface Pool {
  readonly hosts: PoolHost[];
  readonly callOptionsFactory?: object | ((context: object) => object);
  readonly authenticator?: { invalidateMetadata?(): void };
  withConnection<T>(
    service: "Lease" | "KV",
    fn: (args: { resource: PoolHost; client: UnaryGrpcClient; metadata: unknown }) => Promise<T>,
    hosts?: Iterator<PoolHost>,
  ): Promise<T>;
  withConnection<T>(
    service: "Lease",
    fn: (args: { resource: PoolHost; client: LeaseGrpcClient; metadata: unknown }) => T | Promise<T>,
    hosts?: Iterator<PoolHost>,
  ): Promise<T>;
  withConnection<T>(
    service: "Maintenance",
    fn: (args: { resource: PoolHost; client: MaintenanceGrpcClient; metadata: unknown }) => Promise<T>,
    hosts?: Iterator<PoolHost>,
  ): Promise<T>;
  markFailed(resource: PoolHost, error: Error): void;
}

/** A keep-alive stream and the member it went to (unknown if the pool cannot tell). */
export interface OpenedKeepAlive {
  readonly stream: KeepAliveStream;
  readonly host: PoolHost | undefined;
}

/**
 * Opens keep-alive streams on the client's members, preferring one that answered since it last went
 * silent, then one never heard from, then those that went silent least recently. etcd3's own
 * `leaseKeepAlive()` picks a member at random and never says which: a stream to a member that is
 * stopped or cut off while the others are fine stays open, silent, until the lease expires.
 */
export class KeepAliveStreams {
  private readonly lastSilent = new Map<PoolHost, number>();
  private readonly lastAnswered = new Map<PoolHost, number>();
  /** Orders silences and answers: only which came last for a member matters, not when. */
  private events = 0;

  constructor(readonly client: Etcd3) {}

  private get pool(): Pool | undefined {
    const pool = (this.client as unknown as { pool?: Pool }).pool;
    return typeof pool?.withConnection === "function" && Array.isArray(pool.hosts) ? pool : undefined;
  }

  open(): Promise<OpenedKeepAlive> {
    const pool = this.pool;
    if (pool === undefined) {
      return this.client.leaseClient.leaseKeepAlive().then((stream) => ({ stream, host: undefined }));
    }
    return pool.withConnection(
      "Lease",
      ({ resource, client, metadata }) => {
        const factory = pool.callOptionsFactory;
        const options =
          typeof factory === "function"
            ? factory({ service: "Lease", method: "leaseKeepAlive", isStream: true })
            : (factory ?? {});
        const stream = client.leaseKeepAlive(metadata, options);
        // What etcd3's own leaseKeepAlive() does: a stream error counts against the member.
        stream.on("error", (error: Error) => {
          if (stream.writable) pool.markFailed(resource, error);
        });
        return { stream, host: resource };
      },
      this.preferred(pool),
    );
  }

  /**
   * `host` did not answer a keep-alive within a tick: close its channels (so the client's other calls
   * reconnect too) unless it is the only member, and send the next streams elsewhere.
   */
  silent(host: PoolHost | undefined, reason: string): void {
    const pool = this.pool;
    if (host === undefined || pool === undefined) return;
    this.events += 1;
    this.lastSilent.set(host, this.events);
    if (pool.hosts.length > 1) pool.markFailed(host, new GRPCUnavailableError(reason));
  }

  /**
   * One unary etcd call, abandoned shortly after `timeoutMs` even if etcd3 still waits on it. With
   * several members each is tried once, best ranked first, under a deadline of its own. etcd3's own call picks
   * members at random and retries a timed-out call on the others under the original, already expired
   * deadline: each retry fails at once yet counts towards that member's circuit breaker, so while one
   * member is stopped two or three timed-out calls open every breaker and the client refuses all calls
   * for seconds. `viaClient` is the call as etcd3 makes it, for a single member or a pool whose members
   * cannot be told apart.
   */
  async call<T>(
    service: "Lease" | "KV",
    method: string,
    request: object,
    timeoutMs: number,
    viaClient: (options: { deadline: Date }) => Promise<T>,
  ): Promise<T> {
    const pool = this.pool;
    if (pool === undefined || pool.hosts.length < 2) {
      return bounded(viaClient({ deadline: new Date(Date.now() + timeoutMs) }), timeoutMs);
    }
    const order = this.preferred(pool);
    let lastError: unknown;
    for (let i = 0; i < pool.hosts.length; i++) {
      const host = order.next().value as PoolHost;
      try {
        return await bounded(
          pool.withConnection(
            service,
            ({ client, metadata }) =>
              new Promise<T>((resolve, reject) => {
                const unary = client[method];
                if (unary === undefined) throw new TypeError(`etcd3 has no ${service}.${method}`);
                const factory = pool.callOptionsFactory;
                const options =
                  typeof factory === "function"
                    ? factory({ service, method, params: request, isStream: false })
                    : (factory ?? {});
                unary.call(
                  client,
                  request,
                  metadata,
                  { ...options, deadline: new Date(Date.now() + timeoutMs) },
                  (error, response) => (error === null ? resolve(response as T) : reject(error)),
                );
              }),
            only(host),
          ),
          timeoutMs,
        );
      } catch (error) {
        if (error instanceof EtcdInvalidAuthTokenError) {
          pool.authenticator?.invalidateMetadata?.();
        } else if (!isRecoverableError(error as Error) && !isBrokenCircuit(error)) {
          throw error;
        }
        lastError = error;
        this.events += 1;
        this.lastSilent.set(host, this.events);
      }
    }
    throw lastError;
  }

  /** `host` answered a keep-alive: the member to reopen on while it keeps answering. */
  answered(host: PoolHost | undefined): void {
    if (host === undefined) return;
    this.events += 1;
    this.lastAnswered.set(host, this.events);
  }

  /**
   * The lease's remaining TTL in seconds according to any member but `except`, asked at once, or
   * undefined if none answers within `timeoutMs` or there is no other member to ask (nor a stream host
   * to tell the others from: no stream was ever opened). The member a keep-alive stream is on can be
   * the one that is wrong: stopped while the others elected a new leader that keeps the lease alive,
   * or just resumed and answering from its stale view of the leases.
   */
  async timeToLive(
    leaseId: string,
    except: PoolHost | undefined,
    timeoutMs: number,
  ): Promise<number | undefined> {
    const pool = this.pool;
    if (pool === undefined || except === undefined) return undefined;
    const others = pool.hosts.filter((host) => host !== except);
    if (others.length === 0) return undefined;
    const answers = await Promise.all(
      others.map((host) =>
        within(
          pool.withConnection(
            "Lease",
            ({ client, metadata }) =>
              new Promise<number>((resolve, reject) => {
                client.leaseTimeToLive(
                  { ID: leaseId },
                  metadata,
                  { deadline: new Date(Date.now() + timeoutMs) },
                  (error, response) => (error === null ? resolve(Number(response?.TTL)) : reject(error)),
                );
              }),
            only(host),
          ),
          timeoutMs + 100,
        ),
      ),
    );
    const ttls = answers.filter((ttl): ttl is number => ttl !== undefined && !Number.isNaN(ttl));
    return ttls.length === 0 ? undefined : Math.max(...ttls);
  }

  /**
   * Whether every member answers a status call within `timeoutMs` (true when the pool cannot be
   * asked member by member). A member that does not answer right after a leader change may be the
   * deposed leader, stopped rather than gone: see `LeaseKeeper.leaderChanged`.
   */
  async allMembersAnswer(timeoutMs: number): Promise<boolean> {
    const pool = this.pool;
    if (pool === undefined || pool.hosts.length < 2) return true;
    const answers = await Promise.all(
      pool.hosts.map((host) => within(this.status(pool, host, timeoutMs), timeoutMs + 500)),
    );
    pool.hosts.forEach((host, i) => {
      if (answers[i] === true) return;
      this.events += 1;
      this.lastSilent.set(host, this.events);
    });
    return answers.every((answered) => answered === true);
  }

  private status(pool: Pool, host: PoolHost, timeoutMs: number): Promise<boolean> {
    return pool.withConnection(
      "Maintenance",
      ({ client, metadata }) =>
        new Promise<boolean>((resolve, reject) => {
          client.status({}, metadata, { deadline: new Date(Date.now() + timeoutMs) }, (error) =>
            error === null ? resolve(true) : reject(error),
          );
        }),
      only(host),
    );
  }

  private *preferred(pool: Pool): Generator<PoolHost> {
    const hosts = [...pool.hosts];
    for (let i = hosts.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [hosts[i], hosts[j]] = [hosts[j]!, hosts[i]!];
    }
    // A member never heard from may well be the stopped one, and a follower that went silent only
    // because the leader it forwards renewals to stopped answers again after the election.
    const rank = (host: PoolHost): [number, number] => {
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
}

/** Beyond its deadline a gRPC call should fail on its own; give it this long before abandoning it. */
const ABANDON_SLACK_MS = 500;

function bounded<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const abandoned = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new GRPCDeadlineExceededError(`no answer from etcd within ${timeoutMs}ms`)),
      timeoutMs + ABANDON_SLACK_MS,
    );
    timer.unref();
  });
  promise.catch(() => undefined);
  return Promise.race([promise, abandoned]).finally(() => clearTimeout(timer));
}

/** Blocked by a member's open circuit breaker (cockatiel's BrokenCircuitError, not re-exported by etcd3). */
function isBrokenCircuit(error: unknown): boolean {
  return (error as { isBrokenCircuitError?: unknown } | null)?.isBrokenCircuitError === true;
}

/** etcd3's pool draws one host per attempt and makes as many attempts as it has hosts. */
function* only(host: PoolHost): Generator<PoolHost> {
  for (;;) yield host;
}
