import { keyFromBytes, keyToBytes } from "@etcd-naming/codec";
import type { Namespace } from "etcd3";
import {
  castGrpcError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  GRPCResourceExhastedError,
  GRPCUnavailableError,
} from "etcd3";
import type { Clock, TimerHandle } from "./clock.js";
import { MAX_TIMER_MS, systemClock } from "./clock.js";
import { WatcherError } from "./errors.js";
import type {
  CancelWatch,
  NamingSource,
  SourceEvent,
  SourceKeyValue,
  SourceListing,
  SourceListOptions,
  WatchHandlers,
} from "./source.js";

/** Options of {@link createEtcd3Source}. */
export interface Etcd3SourceOptions {
  /** Keys per range page (default 1,000); halved automatically when a page exceeds the gRPC receive limit. */
  pageSize?: number;
  /** Deadline of each range page, in ms (default 10,000). */
  listTimeoutMs?: number;
  /**
   * Open watch streams with the `hasleader` metadata (default true): a member that loses its leader then
   * cancels the stream instead of serving a view that can no longer change.
   */
  requireLeader?: boolean;
  /** After this long without any response on a watch stream, ask for a progress report (default 2,000 ms). */
  progressIntervalMs?: number;
  /**
   * How long the member has to answer a create or progress request (default 3,000 ms). A member that
   * stays silent (stopped, partitioned, overloaded) is given up on: the watch fails over to another member.
   */
  progressTimeoutMs?: number;
  /** Time provider for the liveness timers (default: the system clock). */
  clock?: Clock;
}

/** Counters of an {@link Etcd3Source}, to observe sharing, fail-over and clean-up. */
export interface Etcd3SourceStats {
  /** Watch streams currently open. */
  openWatches: number;
  /** Watch streams opened since the source was created. */
  watchesOpened: number;
  /** Calls to `list()`. */
  lists: number;
  /** Keys per range page `list()` asks for now: `pageSize`, halved for good while pages were too large. */
  pageSize: number;
  /** The member (host:port) of each open watch stream, in opening order. */
  watchHosts: string[];
  /** Progress reports etcd sent on this source's watch streams: the answers to its liveness checks. */
  progressReports: number;
}

/** A {@link NamingSource} on an `etcd3` client. */
export interface Etcd3Source extends NamingSource {
  stats(): Etcd3SourceStats;
}

// The parts of etcd3's connection pool this source relies on. They are not public API, so they are
// described here rather than imported; etcd3 is pinned to ^1.1.2, whose pool has this shape.
interface PoolHost {
  readonly host: string;
}
interface Pool {
  readonly hosts: PoolHost[];
  withConnection<T>(
    service: "Watch",
    fn: (args: { resource: PoolHost; client: GrpcWatchClient; metadata: GrpcMetadata }) => T,
    hosts?: Iterator<PoolHost>,
  ): Promise<T>;
  withConnection<T>(
    service: "KV",
    fn: (args: { resource: PoolHost; client: GrpcKvClient; metadata: GrpcMetadata }) => T,
  ): Promise<T>;
  markFailed(resource: PoolHost, error: Error): void;
}
interface GrpcMetadata {
  clone(): GrpcMetadata;
  set(key: string, value: string): void;
}
interface GrpcKvClient {
  range(
    request: object,
    metadata: GrpcMetadata,
    options: object,
    callback: (error: Error | null, response: RawRangeResponse) => void,
  ): void;
}
interface GrpcWatchClient {
  watch(metadata: GrpcMetadata, options: object): WatchStream;
}
interface WatchStream {
  write(message: object): boolean;
  cancel(): void;
  end(): void;
  on(event: "data", listener: (response: RawWatchResponse) => void): WatchStream;
  on(event: "error", listener: (error: Error & { code?: number }) => void): WatchStream;
  on(event: "end", listener: () => void): WatchStream;
}
interface RawKeyValue {
  key: Buffer;
  value: Buffer;
  mod_revision: string;
  create_revision: string;
  lease: string;
}
interface RawWatchResponse {
  header: { revision: string };
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  cancel_reason: string;
  fragment: boolean;
  // etcd3 loads its protos with `enums: String`, so the type is the enum value's name in its kv.proto.
  events: { type: "Put" | "Delete"; kv: RawKeyValue }[];
}
interface RawRangeResponse {
  header: { revision: string };
  kvs: RawKeyValue[];
  more: boolean;
}
interface KvClient {
  range(request: object, options?: object): Promise<RawRangeResponse>;
}
interface TooLarge {
  readonly tooLarge: Error;
}
interface ClientInternals {
  readonly pool: Pool & { readonly authenticator?: { invalidateMetadata?(): void } };
  readonly kv: KvClient;
  readonly prefix: Buffer;
}

