import { encodeEndpoint } from "@etcd-naming/codec";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createManualClock } from "./clock.js";
import { createMemorySource } from "./memory-source.js";
import type { EndpointsUpdate, ServiceEndpoint } from "./service-watcher.js";
import { watchService } from "./service-watcher.js";
import { record } from "./test-support.js";

/** Lets the memory source and the core deliver what is queued. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const value = (addr: string) => encodeEndpoint({ addr });
const keys = (endpoints: readonly { key: string }[]) => endpoints.map((e) => e.key);
const quiet = { warn: () => {}, error: () => {} };

describe("the first update", () => {
  it("lists a set written out of key order in key order, in added as in endpoints, for listeners and iterators", async () => {
    const memory = createMemorySource();
    for (const name of ["d", "b", "e", "a", "c"])
      memory.put(`svc/${name}`, value(`10.0.0.1:${name.charCodeAt(0)}`));
    const watcher = watchService(memory, "svc", { coalesceMs: 0, logger: quiet });
    const { updates } = record(watcher);
    const first = await watcher[Symbol.asyncIterator]().next();
    await settle();
    const sorted = ["svc/a", "svc/b", "svc/c", "svc/d", "svc/e"];
    expect(keys(updates[0]!.added)).toEqual(sorted);
    expect(keys(updates[0]!.endpoints)).toEqual(sorted);
    expect(first.done).toBe(false);
    expect(keys((first.value as EndpointsUpdate).added)).toEqual(sorted);
    await watcher.close();
  });
});

describe("leading-edge delivery", () => {
  it("delivers a change after a quiet window at once, and gathers what follows into one update at the window's end", async () => {
    const memory = createMemorySource();
    const clock = createManualClock();
    const watcher = watchService(memory, "svc", { clock, coalesceMs: 10, logger: quiet });
    const { updates } = record(watcher);
    await settle();
    expect(updates).toHaveLength(1);

    clock.advance(10);
    memory.put("svc/a", value("10.0.0.1:1"));
    await settle();
    // No timer was needed: the window had passed since the last update.
    expect(updates).toHaveLength(2);
    expect(keys(updates[1]!.added)).toEqual(["svc/a"]);
    expect(clock.pending()).toBe(0);

    memory.put("svc/c", value("10.0.0.3:1"));
    memory.put("svc/b", value("10.0.0.2:1"));
    memory.delete("svc/a");
    await settle();
    expect(updates).toHaveLength(2);
    expect(clock.pendingDelays()).toEqual([10]);
    clock.advance(9);
    expect(updates).toHaveLength(2);
    clock.advance(1);
    expect(updates).toHaveLength(3);
    expect(keys(updates[2]!.added)).toEqual(["svc/b", "svc/c"]);
    expect(keys(updates[2]!.removed)).toEqual(["svc/a"]);
    expect(keys(updates[2]!.endpoints)).toEqual(["svc/b", "svc/c"]);

    // Within a window of the last update, even a lone change waits for the window's end.
    clock.advance(4);
    memory.put("svc/d", value("10.0.0.4:1"));
    await settle();
    expect(updates).toHaveLength(3);
    expect(clock.pendingDelays()).toEqual([6]);
    clock.advance(6);
    expect(keys(updates[3]!.added)).toEqual(["svc/d"]);
    await watcher.close();
  });

  it("spaces steady churn one window apart and loses no change", async () => {
    const memory = createMemorySource();
    const clock = createManualClock();
    const watcher = watchService(memory, "svc", { clock, coalesceMs: 10, logger: quiet });
    const { updates } = record(watcher);
    await settle();
    const times: number[] = [];
    watcher.on("update", () => times.push(clock.now()));
    for (let i = 0; i < 40; i++) {
      memory.put(`svc/${i % 7}`, value(`10.0.0.${i}:1`));
      await settle();
      clock.advance(3);
    }
    clock.runAll();
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(10);
    // 40 changes over 120 ms: about one update per window, not one per change.
    expect(updates.length).toBeLessThanOrEqual(1 + 13);
    const last = updates.at(-1)!;
    expect(last.endpoints.map((e) => [e.key, e.addr])).toEqual(
      [33, 34, 35, 36, 37, 38, 39]
        .map((i) => [`svc/${i % 7}`, `10.0.0.${i}:1`])
        .sort((a, b) => (a[0]! < b[0]! ? -1 : 1)),
    );
    await watcher.close();
  });
});

type Op =
  | { type: "put"; key: number; addr: number }
  | { type: "bad"; key: number }
  | { type: "delete"; key: number }
  | { type: "txn"; puts: number[]; deletes: number[] }
  | { type: "advance"; ms: number }
  | { type: "compact" };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ type: fc.constant("put" as const), key: fc.nat(11), addr: fc.nat(5) }),
  fc.record({ type: fc.constant("bad" as const), key: fc.nat(11) }),
  fc.record({ type: fc.constant("delete" as const), key: fc.nat(11) }),
  fc.record({
    type: fc.constant("txn" as const),
    puts: fc.uniqueArray(fc.nat(11), { maxLength: 4 }),
    deletes: fc.uniqueArray(fc.nat(11), { maxLength: 4 }),
  }),
  fc.record({ type: fc.constant("advance" as const), ms: fc.nat(12) }),
  fc.record({ type: fc.constant("compact" as const) }),
);

/** Keys sort as text: "svc/10" before "svc/2", as etcd and the watcher order them. */
const key = (n: number) => `svc/${n}`;

