import { createManualClock } from "@etcd-naming/etcd";
import { afterEach, describe, expect, it, vi } from "vitest";
import { drainOnSignals } from "./drain.js";
import type { Registration } from "./registration.js";

function fakeRegistration(log: string[], fail = false): Registration {
  return {
    deregister: vi.fn(async () => {
      log.push("deregister");
      if (fail) throw new Error("etcd down");
    }),
  } as unknown as Registration;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("drainOnSignals", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([Number.NaN, -1, Number.POSITIVE_INFINITY, 2 ** 31, "5000"])(
    "refuses a grace of %s, which no timer can wait",
    (grace) => {
      expect(() =>
        drainOnSignals(fakeRegistration([]), { signals: ["SIGUSR2"], grace: grace as number }),
      ).toThrow(expect.objectContaining({ code: "INVALID_INPUT" }));
      expect(process.listenerCount("SIGUSR2")).toBe(0);
    },
  );

  it("deregisters first, waits the grace period, then closes", async () => {
    const log: string[] = [];
    const clock = createManualClock();
    const drain = drainOnSignals(fakeRegistration(log), {
      signals: ["SIGUSR2"],
      grace: 3000,
      clock,
      close: () => log.push("close"),
    });
    process.emit("SIGUSR2", "SIGUSR2");
    await flush();
    expect(log).toEqual(["deregister"]);
    clock.advance(2999);
    await flush();
    expect(log).toEqual(["deregister"]);
    clock.advance(1);
    await drain.drained;
    expect(log).toEqual(["deregister", "close"]);
    expect(process.listenerCount("SIGUSR2")).toBe(0);
  });

  it("a second signal skips the rest of the grace period", async () => {
    const log: string[] = [];
    const clock = createManualClock();
    const drain = drainOnSignals([fakeRegistration(log), fakeRegistration(log)], {
      signals: ["SIGUSR2"],
      grace: 60_000,
      clock,
      close: () => log.push("close"),
    });
    process.emit("SIGUSR2", "SIGUSR2");
    await flush();
    process.emit("SIGUSR2", "SIGUSR2");
    await drain.drained;
    expect(log).toEqual(["deregister", "deregister", "close"]);
  });

  it("goes on closing when deregistering fails, and reports it", async () => {
    const log: string[] = [];
    const errors: unknown[] = [];
    const drain = drainOnSignals(fakeRegistration(log, true), {
      signals: ["SIGUSR2"],
      grace: 0,
      close: () => log.push("close"),
      onError: (e) => errors.push(e),
    });
    await drain.drain();
    expect(log).toEqual(["deregister", "close"]);
    expect(errors).toHaveLength(1);
  });

  it("dispose removes the handlers without draining", () => {
    const log: string[] = [];
    const before = process.listenerCount("SIGUSR2");
    const drain = drainOnSignals(fakeRegistration(log), { signals: ["SIGUSR2"] });
    expect(process.listenerCount("SIGUSR2")).toBe(before + 1);
    drain.dispose();
    expect(process.listenerCount("SIGUSR2")).toBe(before);
    expect(log).toEqual([]);
  });
});
