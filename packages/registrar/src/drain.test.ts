import { createManualClock } from "@etcd-naming/etcd";
import { afterEach, describe, expect, it, vi } from "vitest";
import { drainOnSignals } from "./drain.js";
import type { Registration } from "./registration.js";

function fakeRegistration(log: string[], fail = false, pause: "ok" | "fail" | "hang" = "ok"): Registration {
  return {
    pause: vi.fn(async () => {
      log.push("pause");
      if (pause === "fail") throw new Error("permission denied");
      if (pause === "hang") await new Promise(() => undefined);
    }),
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

  it("pauses first, waits the grace period, then deregisters and closes", async () => {
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
    expect(log).toEqual(["pause"]);
    clock.advance(2999);
    await flush();
    expect(log).toEqual(["pause"]);
    clock.advance(1);
    await drain.drained;
    expect(log).toEqual(["pause", "deregister", "close"]);
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
    expect(log).toEqual(["pause", "pause", "deregister", "deregister", "close"]);
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
    expect(log).toEqual(["pause", "deregister", "close"]);
    expect(errors).toHaveLength(1);
  });

  it("deregisters at once, before the grace period, a registration whose pause fails", async () => {
    const log: string[] = [];
    const errors: unknown[] = [];
    const clock = createManualClock();
    const drain = drainOnSignals([fakeRegistration(log, false, "fail"), fakeRegistration(log)], {
      signals: ["SIGUSR2"],
      grace: 1000,
      clock,
      close: () => log.push("close"),
      onError: (e) => errors.push(e),
    });
    void drain.drain();
    await flush();
    expect(log).toEqual(["pause", "pause", "deregister"]);
    expect(errors).toEqual([expect.objectContaining({ message: "permission denied" })]);
    clock.advance(1000);
    await drain.drained;
    // Each registration is deregistered once: the failed one early, the paused one after the grace.
    expect(log).toEqual(["pause", "pause", "deregister", "deregister", "close"]);
  });

  it("deregisters instead when the pause takes longer than pauseTimeout", async () => {
    const log: string[] = [];
    const clock = createManualClock();
    const drain = drainOnSignals(fakeRegistration(log, false, "hang"), {
      signals: ["SIGUSR2"],
      grace: 1000,
      pauseTimeout: 200,
      clock,
      close: () => log.push("close"),
    });
    void drain.drain();
    await flush();
    clock.advance(199);
    await flush();
    expect(log).toEqual(["pause"]);
    clock.advance(1);
    await flush();
    expect(log).toEqual(["pause", "deregister"]);
    clock.advance(1000);
    await drain.drained;
    expect(log).toEqual(["pause", "deregister", "close"]);
  });

  it.each([Number.NaN, -1, 2 ** 31])("refuses a pauseTimeout of %s", (pauseTimeout) => {
    expect(() => drainOnSignals(fakeRegistration([]), { signals: ["SIGUSR2"], pauseTimeout })).toThrow(
      expect.objectContaining({ code: "INVALID_INPUT" }),
    );
    expect(process.listenerCount("SIGUSR2")).toBe(0);
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
