import { keyToBytes } from "@etcd-naming/codec";
import type { Namespace } from "etcd3";
import { type Backoff, backoffDelay } from "./backoff.js";
import { systemClock, type TimerClock, type TimerHandle } from "./clock.js";
import { namespacePrefix } from "./etcd3-pool.js";
import { MemberRouter } from "./member-router.js";
import {
  type CancelPrefixWatch,
  openPrefixWatch,
  type PrefixWatchContext,
  PrefixWatchError,
  type RawKeyValue,
} from "./prefix-watch.js";

/** One event of a {@link ResumableWatch}. */
export interface WatchEvent {
  readonly type: "put" | "delete";
  /** The key is relative to the client's namespace. */
  readonly kv: RawKeyValue;
  /** The event's revision (`kv.mod_revision`). */
  readonly revision: bigint;
}

/** Options of {@link ResumableWatch}. */
export interface ResumableWatchOptions {
  /** Only deletes (etcd filters the puts out). */
  deletesOnly?: boolean;
  /** Each response's events, in order; never called after `close()`. */
  onEvents(events: WatchEvent[]): void;
  /**
   * etcd ended the watch: a compaction past the revision to resume from (then list again and watch from
   * the listing's revision + 1), a refused read, or a cancel. Never called after `close()`. A broken
   * stream or a silent member is not an error: the watch resumes on its own.
   */
  onError(error: unknown): void;
  /** Timers and jitter (default the system clock). */
  clock?: TimerClock;
  /**
   * The wait in ms before re-opening attempt `attempt` (0-based) of a broken watch; default 100 ms
   * doubling to 5 s, half jittered with the clock's `random`. The registrar passes its own backoff.
   */
  retryDelayMs?: (attempt: number) => number;
  /** Ask for a progress report after this long without a response, in ms (default 2,000). */
  progressIntervalMs?: number;
  /** A member that leaves a request unanswered this long is failed over, in ms (default 3,000). */
  progressTimeoutMs?: number;
}

const DEFAULT_BACKOFF: Backoff = { initialMs: 100, maxMs: 5_000, multiplier: 2, jitter: 0.5 };

/** One router per client: what went silent for one watch is worth knowing for the next. */
const routers = new WeakMap<Namespace, MemberRouter>();
/** The watches of each client that are neither closed nor ended by etcd. */
const live = new WeakMap<Namespace, Set<ResumableWatch>>();

/** How many {@link ResumableWatch}es on `client` are live: not closed, and not ended by etcd. */
export function liveResumableWatches(client: Namespace): number {
  return live.get(client)?.size ?? 0;
}

function routerOf(client: Namespace): MemberRouter {
  let router = routers.get(client);
  if (router === undefined) {
    router = new MemberRouter(client);
    routers.set(client, router);
  }
  return router;
}

/** The compaction a watch met: the revision to resume from is gone. */
export class WatchCompactedError extends Error {
  constructor(
    readonly compactRevision: string,
    readonly fromRevision: bigint,
  ) {
    super(`etcd compacted revision ${fromRevision} (compacted at ${compactRevision}): list again`);
    this.name = "WatchCompactedError";
  }
}

/**
 * A prefix watch that resumes, after a broken stream or a silent member, from the revision after the last
 * event it delivered, on the etcd layer's own watch streams ({@link openPrefixWatch}: best ranked member,
 * `hasleader`). etcd3's shared watch stream is not used: it resumes from a response header that can be
 * ahead of events not yet delivered, and throws where no one can catch it when grpc-js delivers a
 * response for a watcher it already dropped.
 */
export class ResumableWatch {
  private resumeFrom: bigint;
  private closed = false;
  private cancel: CancelPrefixWatch | undefined;
  private retryTimer: TimerHandle | undefined;
  private attempt = 0;
  private readonly context: PrefixWatchContext;
  private readonly prefix: Uint8Array;
  private readonly siblings: Set<ResumableWatch>;

  constructor(
    client: Namespace,
    prefix: string,
    fromRevision: bigint,
    private readonly options: ResumableWatchOptions,
  ) {
    this.resumeFrom = fromRevision;
    this.prefix = keyToBytes(prefix);
    this.context = {
      router: routerOf(client),
      namespace: namespacePrefix(client),
      clock: options.clock ?? systemClock,
      requireLeader: true,
      progressIntervalMs: options.progressIntervalMs ?? 2_000,
      progressTimeoutMs: options.progressTimeoutMs ?? 3_000,
      open: new Set(),
      counters: { watchesOpened: 0, progressReports: 0 },
    };
    let siblings = live.get(client);
    if (siblings === undefined) {
      siblings = new Set();
      live.set(client, siblings);
    }
    this.siblings = siblings;
    siblings.add(this);
    this.open();
  }

  /** The revision the watch resumes from after a reconnect. */
  get nextRevision(): bigint {
    return this.resumeFrom;
  }

  /** How many streams this watch opened (the first and every resumption). */
  get streamsOpened(): number {
    return this.context.counters.watchesOpened;
  }

  /** Stops the watch; its stream is cancelled at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.siblings.delete(this);
    if (this.retryTimer !== undefined) this.context.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const cancel = this.cancel;
    this.cancel = undefined;
    await cancel?.();
  }

  private open(): void {
    if (this.closed) return;
    const from = this.resumeFrom;
    // A resumption may start from a revision compacted since: asked first (see openPrefixWatch).
    const resumed = this.context.counters.watchesOpened > 0;
    const cancel = openPrefixWatch(
      this.context,
      this.prefix,
      String(from),
      {
        onConnected: () => {
          this.attempt = 0;
        },
        onEvents: (raw) => {
          if (this.closed) return;
          const events: WatchEvent[] = [];
          // Events below this were delivered before a resumption; one revision may hold many events.
          const floor = this.resumeFrom;
          for (const { type, kv } of raw) {
            const revision = BigInt(kv.mod_revision);
            if (revision < floor) continue;
            if (revision >= this.resumeFrom) this.resumeFrom = revision + 1n;
            events.push({ type, kv, revision });
          }
          if (events.length > 0) this.options.onEvents(events);
        },
        onCompacted: (compactRevision) => {
          this.cancel = undefined;
          if (this.closed) return;
          this.siblings.delete(this);
          this.options.onError(new WatchCompactedError(compactRevision, from));
        },
        onError: (error) => {
          this.cancel = undefined;
          if (this.closed) return;
          // etcd said no (a refused read, a cancel): the caller decides. Anything else is resumed.
          if (error instanceof PrefixWatchError && error.failure !== "silent") {
            this.siblings.delete(this);
            this.options.onError(error);
            return;
          }
          const clock = this.context.clock;
          const attempt = this.attempt++;
          const delay =
            this.options.retryDelayMs?.(attempt) ??
            backoffDelay(DEFAULT_BACKOFF, attempt, (clock.random ?? systemClock.random)());
          this.retryTimer = clock.setTimeout(() => {
            this.retryTimer = undefined;
            this.open();
          }, delay);
        },
      },
      { deletesOnly: this.options.deletesOnly === true, checkCompacted: resumed },
    );
    if (!this.closed) this.cancel = cancel;
    else void cancel();
  }
}
