// The metric plumbing the watcher, the resolver and the registrar share. They record through
// OpenTelemetry's metrics API without importing it: a `meterProvider` option, else the global
// MeterProvider that `metrics.setGlobalMeterProvider()` (or the OpenTelemetry SDK's start) registered,
// read from the registry every copy of `@opentelemetry/api` 1.x shares. Without either, nothing is
// created and nothing is recorded.

/** Attributes of one measurement. */
export type MetricAttributes = Record<string, string | number | boolean>;

/** What an instrument is created with (a subset of OpenTelemetry's `MetricOptions`). */
export interface MetricOptionsLike {
  description?: string;
  unit?: string;
  advice?: { explicitBucketBoundaries?: number[] };
}

/** A counter (OpenTelemetry's `Counter`). */
export interface CounterLike {
  add(value: number, attributes?: MetricAttributes): void;
}

/** A histogram (OpenTelemetry's `Histogram`). */
export interface HistogramLike {
  record(value: number, attributes?: MetricAttributes): void;
}

/** What an observable instrument's callback is given (OpenTelemetry's `ObservableResult`). */
export interface ObservableResultLike {
  observe(value: number, attributes?: MetricAttributes): void;
}

/** An observable gauge or up-down counter (OpenTelemetry's `Observable`). */
export interface ObservableLike {
  addCallback(callback: (result: ObservableResultLike) => void): void;
  removeCallback(callback: (result: ObservableResultLike) => void): void;
}

/** The part of OpenTelemetry's `Meter` the packages use. */
export interface MeterLike {
  createCounter(name: string, options?: MetricOptionsLike): CounterLike;
  createHistogram(name: string, options?: MetricOptionsLike): HistogramLike;
  createObservableGauge(name: string, options?: MetricOptionsLike): ObservableLike;
  createObservableUpDownCounter(name: string, options?: MetricOptionsLike): ObservableLike;
}

/**
 * OpenTelemetry's `MeterProvider` as the packages take it in their `meterProvider` option: an SDK
 * `MeterProvider`, or `metrics.getMeterProvider()` of `@opentelemetry/api`.
 */
export interface MeterProviderLike {
  getMeter(name: string, version?: string, options?: object): MeterLike;
}

/** The key under which `@opentelemetry/api` 1.x keeps its globals (`Symbol.for`, shared by every copy). */
const OTEL_GLOBAL = Symbol.for("opentelemetry.js.api.1");

/**
 * The global MeterProvider registered through `@opentelemetry/api` 1.x, if any, read from the global the
 * API itself reads: nothing is imported, so a process without OpenTelemetry pays nothing.
 */
export function globalMeterProvider(): MeterProviderLike | undefined {
  const api = (globalThis as Record<symbol, unknown>)[OTEL_GLOBAL] as
    | { version?: unknown; metrics?: unknown }
    | undefined;
  if (api === undefined || typeof api.version !== "string" || !api.version.startsWith("1.")) return undefined;
  const provider = api.metrics as Partial<MeterProviderLike> | undefined;
  return typeof provider?.getMeter === "function" ? (provider as MeterProviderLike) : undefined;
}

/**
 * The meter of instrumentation scope `scope`: from `provider` when given, else from the global
 * MeterProvider; undefined when there is neither (then record nothing).
 */
export function meterOf(scope: string, provider?: MeterProviderLike): MeterLike | undefined {
  const chosen = provider ?? globalMeterProvider();
  return chosen?.getMeter(scope);
}

/**
 * One set of instruments per meter and kind, made on first use: every watcher, resolver or registration
 * on one meter records into the same instruments, and observable callbacks are registered once.
 */
export function instrumentsOf<T>(
  cache: WeakMap<MeterLike, T>,
  meter: MeterLike | undefined,
  make: (meter: MeterLike) => T,
): T | undefined {
  if (meter === undefined) return undefined;
  let instruments = cache.get(meter);
  if (instruments === undefined) {
    instruments = make(meter);
    cache.set(meter, instruments);
  }
  return instruments;
}

/**
 * Bucket boundaries in seconds for the packages' latency histograms (1 ms to 10 s): propagation and
 * keep-alive round trips live in milliseconds, and OpenTelemetry's default boundaries are meant for ms.
 */
export const SECONDS_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/** The observed value of each attribute set, the largest when several observers report one set. */
export function observeMax(
  result: ObservableResultLike,
  values: Iterable<readonly [string, number]>,
  attribute = "service",
): void {
  const largest = new Map<string, number>();
  for (const [name, value] of values) largest.set(name, Math.max(largest.get(name) ?? value, value));
  for (const [name, value] of largest) result.observe(value, { [attribute]: name });
}

/** The observed count of each attribute set, summed over observers. */
export function observeSum(
  result: ObservableResultLike,
  values: Iterable<readonly [string, number]>,
  attribute = "service",
): void {
  const sums = new Map<string, number>();
  for (const [name, value] of values) sums.set(name, (sums.get(name) ?? 0) + value);
  for (const [name, value] of sums) result.observe(value, { [attribute]: name });
}
