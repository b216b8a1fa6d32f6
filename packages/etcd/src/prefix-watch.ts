import { GRPCUnavailableError } from "etcd3";
import type { TimerClock, TimerHandle } from "./clock.js";
import { decodeWatchResponse, type RawKeyValue, type RawWatchResponse } from "./etcd-wire.js";
import type { Member } from "./etcd3-pool.js";
import { leave, livenessOf, type MemberLiveness } from "./member-liveness.js";
import type { MemberRouter } from "./member-router.js";
import { prefixRangeEnd } from "./prefix-range.js";

export type { RawKeyValue } from "./etcd-wire.js";

/** One event of a {@link openPrefixWatch} watch. */
export interface RawWatchEvent {
  readonly type: "put" | "delete";
  /** The key without the client's namespace. */
  readonly kv: RawKeyValue;
}

interface WatchStream {
  write(message: object): boolean;
  cancel(): void;
  on(event: "data", listener: (response: RawWatchResponse) => void): WatchStream;
  on(event: "error", listener: (error: Error & { code?: number }) => void): WatchStream;
  on(event: "end", listener: () => void): WatchStream;
}

/** Why a watch ended, for callers that map it to their own errors. */
export type PrefixWatchFailure =
  /** The member did not answer a create or progress request in time. */
  | "silent"
  /** etcd cancelled the watch: it refused the read. */
  | "denied"
  /** etcd cancelled the watch for another reason. */
  | "cancelled";

/**
 * How a watch ends when the member goes silent or etcd cancels it (other than for a compaction, which has
 * its own handler). A broken stream ends it with the stream's own error.
 */
export class PrefixWatchError extends Error {
  constructor(
    readonly failure: PrefixWatchFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PrefixWatchError";
  }
}

/** What the watches of one user share. */
export interface PrefixWatchContext {
  readonly router: MemberRouter;
  /** The client's namespace: keys are reported without it. */
  readonly namespace: Buffer;
  readonly clock: TimerClock;
  /** Open with `hasleader`: a member cut off from its leader refuses the watch. */
  readonly requireLeader: boolean;
  /** Ask for a progress report after this long without a response. */
  readonly progressIntervalMs: number;
  /** A create or progress request unanswered this long fails the watch (the member is silent). */
  readonly progressTimeoutMs: number;
  /** The member of each open stream (undefined while it opens). */
  readonly open: Set<{ member: Member | undefined }>;
  readonly counters: { watchesOpened: number; progressReports: number };
}

/** What a watch tells its user; nothing is called after the watch is cancelled. */
export interface PrefixWatchHandlers {
  /** etcd created the watch. */
  onConnected(): void;
  /** Each whole revision's events (fragments are gathered first), in order. */
  onEvents(events: RawWatchEvent[]): void;
  /**
   * The start revision was compacted: list again and watch from the listing's revision + 1. The argument
   * is etcd's compaction revision, or the start revision when a read found it compacted first.
   */
  onCompacted(compactRevision: string): void;
  /** The watch ended; it is not resumed (the caller decides where from). */
  onError(error: Error): void;
}

/** Options of one {@link openPrefixWatch} watch. */
export interface PrefixWatchOptions {
  /** Only deletes (etcd filters the puts out). */
  deletesOnly?: boolean;
  /**
   * Ask the member first whether the start revision is compacted, and end as compacted without opening
   * the watch if it is (default false). For a watch resumed from a revision that may be old: etcd's gRPC
   * proxy would otherwise keep the watch etcd ends and put later watches of the prefix on it.
   */
  checkCompacted?: boolean;
}

/** Stops a watch; resolves at once (the stream is cancelled, never waited on). */
export type CancelPrefixWatch = () => Promise<void>;

const INVALID_TOKEN = "invalid auth token";
const PERMISSION_DENIED = "permission denied";
// gRPC stream errors carry a numeric status; these are the statuses etcd3 treats as transient.
const transientStatuses = new Set([1, 2, 4, 8, 10, 13, 14]);
/** etcd's `WatchCreateRequest.FilterType.NOPUT`. */
const NOPUT = 0;

/**
 * One watch of a prefix on its own gRPC stream, on the best ranked member, not etcd3's shared watch
 * stream: a response that grpc-js delivers after etcd3 dropped its watcher makes etcd3 throw where no one
 * can catch it, and etcd3 resumes from a response header that can be ahead of undelivered events.
 *
 * A member that does not answer a create or progress request in time is reported as a failed watch and
 * ranked last, so a stopped or partitioned member cannot hold the watch silent. The watches of one context
 * on one member share the check: a quiet one asks only when none of them heard from the member or asked
 * it for an interval, and a progress question left unanswered while none heard from the member fails
 * them all (but those still waiting for the answer to their create). A watch that starts ahead of a
 * quiet store, which etcd 3.4.38+, 3.5.22+ and 3.6.2+ send no progress reports, is checked with a read
 * of the prefix's key count on its member instead.
 */
