import { encodeEndpoint } from "@etcd-naming/codec";
import { describe, expect, it } from "vitest";
import { createManualClock, type ManualClock } from "./clock.js";
import { WatcherError } from "./errors.js";
import { createMemorySource, type MemorySource } from "./memory-source.js";
import type { EndpointsUpdate, WatcherLogger, WatchServiceOptions } from "./service-watcher.js";
import { watchService } from "./service-watcher.js";
import type { NamingSource } from "./source.js";
import { record } from "./test-support.js";

/** Drains pending microtasks (the memory source and the core deliver through them). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const value = (addr: string, metadata?: unknown) =>
  encodeEndpoint(metadata === undefined ? { addr } : { addr, metadata });

function harness(
  options: Omit<WatchServiceOptions, "clock"> & { source?: NamingSource; clock?: ManualClock } = {},
) {
  const memory = createMemorySource();
  const source = options.source ?? memory;
  const clock = options.clock ?? createManualClock();
  const warnings: { message: string; fields: Record<string, unknown> }[] = [];
  const logger: WatcherLogger = { warn: (fields, message) => warnings.push({ message, fields }) };
  const open = (service = "svc", extra: WatchServiceOptions = {}) => {
    const watcher = watchService(source, service, { clock, logger, coalesceMs: 0, ...options, ...extra });
    const log = record(watcher);
    return { watcher, ...log };
  };
  return { memory, source, clock, warnings, open };
}

const addrs = (endpoints: readonly { addr: string }[]) => endpoints.map((e) => e.addr);
const keys = (endpoints: readonly { key: string }[]) => endpoints.map((e) => e.key);

describe("watchService on the memory source", () => {
  it("delivers asynchronously, and an initial update even for an empty service", async () => {
    const { open } = harness();
    const { watcher, updates } = open();
    expect(updates).toHaveLength(0);
    expect(watcher.snapshot().listed).toBe(false);
    await settle();
    expect(updates).toEqual([
      expect.objectContaining({ initial: true, added: [], endpoints: [], removed: [], updated: [] }),
    ]);
    expect(watcher.snapshot().listed).toBe(true);
    await watcher.close();
  });

  it("behaviour 1: lists, then watches from revision + 1 without missing or duplicating events", async () => {
    const memory = createMemorySource();
    memory.put("svc/a", value("10.0.0.1:0"));
    memory.delete("svc/a");
    memory.put("svc/a", value("10.0.0.1:1"));
    memory.put("svc/b", value("10.0.0.2:1"));
    const watchedFrom: string[] = [];
    let listedAt = "";
    // Writes land between the listing and the watch; a source that resumes too early replays
    // events the listing already holds.
    const source: NamingSource = {
      async list(prefix, options) {
        const listing = await memory.list(prefix, options);
        listedAt = listing.revision;
        memory.put("svc/c", value("10.0.0.3:1"));
        memory.put("svc/a", value("10.0.0.1:2"));
        return listing;
      },
      watch(prefix, from, handlers) {
        watchedFrom.push(from);
        return memory.watch(prefix, "1", handlers);
      },
    };
    const { open } = harness({ source });
    const { watcher, updates } = open();
    await settle();
    expect(watchedFrom).toEqual([String(BigInt(listedAt) + 1n)]);
    expect(addrs(watcher.snapshot().endpoints)).toEqual(["10.0.0.1:2", "10.0.0.2:1", "10.0.0.3:1"]);
    const added = updates.flatMap((u) => keys(u.added));
    expect(added.sort()).toEqual(["svc/a", "svc/b", "svc/c"]);
    expect(updates.flatMap((u) => addrs(u.updated))).toEqual(["10.0.0.1:2"]);
    expect(updates.flatMap((u) => u.removed)).toEqual([]);
    expect(updates.at(-1)?.revision).toBe(memory.revision);
    await watcher.close();
  });

  it("behaviour 2: a put of an existing key updates that endpoint; a delete removes it", async () => {
    const { memory, open } = harness();
    memory.put("svc/a", value("10.0.0.1:1", { w: 1 }), { lease: "7587883" });
    const { watcher, updates } = open();
    await settle();
    memory.put("svc/a", value("10.0.0.1:1", { w: 2 }));
    await settle();
    expect(watcher.snapshot().endpoints).toHaveLength(1);
    const update = updates.at(-1)!;
    expect(update.added).toEqual([]);
    expect(update.updated).toEqual([expect.objectContaining({ key: "svc/a", metadata: { w: 2 } })]);
    expect(update.endpoints).toHaveLength(1);
    const endpoint = watcher.snapshot().endpoints[0]!;
    expect(endpoint.modRevision).toBe(memory.revision);
    expect(endpoint.createRevision).toBe("2");
    expect(endpoint.lease).toBeUndefined();
    memory.delete("svc/a");
    await settle();
    expect(updates.at(-1)?.removed).toEqual([expect.objectContaining({ key: "svc/a", metadata: { w: 2 } })]);
    expect(watcher.snapshot().endpoints).toEqual([]);
    await watcher.close();
  });

  it("keeps endpoints whose keys differ only in bytes that are not UTF-8 apart", async () => {
    const { memory, open, warnings } = harness();
    const raw = (byte: number) => Uint8Array.from([...new TextEncoder().encode("svc/k-"), byte]);
    memory.put(raw(0xff), value("10.0.0.1:1"));
    memory.put(raw(0xfe), value("10.0.0.2:1"));
    const { watcher, updates } = open();
    await watcher.ready();
    expect(keys(watcher.snapshot().endpoints)).toEqual(["svc/k-\udcfe", "svc/k-\udcff"]);
    memory.put(raw(0xfd), "not json");
    memory.delete(raw(0xfe));
    await settle();
    expect(addrs(watcher.snapshot().endpoints)).toEqual(["10.0.0.1:1"]);
    expect(updates.at(-1)?.removed.map((e) => e.addr)).toEqual(["10.0.0.2:1"]);
    // Messages show such a key with escapes, on one line; the skipped entry keeps it exactly.
    expect(watcher.snapshot().skipped.map((k) => k.key)).toEqual(["svc/k-\udcfd"]);
    expect(warnings.at(-1)?.message).toContain("svc/k-\\xfd");
    expect(warnings.at(-1)?.fields["key"]).toBe("svc/k-\\xfd");
    await watcher.close();
  });

  it("reports lease ids as strings and freezes endpoints and their metadata", async () => {
    const { memory, open } = harness();
    memory.put("svc/a", value("10.0.0.1:1", { zone: { name: "a" } }), { lease: "9223372036854775807" });
    const { watcher } = open();
    const snapshot = await watcher.ready();
    const endpoint = snapshot.endpoints[0]!;
    expect(endpoint.lease).toBe("9223372036854775807");
    expect(Object.isFrozen(endpoint)).toBe(true);
    expect(Object.isFrozen((endpoint.metadata as { zone: object }).zone)).toBe(true);
    await watcher.close();
  });

  it("behaviour 3: skips malformed values with a warning naming the key, and never keeps a stale endpoint", async () => {
    const { memory, open, warnings } = harness();
    memory.put("svc/bad", "{not json");
    memory.put("svc/good", value("10.0.0.1:1"));
    const { watcher, errors, updates } = open();
    await settle();
    expect(keys(watcher.snapshot().endpoints)).toEqual(["svc/good"]);
    expect(watcher.snapshot().skipped).toEqual([expect.objectContaining({ key: "svc/bad" })]);
    expect(warnings.map((w) => w.message)).toEqual([expect.stringContaining("svc/bad")]);
    expect(errors).toEqual([expect.objectContaining({ code: "INVALID_VALUE", key: "svc/bad" })]);

    memory.put("svc/bad", value("10.0.0.2:1"));
    await settle();
    expect(updates.at(-1)?.added).toEqual([expect.objectContaining({ key: "svc/bad", addr: "10.0.0.2:1" })]);
    expect(watcher.snapshot().skipped).toEqual([]);

    memory.put("svc/good", JSON.stringify({ Op: 0, Addr: "" }));
    await settle();
    expect(updates.at(-1)?.removed).toEqual([expect.objectContaining({ key: "svc/good" })]);
    expect(keys(watcher.snapshot().endpoints)).toEqual(["svc/bad"]);
    expect(warnings.at(-1)?.message).toMatch(/svc\/good.*removed/);
    expect(warnings.at(-1)?.fields).toMatchObject({ component: "watcher", service: "svc", key: "svc/good" });
    expect(keys(watcher.snapshot().skipped)).toEqual(["svc/good"]);

    memory.delete("svc/good");
    await settle();
    expect(watcher.snapshot().skipped).toEqual([]);
    await watcher.close();
  });

  it("behaviour 4: on stream loss keeps the set, emits stale, and resumes from the last revision + 1 with backoff", async () => {
    const memory = createMemorySource();
    const watchedFrom: string[] = [];
    const source: NamingSource = {
      list: (p, o) => memory.list(p, o),
      watch: (p, from, h) => {
        watchedFrom.push(from);
        return memory.watch(p, from, h);
      },
    };
    const clock = createManualClock({ random: () => 0.5 });
    const { open } = harness({
      source,
      clock,
      backoff: { initialDelayMs: 100, maxDelayMs: 400, jitter: 0.5 },
    });
    memory.put("svc/a", value("10.0.0.1:1"));
    const { watcher, states, errors } = open();
    await settle();
    memory.put("svc/b", value("10.0.0.2:1"));
    await settle();
    const lastSeen = memory.revision;

    memory.setAvailable(false);
    await settle();
    expect(states).toEqual(["stale"]);
    expect(errors.at(-1)?.code).toBe("WATCH_FAILED");
    expect(watcher.snapshot()).toMatchObject({ stale: true, listed: true });
    expect(keys(watcher.snapshot().endpoints)).toEqual(["svc/a", "svc/b"]);

    // Each retry fails while the source is down; the delays grow (×2, jittered by 0.5 × 0.5) up to the cap.
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      delays.push(clock.pendingDelays()[0]!);
      clock.advance(delays[i]!);
      await settle();
    }
    expect(delays).toEqual([75, 150, 300, 300]);
    expect(states).toEqual(["stale"]);

    memory.put("svc/c", value("10.0.0.3:1"));
    memory.delete("svc/a");
    memory.setAvailable(true);
    clock.advance(clock.pendingDelays()[0]!);
    await settle();
    expect(states).toEqual(["stale", "fresh"]);
    expect(new Set(watchedFrom.slice(1))).toEqual(new Set([String(BigInt(lastSeen) + 1n)]));
    expect(keys(watcher.snapshot().endpoints)).toEqual(["svc/b", "svc/c"]);
    expect(memory.stats().lists).toBe(1);

    // A success resets the backoff.
    memory.failWatches();
    await settle();
    expect(clock.pendingDelays()).toEqual([75]);
    await watcher.close();
  });

  it("behaviour 5: a compacted resume point re-lists and emits the missed changes as one diff", async () => {
    const { memory, clock, open } = harness({ coalesceMs: 5 });
    memory.put("svc/keep", value("10.0.0.1:1"));
    memory.put("svc/change", value("10.0.0.2:1"));
    memory.put("svc/gone", value("10.0.0.3:1"));
    const { watcher, updates, errors, states } = open();
    await settle();
    expect(updates).toHaveLength(1);

    memory.setAvailable(false);
    await settle();
    memory.put("svc/change", value("10.0.0.2:2"));
    memory.delete("svc/gone");
    memory.put("svc/new", value("10.0.0.4:1"));
    memory.compact();
    memory.setAvailable(true);
    clock.advance(clock.pendingDelays()[0]!);
    await settle();
    expect(errors.map((e) => e.code)).toEqual(["WATCH_FAILED", "COMPACTED"]);
    expect(states).toEqual(["stale", "fresh"]);
    clock.advance(5);
    expect(updates).toHaveLength(2);
    const diff = updates[1]!;
    expect(keys(diff.added)).toEqual(["svc/new"]);
    expect(diff.updated).toEqual([expect.objectContaining({ key: "svc/change", addr: "10.0.0.2:2" })]);
    expect(keys(diff.removed)).toEqual(["svc/gone"]);
    expect(keys(diff.endpoints)).toEqual(["svc/change", "svc/keep", "svc/new"]);
    expect(memory.stats().lists).toBe(2);

    // Watching resumed after the re-list: later changes still arrive.
    memory.delete("svc/keep");
    await settle();
    clock.advance(5);
    expect(keys(updates.at(-1)!.removed)).toEqual(["svc/keep"]);
    await watcher.close();
  });

  it("behaviour 7: never sees keys of svc-2/, svcx/ or the bare prefix", async () => {
    const { memory, open } = harness();
    memory.put("svc-2/a", value("10.0.0.9:1"));
    memory.put("svcx/a", value("10.0.0.9:2"));
    memory.put("svc", value("10.0.0.9:3"));
    memory.put("svc/a", value("10.0.0.1:1"));
    const { watcher, updates } = open();
    await settle();
    memory.put("svc-2/b", value("10.0.0.9:4"));
    memory.put("svcx/b", value("10.0.0.9:5"));
    memory.delete("svc-2/a");
    memory.put("svc/b", value("10.0.0.2:1"));
    await settle();
    const seen = updates.flatMap((u) => [...u.added, ...u.updated, ...u.removed]);
    expect(new Set(keys(seen))).toEqual(new Set(["svc/a", "svc/b"]));
    expect(keys(watcher.snapshot().endpoints)).toEqual(["svc/a", "svc/b"]);
    await watcher.close();
  });

  it("behaviour 8: watchers of one service share one source watch; the last close cancels it", async () => {
    const { memory, open } = harness();
    memory.put("svc/a", value("10.0.0.1:1"));
    const first = open();
    const second = open();
    await settle();
    const late = open("svc", { filter: (e) => e.addr !== "10.0.0.1:1" });
    const other = open("other");
    await settle();
    expect(memory.stats()).toMatchObject({ watchesOpened: 2, openWatches: 2, lists: 2 });
    expect(late.updates).toEqual([expect.objectContaining({ initial: true, endpoints: [] })]);
    expect(second.updates).toEqual([expect.objectContaining({ initial: true })]);
    expect(keys(second.updates[0]!.endpoints)).toEqual(["svc/a"]);

    memory.put("svc/b", value("10.0.0.2:1"));
    await settle();
    for (const w of [first, second, late]) expect(keys(w.updates.at(-1)!.added)).toEqual(["svc/b"]);

    await first.watcher.close();
    await other.watcher.close();
    expect(memory.stats().openWatches).toBe(1);
    await second.watcher.close();
    expect(memory.stats().openWatches).toBe(1);
    await late.watcher.close();
    expect(memory.stats().openWatches).toBe(0);

    // A new watcher after the last close starts a new shared watch.
    const again = open();
    await settle();
    expect(memory.stats()).toMatchObject({ watchesOpened: 3, openWatches: 1 });
    await again.watcher.close();
  });

  it("behaviour 9: after close nothing is emitted and no watch or timer is left", async () => {
    const { memory, clock, open } = harness({ coalesceMs: 50 });
    const { watcher, updates, errors, states } = open();
    await settle();
    const iterator = watcher[Symbol.asyncIterator]();
    await iterator.next();
    const pendingNext = iterator.next();
    memory.put("svc/a", value("10.0.0.1:1"));
    await settle();
    expect(clock.pending()).toBe(1); // the coalescing window
    await watcher.close();
    expect(watcher.closed).toBe(true);
    await expect(pendingNext).resolves.toEqual({ done: true, value: undefined });
    memory.put("svc/b", value("10.0.0.2:1"));
    memory.failWatches();
    await settle();
    clock.runAll();
    expect(updates).toHaveLength(1);
    expect(errors).toEqual([]);
    expect(states).toEqual([]);
    expect(memory.stats().openWatches).toBe(0);
    expect(clock.pending()).toBe(0);
    await expect(watcher.ready()).rejects.toMatchObject({ code: "CLOSED" });
    await watcher.close(); // idempotent
  });

  it("behaviour 9: closing during a backoff cancels the retry timer", async () => {
    const { memory, clock, open } = harness();
    memory.setAvailable(false);
    const { watcher, states } = open();
    const ready = watcher.ready();
    await settle();
    expect(states).toEqual(["stale"]);
    expect(clock.pending()).toBe(1);
    await watcher.close();
    expect(clock.pending()).toBe(0);
    await expect(ready).rejects.toBeInstanceOf(WatcherError);
  });

  it("retries a failed first list with backoff, then delivers the initial set", async () => {
    const { memory, clock, open } = harness();
    memory.put("svc/a", value("10.0.0.1:1"));
    memory.setAvailable(false);
    const { watcher, updates, errors, states } = open();
    await settle();
    expect(errors.map((e) => e.code)).toEqual(["SOURCE_UNAVAILABLE"]);
    expect(errors[0]?.cause).toBeInstanceOf(Error);
    expect(updates).toEqual([]);
    memory.setAvailable(true);
    clock.advance(clock.pendingDelays()[0]!);
    await settle();
    expect(states).toEqual(["stale", "fresh"]);
    expect(keys(updates[0]!.added)).toEqual(["svc/a"]);
    await watcher.close();
  });

  it("coalesces a burst into one update; 0 emits one update per response", async () => {
    const { memory, clock, open } = harness();
    const coalesced = open("svc", { coalesceMs: 10 });
    const each = open("svc", { coalesceMs: 0 });
    await settle();
    for (let i = 0; i < 5; i++) memory.put(`svc/${i}`, value(`10.0.0.${i}:1`));
    memory.put("svc/tmp", value("10.0.0.9:1"));
    memory.delete("svc/tmp");
    memory.transaction([
      { type: "put", key: "svc/x", value: value("10.0.1.1:1") },
      { type: "put", key: "svc/y", value: value("10.0.1.2:1") },
    ]);
    await settle();
    expect(each.updates).toHaveLength(1 + 8);
    expect(coalesced.updates).toHaveLength(1);
    clock.advance(9);
    expect(coalesced.updates).toHaveLength(1);
    clock.advance(1);
    expect(coalesced.updates).toHaveLength(2);
    expect(keys(coalesced.updates[1]!.added)).toEqual([
      "svc/0",
      "svc/1",
      "svc/2",
      "svc/3",
      "svc/4",
      "svc/x",
      "svc/y",
    ]);
    expect(coalesced.updates[1]!.removed).toEqual([]);
    // A change undone inside the window produces no update at all.
    memory.put("svc/tmp", value("10.0.0.9:1"));
    memory.delete("svc/tmp");
    await settle();
    clock.advance(10);
    expect(coalesced.updates).toHaveLength(2);
    await coalesced.watcher.close();
    await each.watcher.close();
  });

  it("applies a metadata filter to updates and snapshots", async () => {
    const { memory, open } = harness();
    memory.put("svc/a", value("10.0.0.1:1", { zone: "a" }));
    memory.put("svc/b", value("10.0.0.2:1", { zone: "b" }));
    const { watcher, updates } = open("svc", {
      filter: (e) => (e.metadata as { zone?: string } | null)?.zone === "a",
    });
    await settle();
    expect(keys(updates[0]!.endpoints)).toEqual(["svc/a"]);
    memory.put("svc/a", value("10.0.0.1:1", { zone: "b" }));
    await settle();
    expect(keys(updates.at(-1)!.removed)).toEqual(["svc/a"]);
    expect(watcher.snapshot().endpoints).toEqual([]);
    await watcher.close();
  });

  it("reads linearizably by default and serializably on request", async () => {
    const { memory, open } = harness();
    const a = open("svc");
    await settle();
    expect(memory.stats().lastListOptions).toEqual({ linearizable: true });
    const b = open("svc", { linearizable: false });
    await settle();
    expect(memory.stats().lastListOptions).toEqual({ linearizable: false });
    await a.watcher.close();
    await b.watcher.close();
  });

  it("iterates batches with for await, starting from the full set", async () => {
    const { memory, open } = harness();
    memory.put("svc/a", value("10.0.0.1:1"));
    const { watcher } = open();
    await watcher.ready();
    const seen: EndpointsUpdate[] = [];
    const consumer = (async () => {
      for await (const batch of watcher) {
        seen.push(batch);
        if (seen.length === 3) break;
      }
    })();
    await settle();
    memory.put("svc/b", value("10.0.0.2:1"));
    await settle();
    memory.delete("svc/a");
    await consumer;
    expect(seen.map((b) => [b.initial, keys(b.added), keys(b.removed)])).toEqual([
      [true, ["svc/a"], []],
      [false, ["svc/b"], []],
      [false, [], ["svc/a"]],
    ]);
    await watcher.close();
  });

  it("a listener that throws does not stop the others", async () => {
    const errors: unknown[] = [];
    const { memory, open } = harness({ logger: { error: (fields) => errors.push(fields["err"]) } });
    const { watcher, updates } = open();
    watcher.on("update", () => {
      throw new Error("boom");
    });
    const second: EndpointsUpdate[] = [];
    const off = watcher.on("update", (u) => second.push(u));
    await settle();
    memory.put("svc/a", value("10.0.0.1:1"));
    await settle();
    expect(updates).toHaveLength(2);
    expect(second).toHaveLength(2);
    expect(errors).toEqual([expect.any(Error), expect.any(Error)]);
    off();
    memory.put("svc/b", value("10.0.0.2:1"));
    await settle();
    expect(second).toHaveLength(2);
    await watcher.close();
  });

  it("rejects invalid services and options with typed errors", () => {
    const source: MemorySource = createMemorySource();
    for (const service of ["", "/svc", "svc/", "a//b", "a\nb"]) {
      expect(() => watchService(source, service)).toThrowError(
        expect.objectContaining({ code: "INVALID_SERVICE" }) as Error,
      );
    }
    expect(() => watchService(source, "svc", { coalesceMs: -1 })).toThrowError(
      expect.objectContaining({ code: "INVALID_OPTIONS" }) as Error,
    );
    expect(() => watchService(source, "svc", { backoff: { jitter: 2 } })).toThrowError(
      expect.objectContaining({ code: "INVALID_OPTIONS" }) as Error,
    );
    expect(source.stats().watchesOpened).toBe(0);
  });
});
