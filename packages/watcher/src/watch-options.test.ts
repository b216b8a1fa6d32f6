import { type DecodeOptions, encodeEndpoint } from "@etcd-naming/codec";
import { afterEach, describe, expect, it } from "vitest";
import { createManualClock } from "./clock.js";
import { WatcherError } from "./errors.js";
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
      logger: { error: (message) => errors.push(message) },
    });
    await settle();
    await settle();
    expect(errors.some((m) => m.includes("svc/"))).toBe(true);
    expect(unhandled).toEqual([]);
    await watcher.close();
  });
});
