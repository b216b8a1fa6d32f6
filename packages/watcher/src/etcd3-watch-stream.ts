import { keyFromBytes, keyToBytes } from "@etcd-naming/codec";
import { type Member, type MemberRouter, prefixRangeEnd } from "@etcd-naming/etcd";
import { GRPCUnavailableError } from "etcd3";
import type { Clock, TimerHandle } from "./clock.js";
import { WatcherError } from "./errors.js";
import type { CancelWatch, SourceEvent, SourceKeyValue, WatchHandlers } from "./source.js";

/** A key and value as etcd3's gRPC client hands them over (`longs: String`). */
export interface RawKeyValue {
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

interface WatchStream {
  write(message: object): boolean;
  cancel(): void;
  end(): void;
  on(event: "data", listener: (response: RawWatchResponse) => void): WatchStream;
  on(event: "error", listener: (error: Error & { code?: number }) => void): WatchStream;
  on(event: "end", listener: () => void): WatchStream;
}

/** What the watch streams of one {@link Etcd3Source} share. */
export interface WatchStreamContext {
  readonly router: MemberRouter;
  /** The client's namespace: keys are reported without it. */
  readonly namespace: Buffer;
  readonly clock: Clock;
  readonly requireLeader: boolean;
  readonly progressIntervalMs: number;
  readonly progressTimeoutMs: number;
  /** The member of each open stream (undefined while it opens). */
  readonly open: Set<{ member: Member | undefined }>;
  readonly counters: { watchesOpened: number; progressReports: number };
}

const INVALID_TOKEN = "invalid auth token";
const PERMISSION_DENIED = "permission denied";
// gRPC stream errors carry a numeric status; these are the statuses etcd3 treats as transient.
const transientStatuses = new Set([1, 2, 4, 8, 10, 13, 14]);

/** A key's bytes under the client's namespace. */
export function fullKey(namespace: Buffer, key: string): Buffer {
  return Buffer.concat([namespace, keyToBytes(key)]);
}

/** Keys are bytes: two keys that differ only in bytes that are not UTF-8 must stay two keys. */
export function toKeyValue(raw: RawKeyValue, namespace: Buffer): SourceKeyValue {
  const out: SourceKeyValue = {
    key: keyFromBytes(namespace.length === 0 ? raw.key : raw.key.subarray(namespace.length)),
    value: raw.value,
    modRevision: String(raw.mod_revision),
    createRevision: String(raw.create_revision),
  };
  if (raw.lease !== undefined && String(raw.lease) !== "0") out.lease = String(raw.lease);
  return out;
}

export function denied(prefix: string, cause: Error): WatcherError {
  return new WatcherError(
    "PERMISSION_DENIED",
    `etcd permission denied: reading ${prefix} needs the read permission on the prefix ${prefix}`,
    { cause },
  );
}

/**
 * One watch of a prefix on its own gRPC stream, on the best ranked member, opened with `hasleader`. A
 * member that does not answer a create or progress request in time is reported as a failed watch and
 * ranked last, so a stopped or partitioned member cannot hold the watch silent. A watch that starts ahead
 * of a quiet store, which etcd 3.4.38+, 3.5.22+ and 3.6.2+ send no progress reports, is checked with a
 * read of the prefix's key count on its member instead.
 */
export function watchStream(
  context: WatchStreamContext,
  prefix: string,
  fromRevision: string,
  handlers: WatchHandlers,
): CancelWatch {
  const { router, namespace, clock, progressIntervalMs, progressTimeoutMs } = context;
  const entry: { member: Member | undefined } = { member: undefined };
  context.open.add(entry);
  context.counters.watchesOpened++;
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
    context.open.delete(entry);
    clearTimers();
    stream?.cancel();
    return true;
  };
  const fail = (error: Error) => {
    // Fresh streams go to the members that failed least recently.
    router.noteSilent(entry.member);
    if (finish() && !cancelled) handlers.onError(error);
  };
  const expectAnswer = (what: string) => {
    if (deadlineTimer !== undefined) return;
    deadlineTimer = clock.setTimeout(() => {
      deadlineTimer = undefined;
      const member = entry.member;
      const error = new WatcherError(
        "WATCH_FAILED",
        `etcd member ${member?.host ?? "?"} did not answer a ${what} within ${progressTimeoutMs} ms`,
      );
      // Closing the member's channels makes the client (and its other users) reconnect instead of
      // waiting on a connection nobody answers.
      if (member) router.reportFailure(member, new GRPCUnavailableError(error.message));
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
      if (ahead) probe();
    }, progressIntervalMs);
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
    if (finished) return;
    heardFrom();
    if (response.canceled) {
      const compactRevision = String(response.compact_revision ?? "0");
      if (compactRevision !== "0") {
        if (finish() && !cancelled) handlers.onCompacted(compactRevision);
      } else {
        const reason = response.cancel_reason || "no reason given";
        const error = new Error(`etcd cancelled the watch: ${reason}`);
        // etcd3 re-authenticates unary calls on this error but not streams; a simple token that
        // expired while only a watch used it would otherwise be resent on every retry.
        if (reason.includes(INVALID_TOKEN)) router.invalidateAuthToken();
        fail(reason.includes(PERMISSION_DENIED) ? denied(prefix, error) : error);
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
      fragments.push(
        event.type === "Delete"
          ? {
              type: "delete",
              key: keyFromBytes(event.kv.key.subarray(namespace.length)),
              modRevision: String(event.kv.mod_revision),
            }
          : { type: "put", ...toKeyValue(event.kv, namespace) },
      );
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
  const start = fullKey(namespace, prefix);
  const create = () => {
    stream?.write({
      create_request: {
        key: start,
        range_end: prefixRangeEnd(start),
        start_revision: fromRevision,
        progress_notify: true,
        fragment: true,
      },
    });
    expectAnswer("watch create request");
  };
  router
    .openStream<WatchStream>("Watch", "watch", {
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
        create();
      },
      (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))),
    );

  return async () => {
    cancelled = true;
    finish();
  };
}
