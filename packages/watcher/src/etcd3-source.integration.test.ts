import { encodeEndpoint, keyFromBytes, keyToBytes } from "@etcd-naming/codec";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it } from "vitest";
import { createEtcd3Source } from "./etcd3-source.js";
import { watchService } from "./service-watcher.js";
import type { NamingSource } from "./source.js";
import { countingClock, record } from "./test-support.js";

const etcd = useTestEtcd();
const ns = etcd.namespace;
const quiet = { warn: () => {} };
const value = (addr: string, metadata?: unknown) =>
  encodeEndpoint(metadata === undefined ? { addr } : { addr, metadata });
const keys = (endpoints: readonly { key: string }[]) => endpoints.map((e) => e.key);
const poll = { timeout: 10_000, interval: 20 };

describe("createEtcd3Source on the shared etcd", () => {
  it("lists a prefix in pages at one revision, with leases and revisions as strings", async () => {
    const client = etcd.client();
    const source = createEtcd3Source(client, { pageSize: 3 });
    const lease = client.lease(60, { autoKeepAlive: false });
    const leaseId = await lease.grant();
    for (let i = 0; i < 10; i++) await client.put(`${ns}/list/${i}`).value(value(`10.0.0.${i}:1`));
    await lease.put(`${ns}/list/leased`).value(value("10.0.1.1:1"));
    await client.put(`${ns}/list-2/x`).value(value("10.0.9.1:1"));
    const last = await client.put(`${ns}/listx`).value(value("10.0.9.2:1"));

    const listing = await source.list(`${ns}/list/`, { linearizable: true });
    expect(listing.kvs.map((kv) => kv.key)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `${ns}/list/${i}`),
      `${ns}/list/leased`,
    ]);
    expect(BigInt(listing.revision)).toBeGreaterThanOrEqual(BigInt(last.header.revision));
    const leased = listing.kvs.at(-1)!;
    expect(leased.lease).toBe(leaseId);
    expect(listing.kvs[0]?.lease).toBeUndefined();
    expect(typeof listing.kvs[0]?.createRevision).toBe("string");
    expect(source.stats().lists).toBe(1);
    await lease.revoke();

    const serializable = await source.list(`${ns}/list/`, { linearizable: false });
    expect(serializable.kvs).toHaveLength(10);
  });

  it("behaviour 1: lists, then watches from revision + 1 without missing or duplicating events", async () => {
    const client = etcd.client();
    const service = `${ns}/b1`;
    await client.put(`${service}/a`).value(value("10.0.0.1:0"));
    await client.delete().key(`${service}/a`);
    await client.put(`${service}/a`).value(value("10.0.0.1:1"));
    await client.put(`${service}/b`).value(value("10.0.0.2:1"));
    const real = createEtcd3Source(client);
    const watchedFrom: string[] = [];
    let listedAt = "";
    let firstRevision = "";
    // Writes land between the listing and the watch; the watch itself starts too early, replaying
    // events the listing already holds: the watcher must neither miss the former nor repeat the latter.
    const source: NamingSource = {
      async list(prefix, options) {
        const listing = await real.list(prefix, options);
        listedAt = listing.revision;
        await client.put(`${service}/c`).value(value("10.0.0.3:1"));
        await client.put(`${service}/a`).value(value("10.0.0.1:2"));
        return listing;
      },
      watch(prefix, from, handlers) {
        watchedFrom.push(from);
        return real.watch(prefix, firstRevision, handlers);
      },
    };
    const before = await client.get(`${service}/a`).exec();
    firstRevision = String(BigInt(before.header.revision) - 3n);
    await using watcher = watchService(source, service, { coalesceMs: 0 });
    const { updates } = record(watcher);
    await expect
      .poll(() => watcher.snapshot().endpoints.map((e) => e.addr), poll)
      .toEqual(["10.0.0.1:2", "10.0.0.2:1", "10.0.0.3:1"]);
    expect(watchedFrom).toEqual([String(BigInt(listedAt) + 1n)]);
    expect(updates.flatMap((u) => keys(u.added)).sort()).toEqual([
      `${service}/a`,
      `${service}/b`,
      `${service}/c`,
    ]);
    expect(updates.flatMap((u) => u.updated.map((e) => e.addr))).toEqual(["10.0.0.1:2"]);
    expect(updates.flatMap((u) => u.removed)).toEqual([]);
  });

  it("behaviour 2: a put of an existing key updates that endpoint; a delete removes it", async () => {
    const client = etcd.client();
    const service = `${ns}/b2`;
    await client.put(`${service}/a`).value(value("10.0.0.1:1", { weight: 1 }));
    const warnings: string[] = [];
    await using watcher = watchService(createEtcd3Source(client), service, {
      coalesceMs: 0,
      logger: { warn: (_fields, message) => warnings.push(message) },
    });
    const { updates, errors } = record(watcher);
    await watcher.ready();
    await client.put(`${service}/a`).value(value("10.0.0.1:1", { weight: 2 }));
    await expect.poll(() => updates.at(-1)?.updated.map((e) => e.metadata), poll).toEqual([{ weight: 2 }]);
    expect(watcher.snapshot().endpoints).toHaveLength(1);
    expect(updates.flatMap((u) => u.added)).toHaveLength(1);
    await client.delete().key(`${service}/a`);
    await expect.poll(() => updates.at(-1)?.removed.map((e) => e.key), poll).toEqual([`${service}/a`]);
    expect(watcher.snapshot().endpoints).toEqual([]);
    // A delete is a delete: never read as a malformed put.
    expect(watcher.snapshot().skipped).toEqual([]);
    expect(warnings).toEqual([]);
    expect(errors).toEqual([]);
  });

  it("behaviour 3: skips malformed values with a warning naming the key, and never keeps a stale endpoint", async () => {
    const client = etcd.client();
    const service = `${ns}/b3`;
    const warnings: string[] = [];
    await client.put(`${service}/bad`).value("{oops");
    await client.put(`${service}/good`).value(value("10.0.0.1:1"));
    await using watcher = watchService(createEtcd3Source(client), service, {
      coalesceMs: 0,
      logger: { warn: (_fields, message) => warnings.push(message) },
    });
    const { errors } = record(watcher);
    const first = await watcher.ready();
    expect(keys(first.endpoints)).toEqual([`${service}/good`]);
    expect(keys(first.skipped)).toEqual([`${service}/bad`]);
    expect(warnings).toEqual([expect.stringContaining(`${service}/bad`)]);

    await client.put(`${service}/bad`).value(value("10.0.0.2:1"));
    await expect
      .poll(() => keys(watcher.snapshot().endpoints), poll)
      .toEqual([`${service}/bad`, `${service}/good`]);
    expect(watcher.snapshot().skipped).toEqual([]);

    await client.put(`${service}/good`).value(JSON.stringify({ Op: 0, Addr: 42 }));
    await expect.poll(() => keys(watcher.snapshot().endpoints), poll).toEqual([`${service}/bad`]);
    expect(warnings.at(-1)).toMatch(new RegExp(`${service}/good.*removed`));
    expect(errors.filter((e) => e.code === "INVALID_VALUE").map((e) => e.key)).toEqual([
      `${service}/bad`,
      `${service}/good`,
    ]);
  });

  it("behaviour 7: never sees keys of svc-2/, svcx/ or the bare prefix", async () => {
    const client = etcd.client();
    const service = `${ns}/b7`;
    await client.put(`${service}-2/a`).value(value("10.0.9.1:1"));
    await client.put(`${service}x/a`).value(value("10.0.9.2:1"));
    await client.put(service).value(value("10.0.9.3:1"));
    await client.put(`${service}/a`).value(value("10.0.0.1:1"));
    await using watcher = watchService(createEtcd3Source(client), service, { coalesceMs: 0, logger: quiet });
    const { updates } = record(watcher);
    await watcher.ready();
    await client.put(`${service}-2/b`).value(value("10.0.9.4:1"));
    await client.put(`${service}x/b`).value(value("10.0.9.5:1"));
    await client.delete().key(`${service}-2/a`);
    await client.put(`${service}/b`).value(value("10.0.0.2:1"));
    await expect
      .poll(() => keys(watcher.snapshot().endpoints), poll)
      .toEqual([`${service}/a`, `${service}/b`]);
    expect(keys(updates[0]!.endpoints)).toEqual([`${service}/a`]);
    const seen = updates.slice(1).flatMap((u) => [...u.added, ...u.updated, ...u.removed]);
    expect(keys(seen)).toEqual([`${service}/b`]);
  });

  it("behaviours 8 and 9: one shared etcd watch; after close no event, stream or timer is left", async () => {
    const client = etcd.client();
    const service = `${ns}/b8`;
    const clock = countingClock();
    const source = createEtcd3Source(client, { clock, progressIntervalMs: 200, progressTimeoutMs: 5_000 });
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const watchers = [0, 1, 2].map(() => watchService(source, service, { clock, coalesceMs: 0 }));
    const logs = watchers.map(record);
    await Promise.all(watchers.map((w) => w.ready()));
    await client.put(`${service}/a`).value(value("10.0.0.1:1"));
    await expect.poll(() => logs.map((l) => l.updates.length), poll).toEqual([2, 2, 2]);
    expect(source.stats()).toMatchObject({ watchesOpened: 1, openWatches: 1, lists: 1 });
    // Let progress requests go by: the member answers them and the watch stays up.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(source.stats().watchesOpened).toBe(1);

    await watchers[0]!.close();
    await watchers[1]!.close();
    expect(source.stats().openWatches).toBe(1);
    await watchers[2]!.close();
    expect(source.stats().openWatches).toBe(0);
    expect(clock.pending()).toBe(0);

    await client.put(`${service}/b`).value(value("10.0.0.2:1"));
    await client.delete().key(`${service}/a`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(logs.map((l) => l.updates.length)).toEqual([2, 2, 2]);
    expect(logs.flatMap((l) => [...l.errors, ...l.states])).toEqual([]);
    await expect
      .poll(() => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length, poll)
      .toBeLessThanOrEqual(timersBefore);
  });

  it("arms no timer per event: a watch's idle timer is re-armed only when it fires", async () => {
    const client = etcd.client();
    const service = `${ns}/idle-timer`;
    const counting = countingClock();
    let armed = 0;
    const clock = {
      ...counting,
      setTimeout(callback: () => void, ms: number) {
        armed++;
        return counting.setTimeout(callback, ms);
      },
    };
    const source = createEtcd3Source(client, { clock, progressIntervalMs: 60_000 });
    const watcher = watchService(source, service, { clock, coalesceMs: 0 });
    const log = record(watcher);
    await watcher.ready();
    const seen = async (n: number) => expect.poll(() => log.updates.length, poll).toBe(n);
    await client.put(`${service}/a`).value(value("10.0.0.1:1"));
    await seen(2);
    const before = armed;
    for (let i = 2; i <= 21; i++) {
      await client.put(`${service}/a`).value(value(`10.0.0.${i}:1`));
      await seen(i + 1);
    }
    // Each of the 20 responses used to clear and set the idle timer again.
    expect(armed - before).toBe(0);
    await watcher.close();
    expect(counting.pending()).toBe(0);
  });

  it("keeps keys that differ only in bytes that are not UTF-8 apart, listed and watched", async () => {
    const client = etcd.client();
    const service = `${ns}/bytes`;
    const raw = (...tail: number[]) => Buffer.concat([Buffer.from(`${service}/k-`), Buffer.from(tail)]);
    const [ff, fe, fd, fffe] = [raw(0xff), raw(0xfe), raw(0xfd), raw(0xff, 0xfe)];
    await client.put(ff).value(value("10.0.0.1:1"));
    await client.put(fe).value(value("10.0.0.2:1"));
    // A key holding U+FFFD itself, what a lossy decode would make of both.
    await client.put(`${service}/k-\ufffd`).value(value("10.0.0.3:1"));
    const source = createEtcd3Source(client);
    const listing = await source.list(`${service}/`, { linearizable: true });
    // In etcd's order, which is the bytes' (EF BF BD < FE < FF).
    expect(listing.kvs.map((kv) => kv.key)).toEqual([
      `${service}/k-\ufffd`,
      keyFromBytes(fe),
      keyFromBytes(ff),
    ]);
    expect(new Set(listing.kvs.map((kv) => kv.key)).size).toBe(3);

    const watcher = watchService(source, service, { coalesceMs: 0, logger: quiet });
    const addrs = () =>
      watcher
        .snapshot()
        .endpoints.map((e) => e.addr)
        .sort();
    await watcher.ready();
    expect(addrs()).toEqual(["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1"]);
    const byAddr = new Map(watcher.snapshot().endpoints.map((e) => [e.addr, e.key]));
    expect(Buffer.from(keyToBytes(byAddr.get("10.0.0.1:1")!))).toEqual(ff);
    expect(Buffer.from(keyToBytes(byAddr.get("10.0.0.2:1")!))).toEqual(fe);

    // Through the watch: new keys, then deleting one leaves its look-alikes.
    await client.put(fd).value(value("10.0.0.4:1"));
    await client.put(fffe).value(value("10.0.0.5:1"));
    await expect
      .poll(addrs, poll)
      .toEqual(["10.0.0.1:1", "10.0.0.2:1", "10.0.0.3:1", "10.0.0.4:1", "10.0.0.5:1"]);
    await client.delete().key(fe);
    await expect.poll(addrs, poll).toEqual(["10.0.0.1:1", "10.0.0.3:1", "10.0.0.4:1", "10.0.0.5:1"]);
    await client.delete().key(Buffer.from(keyToBytes(byAddr.get("10.0.0.1:1")!)));
    await expect.poll(addrs, poll).toEqual(["10.0.0.3:1", "10.0.0.4:1", "10.0.0.5:1"]);
    await watcher.close();
  });
});
