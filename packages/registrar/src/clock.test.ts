import { createManualClock } from "@etcd-naming/etcd";
import { describe, expect, it } from "vitest";
import { MAX_TIMER_MS, withLongTimers } from "./clock.js";

describe("withLongTimers", () => {
  it("fires a delay beyond 2^31 - 1 ms on time, through timers Node can keep", () => {
    const manual = createManualClock();
    const requested: number[] = [];
    const clock = withLongTimers({
      now: () => manual.now(),
      setTimeout: (callback, ms) => {
        requested.push(ms);
        return manual.setTimeout(callback, ms);
      },
      clearTimeout: (timer) => manual.clearTimeout(timer),
    });
    const ttlMs = 9_000_000_000 * 1000;
    let fired = 0;
    clock.setTimeout(() => fired++, ttlMs);
    manual.advance(ttlMs - 1);
    expect(fired).toBe(0);
    manual.advance(1);
    expect(fired).toBe(1);
    expect(Math.max(...requested)).toBe(MAX_TIMER_MS);
    expect(requested.reduce((a, b) => a + b, 0)).toBe(ttlMs);
  });

  it("cancels a chained timer at any link, and runs a short or bad delay as one timer", () => {
    const manual = createManualClock();
    const clock = withLongTimers(manual);
    let fired = 0;
    const long = clock.setTimeout(() => fired++, 3 * MAX_TIMER_MS);
    manual.advance(MAX_TIMER_MS + 10);
    clock.clearTimeout(long);
    manual.advance(10 * MAX_TIMER_MS);
    expect(fired).toBe(0);
    expect(manual.pending()).toBe(0);

    clock.setTimeout(() => fired++, 5);
    clock.setTimeout(() => fired++, Number.NaN);
    clock.setTimeout(() => fired++, -1);
    manual.advance(0);
    expect(fired).toBe(2);
    manual.advance(5);
    expect(fired).toBe(3);
  });
});