/** etcd3's own helper is not exported from its index; a prefix's range end is the prefix with its last byte below 0xff incremented. */
function rangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** A positive option that a timer (or a page) can take: up to 2^31 − 1, beyond which Node fires at once. */
function positive(name: string, value: number): number {
  if (typeof value !== "number" || !(value > 0 && value <= MAX_TIMER_MS)) {
    throw new WatcherError(
      "INVALID_OPTIONS",
      `${name} must be a positive number up to ${MAX_TIMER_MS}, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Creates a {@link NamingSource} on an `etcd3` client (or one of its namespaces), sharing its connections.
 *
 * - `list` pages through the prefix with `limit` at the first page's revision (one consistent snapshot).
 * - Each `watch` is its own gRPC stream on the client's channel to a member, opened with `hasleader`,
 *   resumed by the caller from its own last revision (never from etcd3's header-based resume point).
 * - A member that does not answer a create or progress request in time is reported as a failed watch and
 *   avoided when the watch is opened again, so a stopped or partitioned member cannot hold it silent.
 *   Each watch starts one revision before the one asked for (whose events are dropped), because etcd
 *   3.4.38+, 3.5.22+ and 3.6.2+ answer no progress request for a watch that starts ahead of the store.
 *
 * The client stays owned by the caller: close the watchers first, then the client.
 *
 * @example
 * const client = new Etcd3({ hosts: ["10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"] });
 * const watcher = watchService(createEtcd3Source(client), "my-service");
 */
export function createEtcd3Source(client: Namespace, options: Etcd3SourceOptions = {}): Etcd3Source {
  const internals = client as unknown as ClientInternals;
  if (typeof internals.pool?.withConnection !== "function" || typeof internals.kv?.range !== "function") {
    throw new WatcherError(
      "INVALID_OPTIONS",
      "createEtcd3Source expects an etcd3 client (Etcd3 or Namespace)",
    );
  }
  const { pool } = internals;
  const namespace = internals.prefix ?? Buffer.alloc(0);
  // etcd reads a limit of 0 as "no limit": a page size below 1 would list everything in one page.
  const pageSize = Math.floor(positive("pageSize", options.pageSize ?? 1000));
  if (pageSize < 1)
    throw new WatcherError("INVALID_OPTIONS", `pageSize must be at least 1, got ${options.pageSize}`);
  const listTimeoutMs = positive("listTimeoutMs", options.listTimeoutMs ?? 10_000);
  const progressIntervalMs = positive("progressIntervalMs", options.progressIntervalMs ?? 2_000);
  const progressTimeoutMs = positive("progressTimeoutMs", options.progressTimeoutMs ?? 3_000);
  const requireLeader = options.requireLeader ?? true;
  const clock = options.clock ?? systemClock;

  // When a member last failed a watch of this source; fresh streams go to the members that failed least recently.
  const lastFailure = new Map<PoolHost, number>();
  const open = new Set<{ host: PoolHost | undefined }>();
  let watchesOpened = 0;
  let lists = 0;
  let progressReports = 0;
  // Learned across calls: a page that once exceeded the receive limit would do so again on every list.
  let listLimit = pageSize;

  function* preferredHosts(): Generator<PoolHost> {
    const hosts = [...pool.hosts];
    for (let i = hosts.length - 1; i > 0; i--) {
      const j = Math.floor(clock.random() * (i + 1));
      [hosts[i], hosts[j]] = [hosts[j]!, hosts[i]!];
    }
    hosts.sort((a, b) => (lastFailure.get(a) ?? -1) - (lastFailure.get(b) ?? -1));
    for (;;) yield* hosts;
  }

  const fullKey = (key: string) => Buffer.concat([namespace, keyToBytes(key)]);
  // Keys are bytes: two keys that differ only in bytes that are not UTF-8 must stay two keys.
  const localKey = (key: Buffer) => keyFromBytes(key.subarray(namespace.length));
  const toKeyValue = (raw: RawKeyValue): SourceKeyValue => {
    const out: SourceKeyValue = {
      key: localKey(raw.key),
      value: raw.value,
      modRevision: String(raw.mod_revision),
      createRevision: String(raw.create_revision),
    };
    if (raw.lease !== undefined && String(raw.lease) !== "0") out.lease = String(raw.lease);
    return out;
  };

  // A page goes to the member through the pool directly rather than through `kv.range`: etcd3's
  // global retry and per-host circuit breaker count RESOURCE_EXHAUSTED as a member failure (and close
  // the member's channels), so an oversized page would open the breaker, failing the smaller pages and
  // every other call of the client, before `list` could shrink the page. An oversized page is therefore
  // handed back as a value: to the breaker the member answered, as it did.
  async function rangePage(request: object, retried = false): Promise<RawRangeResponse | TooLarge> {
    try {
      return await pool.withConnection(
        "KV",
        ({ client: grpcClient, metadata }) =>
          new Promise<RawRangeResponse | TooLarge>((resolve, reject) => {
            const deadline = new Date(Date.now() + listTimeoutMs);
            grpcClient.range(request, metadata, { deadline }, (error, response) => {
              if (error === null) {
                resolve(response);
                return;
              }
              const cast = castGrpcError(error);
              // etcd's own RESOURCE_EXHAUSTED errors (too many requests, no space) are member trouble.
              if (cast instanceof GRPCResourceExhastedError && !cast.message.includes("etcdserver:")) {
                resolve({ tooLarge: cast });
              } else {
                reject(cast);
              }
            });
          }),
      );
    } catch (error) {
      // What etcd3's own calls do when a simple token expired: fetch a new one and try once more.
      if (error instanceof EtcdInvalidAuthTokenError && !retried) {
        internals.pool.authenticator?.invalidateMetadata?.();
        return rangePage(request, true);
      }
      throw error;
    }
  }

  async function list(prefix: string, listOptions: SourceListOptions): Promise<SourceListing> {
    lists++;
    const start = fullKey(prefix);
    const end = rangeEnd(start);
    const kvs: SourceKeyValue[] = [];
    let revision: string | undefined;
    let key = start;
    for (;;) {
      let page: RawRangeResponse | TooLarge;
      try {
        page = await rangePage({
          key,
          range_end: end,
          limit: listLimit,
          // Every page reads the first page's revision, so the pages form one snapshot.
          revision: revision ?? "0",
          serializable: !listOptions.linearizable,
        });
      } catch (error) {
        if (error instanceof EtcdPermissionDeniedError) throw denied(prefix, error);
        throw error;
      }
      if ("tooLarge" in page) {
        if (listLimit <= 1) throw page.tooLarge;
        listLimit = Math.max(1, Math.floor(listLimit / 2));
        continue;
      }
      revision ??= String(page.header.revision);
      for (const raw of page.kvs) kvs.push(toKeyValue(raw));
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || last === undefined) break;
      key = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { revision, kvs };
  }

  function watch(prefix: string, fromRevision: string, handlers: WatchHandlers): CancelWatch {
    const entry: { host: PoolHost | undefined } = { host: undefined };
    open.add(entry);
    watchesOpened++;
    let stream: WatchStream | undefined;
    let finished = false;
    let cancelled = false;
    let idleTimer: TimerHandle | undefined;
    let deadlineTimer: TimerHandle | undefined;
    let fragments: SourceEvent[] = [];

    const clearTimers = () => {
      if (idleTimer !== undefined) clock.clearTimeout(idleTimer);
      if (deadlineTimer !== undefined) clock.clearTimeout(deadlineTimer);
      idleTimer = deadlineTimer = undefined;
    };
    const finish = () => {
      if (finished) return false;
      finished = true;
      open.delete(entry);
      clearTimers();
      stream?.cancel();
      return true;
    };
    const fail = (error: Error) => {
      if (entry.host !== undefined) lastFailure.set(entry.host, clock.now());
      if (finish() && !cancelled) handlers.onError(error);
    };
    const expectAnswer = (what: string) => {
      if (deadlineTimer !== undefined) return;
      deadlineTimer = clock.setTimeout(() => {
        deadlineTimer = undefined;
        const host = entry.host;
        const error = new WatcherError(
          "WATCH_FAILED",
          `etcd member ${host?.host ?? "?"} did not answer a ${what} within ${progressTimeoutMs} ms`,
        );
        // Closing the member's channels makes the client (and its other users) reconnect instead of
        // waiting on a connection nobody answers.
        if (host) pool.markFailed(host, new GRPCUnavailableError(error.message));
        fail(error);
      }, progressTimeoutMs);
    };
    const heardFrom = () => {
      if (deadlineTimer !== undefined) clock.clearTimeout(deadlineTimer);
      deadlineTimer = undefined;
      if (idleTimer !== undefined) clock.clearTimeout(idleTimer);
      idleTimer = clock.setTimeout(() => {
        idleTimer = undefined;
        if (finished) return;
        stream?.write({ progress_request: {} });
        expectAnswer("progress request");
      }, progressIntervalMs);
    };

    const onData = (response: RawWatchResponse) => {
      if (finished) return;
      heardFrom();
      if (response.canceled) {
        const compactRevision = String(response.compact_revision ?? "0");
        if (compactRevision !== "0" && startRevision < wanted && BigInt(compactRevision) <= wanted) {
          // Only the early revision is gone, not one the caller asked for: watch from that one instead
          // (it is at or below the compaction, so the store has it and progress requests are answered).
          create(wanted);
        } else if (compactRevision !== "0") {
          if (finish() && !cancelled) handlers.onCompacted(compactRevision);
        } else {
          const reason = response.cancel_reason || "no reason given";
          const error = new Error(`etcd cancelled the watch: ${reason}`);
          // etcd3 re-authenticates unary calls on this error but not streams; a simple token that
          // expired while only a watch used it would otherwise be resent on every retry.
          if (reason.includes(INVALID_TOKEN)) internals.pool.authenticator?.invalidateMetadata?.();
          fail(reason.includes(PERMISSION_DENIED) ? denied(prefix, error) : error);
        }
        return;
      }
      if (response.created) {
        handlers.onConnected();
        return;
      }
      // Large revisions arrive in fragments; deliver a revision only once it is whole.
      for (const event of response.events ?? []) {
        const key = localKey(event.kv.key);
        fragments.push(
          event.type === "Delete"
            ? { type: "delete", key, modRevision: String(event.kv.mod_revision) }
            : { type: "put", ...toKeyValue(event.kv) },
        );
      }
      if (response.fragment) return;
      const whole = fragments;
      fragments = [];
      if (whole.length === 0) progressReports++;
      // The revision before the one asked for is replayed only because the watch starts there.
      const events = whole.filter((event) => BigInt(event.modRevision) >= wanted);
      if (events.length > 0) handlers.onEvents(events);
    };

    // etcd 3.4.38+, 3.5.22+ and 3.6.2+ answer no progress request for a watch whose start revision is
    // ahead of the store (etcd-io/etcd#20229), and "the last revision seen + 1" is ahead whenever
    // nothing was written since: on a quiet store every healthy member would look silent. The watch
    // therefore starts one revision early, at a revision the store has, and drops that revision's events.
    const wanted = BigInt(fromRevision);
    let startRevision = wanted > 1n ? wanted - 1n : wanted;
    const start = fullKey(prefix);
    const create = (revision: bigint) => {
      startRevision = revision;
      stream?.write({
        create_request: {
          key: start,
          range_end: rangeEnd(start),
          start_revision: String(revision),
          progress_notify: true,
          fragment: true,
        },
      });
      expectAnswer("watch create request");
    };
    pool
      .withConnection(
        "Watch",
        ({ resource, client: grpcClient, metadata }) => {
          entry.host = resource;
          const streamMetadata = metadata.clone();
          if (requireLeader) streamMetadata.set("hasleader", "true");
          return grpcClient.watch(streamMetadata, {});
        },
        preferredHosts(),
      )
      .then(
        (opened) => {
          stream = opened;
          // Listeners stay attached after cancel(): gRPC reports the cancellation as an error.
          opened.on("error", (error) => {
            if (finished) return;
            if (entry.host && error.code !== undefined && transientStatuses.has(error.code)) {
              pool.markFailed(entry.host, error);
            }
            if (error.message.includes(INVALID_TOKEN)) internals.pool.authenticator?.invalidateMetadata?.();
            fail(error);
          });
          opened.on("end", () => fail(new Error("etcd closed the watch stream")));
          opened.on("data", onData);
          if (finished) {
            opened.cancel();
            return;
          }
          create(startRevision);
        },
        (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
      );

    return async () => {
      cancelled = true;
      finish();
    };
  }

  return {
    list,
    watch,
    stats: () => ({
      openWatches: open.size,
      watchesOpened,
      lists,
      pageSize: listLimit,
      watchHosts: [...open].flatMap((e) => (e.host ? [e.host.host] : [])),
      progressReports,
    }),
  };
}

const INVALID_TOKEN = "invalid auth token";
const PERMISSION_DENIED = "permission denied";

function denied(prefix: string, cause: Error): WatcherError {
  return new WatcherError(
    "PERMISSION_DENIED",
    `etcd permission denied: reading ${prefix} needs the read permission on the prefix ${prefix}`,
    { cause },
  );
}

// gRPC stream errors carry a numeric status; these are the statuses etcd3 treats as transient.
const transientStatuses = new Set([1, 2, 4, 8, 10, 13, 14]);
