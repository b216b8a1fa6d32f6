// Records everything a watcher shows, so it can be replayed against etcd's history afterwards.
import type { ServiceEndpoint, ServiceWatcher, WatcherErrorCode } from "@etcd-naming/watcher";
import { describeEndpoint, diffSets, type EndpointSet, type History } from "./history.js";

/** One emitted update: the watcher's whole set after it, and the revision it claims to reflect. */
export interface RecordedUpdate {
  readonly at: number;
  readonly revision: bigint;
  readonly set: EndpointSet;
  readonly added: readonly string[];
  readonly removed: readonly string[];
}

/**
 * One error the watcher emitted, as its code and message only: a kept Error object keeps its stack's
 * frames (their receivers and closures, e.g. the failed watch stream and its buffers) alive until its
 * `stack` is read, about 10 KB each in the multi-fault soak.
 */
export interface RecordedError {
  readonly at: number;
  readonly code: WatcherErrorCode;
  readonly message: string;
}

export const toSet = (endpoints: readonly ServiceEndpoint[]): EndpointSet =>
  new Map(endpoints.map((e) => [e.key, describeEndpoint(e.addr, e.modRevision)]));

export class WatchRecorder {
  readonly updates: RecordedUpdate[] = [];
  readonly errors: RecordedError[] = [];
  readonly states: { state: "stale" | "fresh"; at: number }[] = [];

  constructor(
    readonly name: string,
    readonly watcher: ServiceWatcher,
  ) {
    watcher.on("update", (update) => {
      this.updates.push({
        at: Date.now(),
        revision: BigInt(update.revision),
        set: toSet(update.endpoints),
        added: update.added.map((e) => e.key),
        removed: update.removed.map((e) => e.key),
      });
    });
    watcher.on("error", (error) =>
      this.errors.push({ at: Date.now(), code: error.code, message: error.message }),
    );
    watcher.on("stale", () => this.states.push({ state: "stale", at: Date.now() }));
    watcher.on("fresh", () => this.states.push({ state: "fresh", at: Date.now() }));
  }

  get service(): string {
    return this.watcher.service;
  }

  /** The watcher's current set. */
  current(): EndpointSet {
    return toSet(this.watcher.snapshot().endpoints);
  }

  /** When the watcher first showed `key` (optionally at exactly `value`), or undefined. */
  firstSeen(key: string, value?: string): number | undefined {
    return this.updates.find((u) => (value === undefined ? u.set.has(key) : u.set.get(key) === value))?.at;
  }

  /** When the watcher first reported `key` removed after `after` ms, or undefined. */
  firstRemoved(key: string, after = 0): number | undefined {
    return this.updates.find((u) => u.at >= after && u.removed.includes(key))?.at;
  }

  /**
   * Replays every update against etcd's history: the set after each update must be exactly etcd's set
   * at the update's revision. A change the watcher missed, applied twice, applied out of order or
   * applied late makes some update differ; only a change superseded before the next update (a put and
   * its delete between two updates) goes unseen, as it should. Returns one line per mismatch.
   */
  checkHistory(history: History): string[] {
    const problems: string[] = [];
    let previous = -1n;
    for (const [i, update] of this.updates.entries()) {
      if (update.revision < previous) {
        problems.push(`${this.name} update ${i} went back from revision ${previous} to ${update.revision}`);
      }
      previous = update.revision;
      if (update.revision > history.revision) continue; // checked at the next sync
      const diff = diffSets(update.set, history.setAt(this.service, update.revision));
      if (diff !== undefined)
        problems.push(`${this.name} update ${i} at revision ${update.revision}: ${diff}`);
    }
    return problems;
  }
}
