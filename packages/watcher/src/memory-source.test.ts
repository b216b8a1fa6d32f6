import { describe, expect, it } from "vitest";
import { createManualClock } from "./clock.js";
import { createMemorySource } from "./memory-source.js";
import type { SourceEvent, WatchHandlers } from "./source.js";

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function collector() {
  const log: string[] = [];
  const events: SourceEvent[][] = [];
  const handlers: WatchHandlers = {
    onConnected: () => log.push("connected"),
    onEvents: (batch) => events.push([...batch]),
    onCompacted: (rev) => log.push(`compacted:${rev}`),
    onError: (error) => log.push(`error:${error.message}`),
  };
  return { log, events, handlers };
}

describe("createMemorySource", () => {
  it("uses one revision per write, none for deleting a missing key, and replays history asynchronously", async () => {
    const source = createMemorySource();
    expect(source.put("svc/a", "1")).toBe("2");
    expect(source.delete("svc/missing")).toBeUndefined();
    expect(
      source.transaction([
        { type: "put", key: "svc/b", value: "2" },
        { type: "delete", key: "svc/a" },
      ]),
    ).toBe("3");
    const { log, events, handlers } = collector();
    const cancel = source.watch("svc/", "2", handlers);
    expect(log).toEqual([]);
    await settle();
    expect(log).toEqual(["connected"]);
    expect(events.map((b) => b.map((e) => `${e.type}:${e.key}@${e.modRevision}`))).toEqual([
      ["put:svc/a@2"],
      ["put:svc/b@3", "delete:svc/a@3"],
    ]);
    await cancel();
    source.put("svc/c", "3");
    await settle();
    expect(events).toHaveLength(2);
    expect(source.stats().openWatches).toBe(0);
  });

  it("reports compaction for a start revision below the compacted one", async () => {
    const source = createMemorySource();
    source.put("svc/a", "1");
    source.put("svc/a", "2");
    source.compact();
    const { log, handlers } = collector();
    source.watch("svc/", "2", handlers);
    await settle();
    expect(log).toEqual(["compacted:3"]);
    const listing = await source.list("svc/", { linearizable: true });
    expect(listing).toMatchObject({
      revision: "3",
      kvs: [{ key: "svc/a", value: "2", createRevision: "2" }],
    });
  });

  it("fails watches and lists while unavailable", async () => {
    const source = createMemorySource();
    const { log, handlers } = collector();
    source.watch("svc/", "1", handlers);
    await settle();
    source.setAvailable(false);
    await settle();
    expect(log).toEqual(["connected", "error:memory source is unavailable"]);
    await expect(source.list("svc/", { linearizable: true })).rejects.toThrow(/unavailable/);
    expect(source.stats().openWatches).toBe(0);
  });
});

describe("createMemorySource with keys as bytes", () => {
  it("keeps keys that differ only in bytes that are not UTF-8 apart, and lists them in byte order", async () => {
    const source = createMemorySource();
    const raw = (byte: number) => Uint8Array.from([...new TextEncoder().encode("svc/k-"), byte]);
    source.put(raw(0xff), "ff");
    source.put(raw(0xfe), "fe");
    source.put("svc/k-\ufffd", "fffd");
    const listed = await source.list("svc/", { linearizable: true });
    expect(listed.kvs.map((kv) => kv.value)).toEqual(["fffd", "fe", "ff"]);
    expect(listed.kvs.map((kv) => kv.key)).toEqual(["svc/k-\ufffd", "svc/k-\udcfe", "svc/k-\udcff"]);
    // A key string names the same key as its bytes.
    expect(source.delete("svc/k-\udcfe")).toBeDefined();
    const after = await source.list("svc/", { linearizable: true });
    expect(after.kvs.map((kv) => kv.value)).toEqual(["fffd", "ff"]);
  });
});

describe("createManualClock", () => {
  it("fires timers in order only when advanced", () => {
    const clock = createManualClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push("b"), 20);
    const a = clock.setTimeout(() => fired.push("a"), 10);
    clock.setTimeout(() => fired.push("c"), 20);
    expect(clock.pendingDelays()).toEqual([10, 20, 20]);
    clock.clearTimeout(a);
    clock.advance(19);
    expect(fired).toEqual([]);
    clock.advance(1);
    expect(fired).toEqual(["b", "c"]);
    expect(clock.now()).toBe(20);
    expect(clock.pending()).toBe(0);
  });
});
