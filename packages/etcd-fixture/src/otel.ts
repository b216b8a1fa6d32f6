// An OpenTelemetry SDK MeterProvider whose metrics a test reads on demand, through a MetricReader's
// collect(): the instruments' observable callbacks run at each read.
import {
  type DataPoint,
  DataPointType,
  type Histogram,
  MeterProvider,
  type MetricData,
  MetricReader,
} from "@opentelemetry/sdk-metrics";

class OnDemandReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** One point of a collected metric: a counter's or gauge's value, or a histogram's count and sum. */
export interface CollectedPoint {
  readonly attributes: Readonly<Record<string, unknown>>;
  /** The sum or gauge value; for a histogram, the number of recordings. */
  readonly value: number;
  /** A histogram's sum; undefined for other kinds. */
  readonly sum: number | undefined;
}

/** One metric as collected. */
export interface CollectedMetric {
  readonly name: string;
  readonly unit: string;
  /** `counter`, `updowncounter`, `gauge` or `histogram`. */
  readonly type: string;
  readonly points: readonly CollectedPoint[];
}

/** The metrics at one collection. */
export interface Collected {
  readonly metrics: ReadonlyMap<string, CollectedMetric>;
  /**
   * The value of `name` summed over its points whose attributes include `attributes` (a histogram's
   * count); undefined when the metric has no such point.
   */
  value(name: string, attributes?: Readonly<Record<string, unknown>>): number | undefined;
}

/** A MeterProvider for a test, and the means to read what it holds. */
export interface TestMeterProvider {
  readonly meterProvider: MeterProvider;
  collect(): Promise<Collected>;
  shutdown(): Promise<void>;
}

function typeOf(metric: MetricData): string {
  switch (metric.dataPointType) {
    case DataPointType.HISTOGRAM:
    case DataPointType.EXPONENTIAL_HISTOGRAM:
      return "histogram";
    case DataPointType.GAUGE:
      return "gauge";
    default:
      return metric.isMonotonic ? "counter" : "updowncounter";
  }
}

function pointOf(point: DataPoint<unknown>): CollectedPoint {
  const value = point.value;
  if (typeof value === "number") return { attributes: point.attributes, value, sum: undefined };
  const histogram = value as Histogram;
  return { attributes: point.attributes, value: histogram.count, sum: histogram.sum };
}

/** A MeterProvider read on demand (cumulative temporality: counters read as totals). */
export function testMeterProvider(): TestMeterProvider {
  const reader = new OnDemandReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  return {
    meterProvider,
    async collect() {
      const { resourceMetrics, errors } = await reader.collect();
      if (errors.length > 0) throw new AggregateError(errors, "collecting metrics failed");
      const metrics = new Map<string, CollectedMetric>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          const points = (metric.dataPoints as DataPoint<unknown>[]).map(pointOf);
          const name = metric.descriptor.name;
          const known = metrics.get(name);
          metrics.set(name, {
            name,
            unit: metric.descriptor.unit,
            type: typeOf(metric),
            points: [...(known?.points ?? []), ...points],
          });
        }
      }
      return {
        metrics,
        value(name, attributes = {}) {
          const matching = (metrics.get(name)?.points ?? []).filter((point) =>
            Object.entries(attributes).every(([key, wanted]) => point.attributes[key] === wanted),
          );
          return matching.length === 0 ? undefined : matching.reduce((sum, point) => sum + point.value, 0);
        },
      };
    },
    shutdown: () => meterProvider.shutdown(),
  };
}
