import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from "etcd3";
import { within } from "./clock.js";

/** How long closing a watch waits for etcd3's cancel, which can hang on a broken stream. */
const CANCEL_BOUND_MS = 1000;

/** One event of a {@link ResumableWatch}. */
export interface WatchEvent {
  readonly type: "put" | "delete";
  readonly kv: IKeyValue;
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
   * the listing's revision + 1), a permission change, or a cancel. Never called after `close()`.
   */
  onError(error: unknown): void;
}

/**
 * A prefix watch on etcd3's `Watcher` that resumes from the revision after the last event it handled.
 * etcd3 itself resumes a broken stream from the last response header, which can be ahead of events not
 * yet delivered: those would be skipped.
 */
export class ResumableWatch {
  private readonly watcher: Watcher;
  private resumeFrom: bigint;
  private closed = false;

  constructor(client: Etcd3, prefix: string, fromRevision: bigint, options: ResumableWatchOptions) {
    this.resumeFrom = fromRevision;
    const builder = client.watch().prefix(prefix);
    if (options.deletesOnly === true) builder.only("delete");
    this.watcher = builder.startRevision(String(fromRevision)).watcher();
    this.watcher.on("data", (res: IWatchResponse) => {
      if (this.closed) return;
      const events: WatchEvent[] = [];
      for (const event of res.events) {
        const revision = BigInt(event.kv.mod_revision);
        if (revision >= this.resumeFrom) this.resumeFrom = revision + 1n;
        events.push({ type: event.type === "Delete" ? "delete" : "put", kv: event.kv, revision });
      }
      if (events.length > 0) options.onEvents(events);
    });
    this.watcher.on("disconnected", () => {
      this.watcher.request.start_revision = String(this.resumeFrom);
    });
    this.watcher.on("error", (error: unknown) => {
      if (!this.closed) options.onError(error);
    });
  }

  /** The revision the watch resumes from after a reconnect. */
  get nextRevision(): bigint {
    return this.resumeFrom;
  }

  /** Stops the watch; resolves once etcd3 cancelled it, or after a second if its stream is broken. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await within(this.watcher.cancel(), CANCEL_BOUND_MS);
  }
}
