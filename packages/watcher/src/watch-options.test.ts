import { type DecodeOptions, encodeEndpoint } from "@etcd-naming/codec";
import { Etcd3 } from "etcd3";
import { afterEach, describe, expect, it } from "vitest";
import { createManualClock, MAX_TIMER_MS } from "./clock.js";
import { WatcherError } from "./errors.js";
import { createEtcd3Source } from "./etcd3-source.js";
import { createMemorySource } from "./memory-source.js";
import { watchService } from "./service-watcher.js";
import type { NamingSource } from "./source.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("watchService rejects invalid decode options up front", () => {
  it.each<[string, unknown]>([
    ["a negative maxBytes", { maxBytes: -1 }],
    ["a fractional maxDepth", { maxDepth: 1.5 }],
    ["a NaN maxBytes", { maxBytes: Number.NaN }],
    ["null", null],
  ])("%s throws INVALID_OPTIONS synchronously and lists nothing", (_, decode) => {
    const memory = createMemorySource();
    memory.put("svc/a", encodeEndpoint({ addr: "10.0.0.1:1" }));
    let thrown: unknown;
    try {
      watchService(memory, "svc", { decode: decode as DecodeOptions, clock: createManualClock() });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(WatcherError);
    expect((thrown as WatcherError).code).toBe("INVALID_OPTIONS");
    expect(memory.stats().lists).toBe(0);
  });

  it("accepts valid limits", async () => {
    const memory = createMemorySource();
    memory.put("svc/a", encodeEndpoint({ addr: "10.0.0.1:1" }));
    const watcher = watchService(memory, "svc", {
      decode: { maxBytes: 1024, maxDepth: 4 },
      clock: createManualClock(),
    });
    expect((await watcher.ready()).endpoints.map((e) => e.addr)).toEqual(["10.0.0.1:1"]);
    await watcher.close();
  });
});

describe("timer options a timer can wait", () => {
  // Node fires a timer beyond 2^31 - 1 ms after 1 ms: a coalescing window, a backoff or a liveness
  // deadline that long would become a loop.
  it.each<[string, Record<string, unknown>]>([
    ["a coalescing window of 2^31 ms", { coalesceMs: 2 ** 31 }],
    ["an infinite cancel timeout", { cancelTimeoutMs: Number.POSITIVE_INFINITY }],
    ["a NaN coalescing window", { coalesceMs: Number.NaN }],
    ["a backoff cap of 2^31 ms", { backoff: { maxDelayMs: 2 ** 31 } }],
  ])("watchService refuses %s with INVALID_OPTIONS", (_, options) => {
    const memory = createMemorySource();
    expect(() => watchService(memory, "svc", { clock: createManualClock(), ...options })).toThrow(
      expect.objectContaining({ code: "INVALID_OPTIONS" }),
    );
    expect(memory.stats().lists).toBe(0);
  });

  it.each<[string, Record<string, unknown>]>([
    ["a progress interval of 2^31 ms", { progressIntervalMs: 2 ** 31 }],
    ["a progress timeout of 1e12 ms", { progressTimeoutMs: 1e12 }],
    ["a list timeout of Infinity", { listTimeoutMs: Number.POSITIVE_INFINITY }],
    ["a page size of 0.5 (etcd reads a limit of 0 as none)", { pageSize: 0.5 }],
  ])("createEtcd3Source refuses %s with INVALID_OPTIONS", (_, options) => {
    const client = new Etcd3({ hosts: "127.0.0.1:1" });
    try {
      expect(() => createEtcd3Source(client, options)).toThrow(
        expect.objectContaining({ code: "INVALID_OPTIONS" }),
      );
    } finally {
      client.close();
    }
  });

  it("accepts the longest delays a timer can wait", async () => {
    const memory = createMemorySource();
    const watcher = watchService(memory, "svc", {
      clock: createManualClock(),
      coalesceMs: MAX_TIMER_MS,
      cancelTimeoutMs: MAX_TIMER_MS,
      backoff: { maxDelayMs: MAX_TIMER_MS },
    });
    await watcher.close();
    const client = new Etcd3({ hosts: "127.0.0.1:1" });
    expect(() => createEtcd3Source(client, { progressIntervalMs: MAX_TIMER_MS, pageSize: 1 })).not.toThrow();
    client.close();
  });
});

describe("a list that fails unexpectedly", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  afterEach(() => {
    process.off("unhandledRejection", onUnhandled);
  });

  it("is logged, never left as an unhandled rejection", async () => {
    process.on("unhandledRejection", onUnhandled);
    // A source that breaks its contract: the revision is not a number, so reconciling throws.
    const broken: NamingSource = {
      list: async () => ({ revision: "not-a-revision", kvs: [] }),
      watch: () => async () => undefined,
    };
    const errors: string[] = [];
    const watcher = watchService(broken, "svc", {
      clock: createManualClock(),
      logger: { error: (_fields, message) => errors.push(message) },
    });
    await settle();
    await settle();
    expect(errors.some((m) => m.includes("svc/"))).toBe(true);
    expect(unhandled).toEqual([]);
    await watcher.close();
  });
});
