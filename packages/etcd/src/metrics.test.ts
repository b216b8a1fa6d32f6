import { testMeterProvider } from "@etcd-naming/etcd-fixture/otel";
import { metrics } from "@opentelemetry/api";
import { afterEach, describe, expect, it } from "vitest";
import {
  globalMeterProvider,
  instrumentsOf,
  type MeterLike,
  meterOf,
  observeMax,
  observeSum,
} from "./metrics.js";

afterEach(() => {
  metrics.disable();
});

describe("the meter", () => {
  it("is none without a provider, and none registered globally", () => {
    expect(globalMeterProvider()).toBeUndefined();
    expect(meterOf("@etcd-naming/test")).toBeUndefined();
    const made: MeterLike[] = [];
    expect(instrumentsOf(new WeakMap(), undefined, (meter) => made.push(meter))).toBeUndefined();
    expect(made).toEqual([]);
  });

  it("comes from the global MeterProvider registered through @opentelemetry/api", async () => {
    const otel = testMeterProvider();
    try {
      expect(metrics.setGlobalMeterProvider(otel.meterProvider)).toBe(true);
      expect(globalMeterProvider()).toBe(otel.meterProvider);
      meterOf("@etcd-naming/test")
        ?.createCounter("test.global", { unit: "{thing}" })
        .add(2, { service: "s" });
      const seen = await otel.collect();
      expect(seen.value("test.global", { service: "s" })).toBe(2);
      expect(seen.metrics.get("test.global")?.unit).toBe("{thing}");
      metrics.disable();
      expect(globalMeterProvider()).toBeUndefined();
    } finally {
      await otel.shutdown();
    }
  });

  it("comes from an explicit provider before the global one", async () => {
    const global = testMeterProvider();
    const own = testMeterProvider();
    try {
      metrics.setGlobalMeterProvider(global.meterProvider);
      meterOf("@etcd-naming/test", own.meterProvider)?.createCounter("test.own").add(1);
      expect((await own.collect()).value("test.own")).toBe(1);
      expect((await global.collect()).value("test.own")).toBeUndefined();
    } finally {
      await Promise.all([global.shutdown(), own.shutdown()]);
    }
  });

  it("makes one set of instruments per meter", () => {
    const otel = testMeterProvider();
    const cache = new WeakMap<MeterLike, { id: number }>();
    let made = 0;
    const meter = meterOf("@etcd-naming/test", otel.meterProvider);
    const first = instrumentsOf(cache, meter, () => ({ id: ++made }));
    expect(instrumentsOf(cache, meter, () => ({ id: ++made }))).toBe(first);
    expect(made).toBe(1);
  });
});

describe("observations", () => {
  const observed = (observe: (result: { observe(v: number, a?: object): void }) => void) => {
    const points: [number, object | undefined][] = [];
    observe({ observe: (value, attributes) => points.push([value, attributes]) });
    return points;
  };

  it("reports the largest value of each service, or the sum", () => {
    const values = [
      ["a", 1],
      ["b", 4],
      ["a", 3],
    ] as const;
    expect(observed((result) => observeMax(result, values))).toEqual([
      [3, { service: "a" }],
      [4, { service: "b" }],
    ]);
    expect(observed((result) => observeSum(result, values))).toEqual([
      [4, { service: "a" }],
      [4, { service: "b" }],
    ]);
  });
});
