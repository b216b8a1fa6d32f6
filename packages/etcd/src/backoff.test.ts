import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";

const backoff = { initialMs: 100, maxMs: 1_000, multiplier: 2, jitter: 0.5 };

describe("backoffDelay", () => {
  it("grows by the multiplier up to maxMs, drawn from [d × (1 − jitter), d]", () => {
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(backoff, a, 0))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect([0, 1, 2, 3].map((a) => backoffDelay(backoff, a, 1))).toEqual([50, 100, 200, 400]);
    expect(backoffDelay({ ...backoff, jitter: 0 }, 2, 0.7)).toBe(400);
  });

  it("takes a random value outside [0, 1] as 0.5, so a bad source cannot leave the range", () => {
    for (const r of [Number.NaN, -1, 5, Number.POSITIVE_INFINITY])
      expect(backoffDelay(backoff, 3, r)).toBe(600);
  });
});
