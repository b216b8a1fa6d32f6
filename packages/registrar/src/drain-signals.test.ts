import { createManualClock } from "@etcd-naming/etcd";
import { afterEach, describe, expect, it, vi } from "vitest";
import { drainOnSignals } from "./drain.js";
import type { Registration } from "./registration.js";

function registration(log: string[], fail = false): Registration {
  return {
    pause: async () => {
      log.push("pause");
    },
    deregister: async () => {
      log.push("deregister");
      if (fail) throw new Error("etcd down");
    },
  } as unknown as Registration;
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe("drainOnSignals when things go wrong", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("goes on draining when onError throws, and never rejects", async () => {
    const log: string[] = [];
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const kill = vi.spyOn(process, "kill").mockImplementation(() => true);
    const drain = drainOnSignals(registration(log, true), {
      signals: ["SIGUSR2"],
      grace: 1000,
      clock: createManualClock(),
      close: () => {
        log.push("close");
        throw new Error("close failed");
      },
      onError: (error) => {
        log.push(`onError: ${(error as Error).message}`);
        throw new Error("reporter is broken");
      },
    });
    const outcome = drain.drain().then(
      () => "resolved",
      (error: unknown) => `rejected: ${String(error)}`,
    );
    await flush();
    process.emit("SIGUSR2", "SIGUSR2");
    expect(await outcome).toBe("resolved");
    await drain.drained;
    expect(log).toEqual(["pause", "deregister", "onError: etcd down", "close", "onError: close failed"]);
    expect(warn).toHaveBeenCalledTimes(2);
    // One signal after drain() only skips the grace period.
    expect(kill).not.toHaveBeenCalled();
    expect(process.listenerCount("SIGUSR2")).toBe(0);
  });

  it("a third signal gives up on a close that hangs: removes the handlers and re-raises the signal", async () => {
    const log: string[] = [];
    const kill = vi.spyOn(process, "kill").mockImplementation(() => true);
    const before = process.listenerCount("SIGUSR2");
    const drain = drainOnSignals(registration(log), {
      signals: ["SIGUSR2"],
      grace: 60_000,
      clock: createManualClock(),
      close: () => {
        log.push("close");
        return new Promise(() => undefined);
      },
    });
    process.emit("SIGUSR2", "SIGUSR2");
    await flush();
    process.emit("SIGUSR2", "SIGUSR2");
    await flush();
    expect(log).toEqual(["pause", "deregister", "close"]);
    expect(kill).not.toHaveBeenCalled();

    process.emit("SIGUSR2", "SIGUSR2");
    expect(process.listenerCount("SIGUSR2")).toBe(before);
    expect(kill).toHaveBeenCalledWith(process.pid, "SIGUSR2");
    drain.dispose();
  });
});
