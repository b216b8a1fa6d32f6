export type { BackoffOptions } from "./backoff.js";
export type { Clock, ManualClock, ManualClockOptions, TimerHandle } from "./clock.js";
export { createManualClock, MAX_TIMER_MS, systemClock } from "./clock.js";
export type { WatcherErrorCode, WatcherErrorOptions } from "./errors.js";
export { WatcherError } from "./errors.js";
export type { Etcd3Source, Etcd3SourceOptions, Etcd3SourceStats } from "./etcd3-source.js";
export { createEtcd3Source } from "./etcd3-source.js";
export type { MemoryOperation, MemorySource, MemorySourceStats } from "./memory-source.js";
export { createMemorySource } from "./memory-source.js";
export type {
  EndpointsUpdate,
  ServiceEndpoint,
  ServiceSnapshot,
  ServiceWatcher,
  ServiceWatcherEvents,
  SkippedKey,
  WatcherLogger,
  WatchServiceOptions,
} from "./service-watcher.js";
export { watchService } from "./service-watcher.js";
// The source contract: every type in source.ts (NamingSource and what its methods take and give) is public.
export type * from "./source.js";
