import { keyToBytes } from "@etcd-naming/codec";
import { etcdPool, MemberRouter, namespacePrefix, PrefixLister } from "@etcd-naming/etcd";
import type { Namespace } from "etcd3";
import { EtcdPermissionDeniedError } from "etcd3";
import type { Clock } from "./clock.js";
import { MAX_TIMER_MS, systemClock } from "./clock.js";
import { WatcherError } from "./errors.js";
import {
  denied,
  type RawKeyValue,
  toKeyValue,
  type WatchStreamContext,
  watchStream,
} from "./etcd3-watch-stream.js";
import type { NamingSource, SourceKeyValue, SourceListing, SourceListOptions } from "./source.js";

/** Options of {@link createEtcd3Source}. */
export interface Etcd3SourceOptions {
  /**
   * Keys per range page; halved automatically when a page exceeds the gRPC receive limit. By default a
   * listing's first page has 1,000 keys and each later one as many as fit in about 1 MiB at the sizes
   * seen so far (10,000 endpoints of about 100 bytes take two pages).
   */
  pageSize?: number;
  /** Deadline of each range page, in ms (default 10,000). */
  listTimeoutMs?: number;
  /**
   * Open watch streams with the `hasleader` metadata (default true): a member that loses its leader then
   * cancels the stream instead of serving a view that can no longer change.
   */
  requireLeader?: boolean;
  /**
   * After this long without any response on a watch stream, nor on another watch of this source on the
   * same member, ask for a progress report (default 2,000 ms).
   */
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
  /**
   * Keys per range page `list()` asks for now (for a listing's first page, by default): `pageSize`,
   * halved for good while pages were too large.
   */
  pageSize: number;
  /** The member (host:port) of each open watch stream, in opening order. */
  watchHosts: string[];
  /**
   * Answers to the watch streams' liveness checks: progress reports, and for a watch ahead of a quiet store
   * its member's answer to a count of the prefix's keys.
   */
  progressReports: number;
}

/** A {@link NamingSource} on an `etcd3` client. */
export interface Etcd3Source extends NamingSource {
  stats(): Etcd3SourceStats;
}

const NO_NAMESPACE = Buffer.alloc(0);

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
 *   etcd 3.4.38+, 3.5.22+ and 3.6.2+ answer no progress request for a watch that starts ahead of a quiet
 *   store: such a watch's member is also asked to count the prefix's keys, which answers for it.
 *
 * The client stays owned by the caller: close the watchers first, then the client.
 *
 * @example
 * const client = new Etcd3({ hosts: ["10.0.0.1:2379", "10.0.0.2:2379", "10.0.0.3:2379"] });
 * const watcher = watchService(createEtcd3Source(client), "my-service");
 */
export function createEtcd3Source(client: Namespace, options: Etcd3SourceOptions = {}): Etcd3Source {
  if (etcdPool(client) === undefined) {
    throw new WatcherError(
      "INVALID_OPTIONS",
      "createEtcd3Source expects an etcd3 client (Etcd3 or Namespace)",
    );
  }
  // etcd reads a limit of 0 as "no limit": a page size below 1 would list everything in one page.
  const pageSize =
    options.pageSize === undefined ? undefined : Math.floor(positive("pageSize", options.pageSize));
  if (pageSize !== undefined && pageSize < 1)
    throw new WatcherError("INVALID_OPTIONS", `pageSize must be at least 1, got ${options.pageSize}`);
  const listTimeoutMs = positive("listTimeoutMs", options.listTimeoutMs ?? 10_000);
  const clock = options.clock ?? systemClock;
  const namespace = namespacePrefix(client);
  const context: WatchStreamContext = {
    router: new MemberRouter(client, { random: () => clock.random() }),
    namespace,
    clock,
    requireLeader: options.requireLeader ?? true,
    progressIntervalMs: positive("progressIntervalMs", options.progressIntervalMs ?? 2_000),
    progressTimeoutMs: positive("progressTimeoutMs", options.progressTimeoutMs ?? 3_000),
    open: new Set(),
    counters: { watchesOpened: 0, progressReports: 0 },
  };
  // Learns across calls: a page that once exceeded the receive limit would do so again on every list.
  const lister = new PrefixLister(client, {
    ...(pageSize === undefined ? {} : { pageSize }),
    timeoutMs: listTimeoutMs,
  });
  let lists = 0;
  // The revision of each prefix's latest listing, until a watch from the revision after it is opened,
  // and the prefixes watched before: a later watch of one that does not start right after a listing is a
  // resumption, which may start from a revision compacted since (see openPrefixWatch's checkCompacted).
  const listed = new Map<string, bigint>();
  const watched = new Set<string>();

  async function list(prefix: string, listOptions: SourceListOptions): Promise<SourceListing> {
    lists++;
    try {
      const listing = await lister.list(keyToBytes(prefix), {
        linearizable: Boolean(listOptions.linearizable),
      });
      // The lister's keys are already relative to the namespace.
      const kvs: SourceKeyValue[] = listing.kvs.map((kv) => toKeyValue(kv as RawKeyValue, NO_NAMESPACE));
      listed.set(prefix, BigInt(listing.revision));
      return { revision: listing.revision, kvs };
    } catch (error) {
      if (error instanceof EtcdPermissionDeniedError) throw denied(prefix, error);
      throw error;
    }
  }

  return {
    list,
    watch: (prefix, fromRevision, handlers) => {
      const resumed = watched.has(prefix) && listed.get(prefix) !== BigInt(fromRevision) - 1n;
      listed.delete(prefix);
      watched.add(prefix);
      return watchStream(context, prefix, fromRevision, handlers, { checkCompacted: resumed });
    },
    stats: () => ({
      openWatches: context.open.size,
      watchesOpened: context.counters.watchesOpened,
      lists,
      pageSize: lister.pageSize,
      watchHosts: [...context.open].flatMap((e) => (e.member ? [e.member.host] : [])),
      progressReports: context.counters.progressReports,
    }),
  };
}