export function openPrefixWatch(
  context: PrefixWatchContext,
  prefix: Uint8Array,
  fromRevision: string,
  handlers: PrefixWatchHandlers,
  options: PrefixWatchOptions = {},
): CancelPrefixWatch {
  const { router, namespace, clock, progressIntervalMs, progressTimeoutMs } = context;
  const entry: { member: Member | undefined } = { member: undefined };
  context.open.add(entry);
  context.counters.watchesOpened++;
  let stream: WatchStream | undefined;
  let finished = false;
  let cancelled = false;
  let idleTimer: TimerHandle | undefined;
  let deadlineTimer: TimerHandle | undefined;
  let fragments: RawWatchEvent[] = [];
  /** The liveness this watch shares with the context's other watches on its member, once its stream is open. */
  let shared: MemberLiveness | undefined;

  const clearTimers = () => {
    if (idleTimer !== undefined) clock.clearTimeout(idleTimer);
    if (deadlineTimer !== undefined) clock.clearTimeout(deadlineTimer);
    idleTimer = deadlineTimer = undefined;
  };
  const finish = () => {
    if (finished) return false;
    finished = true;
    context.open.delete(entry);
    if (shared !== undefined && entry.member !== undefined) leave(context, entry.member, failSilent);
    clearTimers();
    stream?.cancel();
    return true;
  };
  const fail = (error: Error) => {
    // Fresh streams go to the members that failed least recently.
    router.noteSilent(entry.member);
    if (finish() && !cancelled) handlers.onError(error);
  };
  /** What the member was asked and has not answered yet. */
  let question: "watch create request" | "progress request" | undefined;
  // Another watch's progress question went unanswered; a watch still waiting for its create's answer is
  // left to its own deadline (it was sent later, and etcd answers creates in turn).
  function failSilent(error: PrefixWatchError) {
    if (question !== "watch create request") fail(error);
  }
  const expectAnswer = (what: "watch create request" | "progress request") => {
    if (deadlineTimer !== undefined) return;
    question = what;
    const askedAt = clock.now();
    deadlineTimer = clock.setTimeout(() => {
      deadlineTimer = undefined;
      question = undefined;
      const member = entry.member;
      const error = new PrefixWatchError(
        "silent",
        `etcd member ${member?.host ?? "?"} did not answer a ${what} within ${progressTimeoutMs} ms`,
      );
      // Closing the member's channels makes the client (and its other users) reconnect instead of
      // waiting on a connection nobody answers (a lone member is left alone: see reportFailure).
      if (member) router.reportFailure(member, new GRPCUnavailableError(error.message));
      // The other watches on the member rely on a progress question: when none of them heard from the
      // member since it was asked either, the member is silent for them too.
      const others =
        what === "progress request" && shared !== undefined && shared.heard < askedAt
          ? [...shared.watches]
          : [];
      fail(error);
      for (const other of others) if (other !== failSilent) other(error);
    }, progressTimeoutMs);
  };
  // The idle timer is armed once and re-armed only when it fires: a response just notes the time
  // (a clearTimeout and a setTimeout per response is measurable on an isolated change).
  let lastHeard = 0;
  const onIdle = () => {
    idleTimer = undefined;
    if (finished) return;
    const now = clock.now();
    // Quiet since this watch, or any other on its member, heard from the member or asked it.
    const quiet = now - Math.max(lastHeard, shared?.heard ?? 0, shared?.asked ?? 0);
    // A clock that went back (a wall-clock step) says nothing about silence: ask, as after a quiet spell.
    if (quiet >= 0 && quiet < progressIntervalMs) {
      idleTimer = clock.setTimeout(onIdle, progressIntervalMs - quiet);
      return;
    }
    if (shared !== undefined) shared.asked = now;
    stream?.write({ progress_request: {} });
    expectAnswer("progress request");
    if (ahead) probe();
  };
  const heardFrom = () => {
    if (deadlineTimer !== undefined) clock.clearTimeout(deadlineTimer);
    deadlineTimer = undefined;
    question = undefined;
    lastHeard = clock.now();
    if (shared !== undefined) shared.heard = lastHeard;
    idleTimer ??= clock.setTimeout(onIdle, progressIntervalMs);
  };
  // etcd 3.4.38+, 3.5.22+ and 3.6.2+ answer no progress request for a watch whose start revision is
  // ahead of the store (etcd-io/etcd#20229), and "the listed revision + 1" is ahead as long as nothing is
  // written anywhere in the store. While that lasts the member is also asked, on the side, to count the
  // prefix's keys: its answer proves it alive as a progress report would, and its revision says when the
  // store has caught up. (Starting the watch one revision early instead would get progress reports, but
  // etcd syncs a watch that starts behind the store only every 100 ms: the first changes would wait.)
  const probe = () => {
    const member = entry.member;
    if (member === undefined) return;
    router
      .readRevision(
        member,
        // Serializable: the member answers from its own store, which proves it alive without asking the
        // leader (a slow leader must not make a healthy follower look silent).
        { key: start, rangeEnd: prefixRangeEnd(start), linearizable: false },
        progressTimeoutMs,
      )
      .then((revision) => {
        if (finished || revision === undefined) return;
        if (revision >= wanted) ahead = false;
        context.counters.progressReports++;
        heardFrom();
      });
  };

  const onData = (response: RawWatchResponse) => {
    // grpc-js can deliver a response after the stream was cancelled: it is no one's any more.
    if (finished) return;
    heardFrom();
    if (response.canceled) {
      const compactRevision = String(response.compact_revision ?? "0");
      if (compactRevision !== "0") {
        if (finish() && !cancelled) handlers.onCompacted(compactRevision);
      } else {
        const reason = response.cancel_reason || "no reason given";
        const denied = reason.includes(PERMISSION_DENIED);
        const error = new PrefixWatchError(
          denied ? "denied" : "cancelled",
          `etcd cancelled the watch: ${reason}`,
        );
        // etcd3 re-authenticates unary calls on this error but not streams; a simple token that
        // expired while only a watch used it would otherwise be resent on every retry.
        if (reason.includes(INVALID_TOKEN)) router.invalidateAuthToken();
        fail(error);
      }
      return;
    }
    if (response.created) {
      ahead = BigInt(response.header?.revision ?? "0") < wanted;
      handlers.onConnected();
      return;
    }
    // Large revisions arrive in fragments; deliver a revision only once it is whole.
    for (const event of response.events ?? []) {
      const kv = event.kv;
      if (namespace.length > 0) kv.key = kv.key.subarray(namespace.length);
      fragments.push({ type: event.type === "Delete" ? "delete" : "put", kv });
    }
    if (response.fragment) return;
    const whole = fragments;
    fragments = [];
    if (whole.length === 0) context.counters.progressReports++;
    // Any answer at or past the revision asked for means the store has reached it.
    if (ahead && BigInt(response.header?.revision ?? "0") >= wanted) ahead = false;
    if (whole.length > 0) handlers.onEvents(whole);
  };

  const wanted = BigInt(fromRevision);
  /** Whether the watch starts ahead of the store (see `probe`). */
  let ahead = false;
  const start = Buffer.concat([namespace, prefix]);
  const create = () => {
    stream?.write({
      create_request: {
        key: start,
        range_end: prefixRangeEnd(start),
        start_revision: fromRevision,
        progress_notify: true,
        fragment: true,
        ...(options.deletesOnly === true ? { filters: [NOPUT] } : {}),
      },
    });
    expectAnswer("watch create request");
  };
  // etcd's gRPC proxy keeps serving a watch that etcd ended for a compaction, and puts later watches of
  // the same prefix on it, where they never hear of a change again (etcd-io/etcd#21813). With
  // `checkCompacted` the member is asked first whether the start revision is compacted (a read at that
  // revision): if it is, the watch ends as compacted without ever being created. The create request's
  // deadline covers the check.
  const createUnlessCompacted = () => {
    const member = entry.member;
    if (member === undefined || options.checkCompacted !== true) return create();
    expectAnswer("watch create request");
    const range = { key: start, rangeEnd: prefixRangeEnd(start) };
    void router.isCompacted(member, range, wanted, progressTimeoutMs).then((compacted) => {
      if (finished) return;
      if (compacted === true) {
        // The read does not say where the compaction was: at least the start revision.
        if (finish() && !cancelled) handlers.onCompacted(fromRevision);
        return;
      }
      if (compacted === false) heardFrom();
      create();
    });
  };
  router
    .openStream<WatchStream>("Watch", "watch", {
      // Responses are decoded by etcd-wire.ts, into the shape etcd3's decoder gives.
      deserialize: decodeWatchResponse,
      ...(context.requireLeader ? { metadata: { hasleader: "true" } } : {}),
      onMember: (member) => {
        entry.member = member;
      },
    })
    .then(
      ({ stream: opened }) => {
        stream = opened;
        // Listeners stay attached after cancel(): gRPC reports the cancellation as an error.
        opened.on("error", (error) => {
          if (finished) return;
          if (entry.member && error.code !== undefined && transientStatuses.has(error.code)) {
            router.reportFailure(entry.member, error);
          }
          if (error.message.includes(INVALID_TOKEN)) router.invalidateAuthToken();
          fail(error);
        });
        opened.on("end", () => fail(new Error("etcd closed the watch stream")));
        opened.on("data", onData);
        if (finished) {
          opened.cancel();
          return;
        }
        if (entry.member !== undefined) {
          shared = livenessOf(context, entry.member);
          shared.watches.add(failSilent);
        }
        createUnlessCompacted();
      },
      (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
    );

  return async () => {
    cancelled = true;
    finish();
  };
}
