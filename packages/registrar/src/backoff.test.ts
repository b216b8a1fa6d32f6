import { describe, expect, it } from "vitest";
import { backoffDelay, resolveBackoff } from "./backoff.js";

describe("backoffDelay", () => {
  it("grows exponentially and stays within [step/2, step]", () => {
    const low = resolveBackoff({ initialMs: 100, maxMs: 10_000, random: () => 0 }, 60);
    const high = resolveBackoff({ initialMs: 100, maxMs: 10_000, random: () => 0.999999 }, 60);
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, low))).toEqual([50, 100, 200, 400]);
    expect(backoffDelay(3, high)).toBeCloseTo(800, 0);
  });

  it("never exceeds maxMs", () => {
    const b = resolveBackoff({ initialMs: 100, maxMs: 1000, random: () => 0.999999 }, 60);
    expect(backoffDelay(50, b)).toBeLessThanOrEqual(1000);
    expect(backoffDelay(50, b)).toBeGreaterThan(999);
  });

  it("defaults the cap to a quarter of the TTL so a re-grant lands within TTL/3", () => {
    expect(resolveBackoff(undefined, 12).maxMs).toBe(3000);
    expect(resolveBackoff(undefined, 2).maxMs).toBe(500);
  });

  it("jitters: different random values give different delays", () => {
    const values = [0, 0.5, 0.9].map((r) => backoffDelay(4, resolveBackoff({ random: () => r }, 60)));
    expect(new Set(values).size).toBe(3);
  });

  it("caps the default at 30 s, so a long TTL does not delay a re-registration for years", () => {
    expect(resolveBackoff(undefined, 120).maxMs).toBe(30_000);
    expect(resolveBackoff(undefined, 9_000_000_000).maxMs).toBe(30_000);
  });

  it("keeps a delay within [step/2, step] whatever the random source returns", () => {
    for (const r of [Number.NaN, -1, 1, 5, Number.POSITIVE_INFINITY]) {
      const delay = backoffDelay(3, resolveBackoff({ initialMs: 100, maxMs: 10_000, random: () => r }, 60));
      expect(delay).toBeGreaterThanOrEqual(400);
      expect(delay).toBeLessThanOrEqual(800);
    }
  });
});

describe("resolveBackoff", () => {
  it.each([
    ["a maxMs beyond what a timer can wait", { maxMs: 2 ** 31 }],
    ["an infinite maxMs", { maxMs: Number.POSITIVE_INFINITY }],
    ["a NaN initialMs", { initialMs: Number.NaN }],
    ["a negative initialMs", { initialMs: -1 }],
    ["a multiplier below 1", { multiplier: 0.5 }],
    ["a NaN multiplier", { multiplier: Number.NaN }],
    ["a random that is not a function", { random: 0.5 as unknown as () => number }],
  ])("refuses %s with INVALID_INPUT", (_, options) => {
    expect(() => resolveBackoff(options, 10)).toThrow(expect.objectContaining({ code: "INVALID_INPUT" }));
  });
});
