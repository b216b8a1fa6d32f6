import type { RegisteredEndpoint } from "./select.js";

/** A service's endpoints as the resolver consumes them, whatever keeps them up to date. */
export interface FeedState {
  /** False until the first listing has completed. */
  readonly ready: boolean;
  /** True while etcd is unreachable: `endpoints` are the last known ones. */
  readonly stale: boolean;
  /** The service's current endpoints (the last known while stale). */
  readonly endpoints: Iterable<RegisteredEndpoint>;
  /** Why the feed is not ready or stale, when it knows. */
  readonly error?: Error | undefined;
}

/** A live view of one service's endpoints. */
export interface ServiceFeed {
  state(): FeedState;
  /** Calls `onChange` (never synchronously) whenever `state()` may have changed; returns an unsubscribe. */
  subscribe(onChange: () => void): () => void;
}

/** One reference to a shared feed: release it once, when done. */
export interface FeedLease {
  readonly feed: ServiceFeed;
  release(): void;
}

/** Hands out shared feeds by service name. */
export interface FeedPool {
  acquire(service: string): FeedLease;
  /** How many services are being watched right now. */
  readonly size: number;
  /** Stops every watch; later `acquire` calls throw. */
  close(): Promise<void>;
}