function check(
  previous: Map<string, ServiceEndpoint>,
  update: EndpointsUpdate,
): Map<string, ServiceEndpoint> {
  const next = new Map(update.endpoints.map((e) => [e.key, e]));
  const sorted = [...next.keys()].sort();
  expect(keys(update.endpoints)).toEqual(sorted);
  const added = [...next.values()].filter((e) => !previous.has(e.key));
  const updated = [...next.values()].filter(
    (e) => previous.has(e.key) && previous.get(e.key)!.modRevision !== e.modRevision,
  );
  const removed = [...previous.values()]
    .filter((e) => !next.has(e.key))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  expect(keys(update.added)).toEqual(keys(added));
  expect(keys(update.updated)).toEqual(keys(updated));
  expect(keys(update.removed)).toEqual(keys(removed));
  expect(update.initial || added.length + updated.length + removed.length > 0).toBe(true);
  return next;
}

describe("what a view emits", () => {
  it("always equals the set etcd holds, with a diff that matches consecutive sets (any window, filter, iterator)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 3, 10),
        fc.boolean(),
        fc.array(opArb, { minLength: 1, maxLength: 40 }),
        async (coalesceMs, filtered, ops) => {
          const memory = createMemorySource();
          const clock = createManualClock();
          // The filter drops addresses ending in ":0", so a changed value can move a key in or out.
          const filter = filtered ? (e: ServiceEndpoint) => !e.addr.endsWith(":0") : undefined;
          const watcher = watchService(memory, "svc", {
            clock,
            coalesceMs,
            logger: quiet,
            ...(filter ? { filter } : {}),
          });
          const { updates } = record(watcher);
          const iterator = watcher[Symbol.asyncIterator]();
          const iterated: EndpointsUpdate[] = [];
          let reading: Promise<void> | undefined;
          const read = () => {
            reading ??= iterator.next().then((next) => {
              if (!next.done) iterated.push(next.value);
              reading = undefined;
            });
          };
          await settle();
          for (const [index, op] of ops.entries()) {
            switch (op.type) {
              case "put":
                memory.put(key(op.key), value(`10.0.0.${op.key}:${op.addr}`));
                break;
              case "bad":
                memory.put(key(op.key), "{not json");
                break;
              case "delete":
                memory.delete(key(op.key));
                break;
              case "txn":
                memory.transaction([
                  ...op.puts.map((k) => ({
                    type: "put" as const,
                    key: key(k),
                    value: value(`10.1.0.${k}:1`),
                  })),
                  ...op.deletes
                    .filter((k) => !op.puts.includes(k))
                    .map((k) => ({ type: "delete" as const, key: key(k) })),
                ]);
                break;
              case "advance":
                clock.advance(op.ms);
                break;
              case "compact":
                // A compacted resume point re-lists (the whole-set comparison).
                memory.setAvailable(false);
                await settle();
                memory.compact();
                memory.setAvailable(true);
                clock.runAll();
                break;
            }
            await settle();
            // The iterator reads now and then, so the view both keeps and shares the set it compares with.
            if (index % 3 === 0) read();
          }
          clock.runAll();
          await settle();
          read();
          await settle();

          let seen = new Map<string, ServiceEndpoint>();
          for (const update of updates) seen = check(seen, update);
          let yielded = new Map<string, ServiceEndpoint>();
          for (const update of iterated) yielded = check(yielded, update);

          const listing = await memory.list("svc/", { linearizable: true });
          const expected = listing.kvs
            .filter((kv) => {
              const text = typeof kv.value === "string" ? kv.value : new TextDecoder().decode(kv.value);
              return !text.startsWith("{not") && (!filter || !text.includes(':0"'));
            })
            .map((kv) => kv.key)
            .sort();
          expect([...seen.keys()]).toEqual(expected);
          // An iterator that had fallen behind was handed the newest set by the last read.
          expect([...yielded.keys()].sort()).toEqual(expected);
          expect(keys(watcher.snapshot().endpoints)).toEqual(expected);
          await watcher.close();
          await reading;
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("the filter", () => {
  it("is asked once per version of an endpoint, and again after a put", async () => {
    const memory = createMemorySource();
    const asked: string[] = [];
    const filter = (e: ServiceEndpoint) => {
      asked.push(`${e.key}@${e.modRevision}`);
      return !e.addr.endsWith(":0");
    };
    const watcher = watchService(memory, "svc", { coalesceMs: 0, filter, logger: quiet });
    const { updates } = record(watcher);
    memory.put("svc/a", value("10.0.0.1:1"));
    memory.put("svc/b", value("10.0.0.2:0"));
    await watcher.ready();
    await expect.poll(() => keys(watcher.snapshot().endpoints)).toEqual(["svc/a"]);
    const once = new Set(asked);
    expect(asked).toHaveLength(once.size);
    expect(once.size).toBe(2);

    memory.put("svc/b", value("10.0.0.2:1"));
    await expect.poll(() => keys(watcher.snapshot().endpoints)).toEqual(["svc/a", "svc/b"]);
    expect(keys(updates.at(-1)!.added)).toEqual(["svc/b"]);
    // The new version of b was judged once; a, unchanged, was not asked again.
    expect(asked).toHaveLength(new Set(asked).size);
    expect(asked).toHaveLength(3);
    await watcher.close();
  });
});

describe("closing from a listener", () => {
  it("a re-list whose update closes the last watcher opens no watch, and 'fresh' comes before that update", async () => {
    const memory = createMemorySource();
    const clock = createManualClock();
    memory.put("svc/a", value("10.0.0.1:1"));
    const watcher = watchService(memory, "svc", { clock, logger: quiet });
    const events: string[] = [];
    watcher.on("fresh", () => events.push("fresh"));
    await settle();
    memory.setAvailable(false);
    await settle();
    // Two writes, then a compaction past the watch's resume point: the watcher has to re-list.
    memory.put("svc/b", value("10.0.0.2:1"));
    memory.put("svc/c", value("10.0.0.3:1"));
    memory.compact();
    watcher.on("update", () => {
      events.push("update");
      void watcher.close();
    });
    const opened = memory.stats().watchesOpened;
    memory.setAvailable(true);
    clock.advance(clock.pendingDelays()[0]!);
    await settle();
    await settle();
    expect(events).toEqual(["fresh", "update"]);
    expect(memory.stats()).toMatchObject({ openWatches: 0, watchesOpened: opened + 1, lists: 2 });
  });
});
