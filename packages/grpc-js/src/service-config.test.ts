import * as grpc from "@grpc/grpc-js";
import * as grpc110 from "grpc-js-1-10";
import { describe, expect, it } from "vitest";
import { DEFAULT_OUTLIER_DETECTION, resolveOutlierDetection, serviceConfigFor } from "./service-config.js";

const invalid = (message: string) => new Error(message);

describe("outlier detection settings", () => {
  it("is off unless asked, takes the defaults for true, and validates every setting", () => {
    expect(resolveOutlierDetection(undefined, invalid)).toBeNull();
    expect(resolveOutlierDetection(false, invalid)).toBeNull();
    expect(resolveOutlierDetection(true, invalid)).toEqual(DEFAULT_OUTLIER_DETECTION);
    expect(resolveOutlierDetection({ failurePercent: 20 }, invalid)).toEqual({
      ...DEFAULT_OUTLIER_DETECTION,
      failurePercent: 20,
    });
    expect(() => resolveOutlierDetection({ failurePercent: 101 }, invalid)).toThrow(
      "outlierDetection.failurePercent must be a number from 0 to 100, got 101",
    );
    expect(() => resolveOutlierDetection({ minimumHosts: 1.5 }, invalid)).toThrow(/whole number/);
    expect(() => resolveOutlierDetection({ intervalMs: 0 }, invalid)).toThrow(/intervalMs/);
    expect(() => resolveOutlierDetection("on" as never, invalid)).toThrow(/boolean or an object/);
  });

  it("wraps the policy in outlier_detection, in a config grpc-js 1.14 and 1.10 both parse", () => {
    const config = serviceConfigFor("round_robin", { ...DEFAULT_OUTLIER_DETECTION, baseEjectionMs: 2_500 });
    const od = config.loadBalancingConfig[0]!["outlier_detection"] as Record<string, unknown>;
    expect(od["base_ejection_time"]).toEqual({ seconds: 2, nanos: 500_000_000 });
    expect(od["child_policy"]).toEqual([{ round_robin: {} }]);
    for (const module of [grpc, grpc110] as unknown as (typeof grpc)[]) {
      const parsed = module.experimental.parseLoadBalancingConfig(config.loadBalancingConfig[0]!);
      expect(parsed.getLoadBalancerName()).toBe("outlier_detection");
    }
    expect(serviceConfigFor("pick_first")).toEqual({
      loadBalancingConfig: [{ pick_first: {} }],
      methodConfig: [],
    });
  });
});
