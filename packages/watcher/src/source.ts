/**
 * A key-value pair as a {@link NamingSource} reports it. Revisions and lease ids are decimal strings
 * (etcd's are 64-bit); compare them with `BigInt`, never `Number`.
 */
export interface SourceKeyValue {
  /**
   * The key, exactly: a source that reads bytes passes them through `keyFromBytes` (from
   * `@etcd-naming/codec`), so keys that differ only in bytes that are not UTF-8 stay different keys.
   */
  key: string;
  value: string | Uint8Array;
  modRevision: string;
  /** When the source knows it. */
  createRevision?: string;
  /** The lease id, absent when the key has no lease. */
  lease?: string;
}

/** One change of a watched range. */
export type SourceEvent =
  | ({ type: "put" } & SourceKeyValue)
  | { type: "delete"; key: string /** The revision of the delete. */; modRevision: string };

/** The result of {@link NamingSource.list}: every key under the prefix, as of one revision. */
export interface SourceListing {
  /** The store revision the listing reflects; a watch from `revision + 1` misses nothing. */
  revision: string;
  kvs: SourceKeyValue[];
}

/** Options of {@link NamingSource.list}. */
export interface SourceListOptions {
  /** Read through the leader's quorum (true) or accept a member's possibly stale local state (false). */
  linearizable: boolean;
}

/**
 * What a source reports about one watch. After `onCompacted` or `onError` the watch is over: the source
 * calls nothing more for it, and the consumer opens a new one. After the consumer cancels, nothing is called.
 * Sources never call handlers synchronously from `watch()`.
 */
export interface WatchHandlers {
  /** The watch is established on the server (etcd answered the create request). */
  onConnected(): void;
  /** The events of one server response, in revision order. */
  onEvents(events: readonly SourceEvent[]): void;
  /** The start revision was compacted: re-list, then watch from the listing's revision + 1. */
  onCompacted(compactRevision: string): void;
  /** The stream is lost or the server cancelled the watch; resume from the last seen revision + 1. */
  onError(error: Error): void;
}

/** Stops a watch. Resolves once its stream is released; never needs to be awaited for correctness. */
export type CancelWatch = () => Promise<void>;

/**
 * Where endpoints come from: a consistent listing of a prefix and a watch of it from a revision.
 * `createEtcd3Source()` implements it on etcd; `createMemorySource()` in memory. See the README for how
 * to write one.
 */
export interface NamingSource {
  /** Lists every key under `prefix` at one revision (paginated by the source as it needs). */
  list(prefix: string, options: SourceListOptions): Promise<SourceListing>;
  /** Watches `prefix` from `fromRevision` (inclusive) and returns a function that cancels the watch. */
  watch(prefix: string, fromRevision: string, handlers: WatchHandlers): CancelWatch;
}
