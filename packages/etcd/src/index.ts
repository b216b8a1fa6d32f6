export type { Backoff } from "./backoff.js";
export { backoffDelay } from "./backoff.js";
export type {
  OpenedStream,
  OpenStreamOptions,
  UnaryCallOptions,
  UnaryOutcome,
} from "./calls.js";
export { isTransient, only, openStream, unaryCall } from "./calls.js";
export type { ClientCertificateInfo, TlsCredentials } from "./client-certificate.js";
export { clientCertificateOf, renewClientCertificate } from "./client-certificate.js";
export type { Clock, TimerClock, TimerHandle } from "./clock.js";
export { deadlineIn, MAX_TIMER_MS, nextTurn, systemClock, within, withLongTimers } from "./clock.js";
export type { RawRangeResponse, RawWatchResponse } from "./etcd-wire.js";
export { decodeRangeResponse, decodeWatchResponse } from "./etcd-wire.js";
export type {
  CallContext,
  Connection,
  EtcdPool,
  EtcdService,
  GrpcMetadata,
  Member,
  StreamMethod,
  UnaryMethod,
} from "./etcd3-pool.js";
export { etcdPool, namespacePrefix, poolShapeProblems } from "./etcd3-pool.js";
export type { ListOptions, PrefixListerOptions, PrefixListing } from "./list-prefix.js";
export { PrefixLister } from "./list-prefix.js";
export type { ConsoleLogger, LogFields, Logger } from "./logger.js";
export { consoleLogger, redactingLogger } from "./logger.js";
export type { ManualClock, ManualClockOptions } from "./manual-clock.js";
export { createManualClock } from "./manual-clock.js";
export type { KeepAliveStream, LeaseStatus, MemberRouterOptions, OpenedKeepAlive } from "./member-router.js";
export { bounded, MemberRouter } from "./member-router.js";
export type {
  CounterLike,
  HistogramLike,
  MeterLike,
  MeterProviderLike,
  MetricAttributes,
  MetricOptionsLike,
  ObservableLike,
  ObservableResultLike,
} from "./metrics.js";
export {
  globalMeterProvider,
  instrumentsOf,
  meterOf,
  observeMax,
  observeSum,
  SECONDS_BUCKETS,
} from "./metrics.js";
export { prefixRangeEnd } from "./prefix-range.js";
export type {
  CancelPrefixWatch,
  PrefixWatchContext,
  PrefixWatchFailure,
  PrefixWatchHandlers,
  PrefixWatchOptions,
  RawKeyValue,
  RawWatchEvent,
} from "./prefix-watch.js";
export { openPrefixWatch, PrefixWatchError } from "./prefix-watch.js";
export type { ResumableWatchOptions, WatchEvent } from "./resumable-watch.js";
export { liveResumableWatches, ResumableWatch, WatchCompactedError } from "./resumable-watch.js";
export { explainTlsError, explainTlsFailure } from "./tls-failure.js";
