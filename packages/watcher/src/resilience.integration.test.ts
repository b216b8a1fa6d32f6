import { encodeEndpoint } from "@etcd-naming/codec";
import {
  type EtcdCluster,
  type EtcdServer,
  startEtcd,
  startEtcdCluster,
  startTcpProxy,
} from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEtcd3Source } from "./etcd3-source.js";
import { watchService } from "./service-watcher.js";
import type { SourceEvent } from "./source.js";
import { record } from "./test-support.js";

const value = (addr: string) => encodeEndpoint({ addr });
const keys = (endpoints: readonly { key: string }[]) => endpoints.map((e) => e.key);
const poll = { timeout: 20_000, interval: 50 };
const backoff = { initialDelayMs: 50, maxDelayMs: 500 };
const quiet = { warn: () => {} };

describe("on a dedicated etcd", () => {
  let etcd: EtcdServer;
  let writer: Etcd3;

  beforeAll(async () => {
    etcd = await startEtcd();
    writer = new Etcd3({ hosts: etcd.endpoints });
  }, 30_000);

  afterAll(async () => {
    writer?.close();
    await etcd?.close();
  });

  it("behaviour 8: many watchers of one service hold one watch on the server", async () => {
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      const serverWatches = async () => (await etcd.metrics()).value("etcd_debugging_mvcc_watcher_total");
      const baseline = await serverWatches();
      const source = createEtcd3Source(client);
      const watchers = Array.from({ length: 4 }, () => watchService(source, "b8", { logger: quiet }));
      await Promise.all(watchers.map((w) => w.ready()));
      await expect.poll(serverWatches, poll).toBe(baseline + 1);
      const other = watchService(source, "b8-other", { logger: quiet });
      await other.ready();
      await expect.poll(serverWatches, poll).toBe(baseline + 2);
      await Promise.all([...watchers, other].map((w) => w.close()));
      await expect.poll(serverWatches, poll).toBe(baseline);
      expect(source.stats()).toMatchObject({ watchesOpened: 2, openWatches: 0 });
    } finally {
      client.close();
    }
  });

  it("a source watch from revision F delivers exactly F onwards, also when only F - 1 is compacted", async () => {
    const client = new Etcd3({ hosts: etcd.endpoints });
    const cancels: (() => Promise<void>)[] = [];
    try {
      const service = "from-f";
      await writer.put(`${service}/a`).value(value("10.0.0.1:1"));
      const b = await writer.put(`${service}/b`).value(value("10.0.0.2:1"));
      // Compacting at F removes the revision below it, none the caller asked for.
      await writer.kv.compact({ revision: b.header.revision, physical: true });
      const watch = (from: string) => {
        const source = createEtcd3Source(client, { progressIntervalMs: 200 });
        const seen: string[] = [];
        const ends: string[] = [];
        const handlers = {
          onConnected: () => {},
          onEvents: (events: readonly SourceEvent[]) => seen.push(...events.map((e) => e.key)),
          onCompacted: (revision: string) => ends.push(`compacted at ${revision}`),
          onError: (error: Error) => ends.push(error.message),
        };
        cancels.push(source.watch(`${service}/`, from, handlers));
        return { seen, ends, source };
      };

      const fromB = watch(b.header.revision);
      await expect.poll(() => fromB.seen, poll).toEqual([`${service}/b`]);
      const c = await writer.put(`${service}/c`).value(value("10.0.0.3:1"));
      await expect.poll(() => fromB.seen, poll).toEqual([`${service}/b`, `${service}/c`]);

      // From c's revision: b's (one below) is not delivered. A progress report comes only once the
      // watch has caught up, so by then anything replayed would have arrived.
      const fromC = watch(c.header.revision);
      await expect.poll(() => fromC.source.stats().progressReports, poll).toBeGreaterThan(0);
      expect(fromC.seen).toEqual([`${service}/c`]);
      expect([...fromB.ends, ...fromC.ends]).toEqual([]);
      expect([fromB, fromC].map((w) => w.source.stats().watchesOpened)).toEqual([1, 1]);

      // A start revision below the compaction is still reported as compacted.
      const below = watch(String(BigInt(b.header.revision) - 1n));
      await expect.poll(() => below.ends, poll).toEqual([`compacted at ${b.header.revision}`]);
      expect(below.seen).toEqual([]);
    } finally {
      await Promise.all(cancels.map((cancel) => cancel()));
      client.close();
    }
  });

  it("behaviour 5: after a cut connection and a compaction, re-lists and emits the missed deletes", async () => {
    await using proxy = await startTcpProxy(etcd.endpoints[0]!);
    const client = new Etcd3({ hosts: [proxy.endpoint] });
    try {
      const service = "b5";
      await writer.put(`${service}/keep`).value(value("10.0.0.1:1"));
      await writer.put(`${service}/change`).value(value("10.0.0.2:1"));
      await writer.put(`${service}/gone`).value(value("10.0.0.3:1"));
      const source = createEtcd3Source(client, { progressIntervalMs: 500, progressTimeoutMs: 2_000 });
      await using watcher = watchService(source, service, { coalesceMs: 0, backoff, logger: quiet });
      const { updates, errors, states } = record(watcher);
      await watcher.ready();

      await proxy.cut();
      await expect.poll(() => states, poll).toEqual(["stale"]);
      await writer.put(`${service}/change`).value(value("10.0.0.2:2"));
      await writer.delete().key(`${service}/gone`);
      const last = await writer.put(`${service}/new`).value(value("10.0.0.4:1"));
      await writer.kv.compact({ revision: last.header.revision, physical: true });
      expect(keys(watcher.snapshot().endpoints)).toEqual([
        `${service}/change`,
        `${service}/gone`,
        `${service}/keep`,
      ]);
      await proxy.restore();

      await expect.poll(() => states, poll).toEqual(["stale", "fresh"]);
      await expect.poll(() => errors.some((e) => e.code === "COMPACTED"), poll).toBe(true);
      await expect.poll(() => updates.length, poll).toBe(2);
      const diff = updates[1]!;
      expect(keys(diff.added)).toEqual([`${service}/new`]);
      expect(diff.updated.map((e) => [e.key, e.addr])).toEqual([[`${service}/change`, "10.0.0.2:2"]]);
      expect(keys(diff.removed)).toEqual([`${service}/gone`]);
      expect(keys(diff.endpoints)).toEqual([`${service}/change`, `${service}/keep`, `${service}/new`]);
      expect(source.stats().lists).toBe(2);

      // The watch is live again after the re-list.
      await writer.delete().key(`${service}/keep`);
      await expect.poll(() => keys(updates.at(-1)!.removed), poll).toEqual([`${service}/keep`]);
      await watcher.close();
      expect(source.stats().openWatches).toBe(0);
    } finally {
      client.close();
    }
  });

  it("behaviour 4: etcd restarted: keeps the set while stale, resumes from the last revision + 1", async () => {
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      const service = "b4";
      await writer.put(`${service}/a`).value(value("10.0.0.1:1"));
      const source = createEtcd3Source(client, { progressIntervalMs: 500, progressTimeoutMs: 2_000 });
      await using watcher = watchService(source, service, { coalesceMs: 0, backoff, logger: quiet });
      const { updates, errors, states } = record(watcher);
      await watcher.ready();
      await writer.put(`${service}/b`).value(value("10.0.0.2:1"));
      await expect.poll(() => watcher.snapshot().endpoints.length, poll).toBe(2);

      await etcd.stop();
      await expect.poll(() => states, poll).toEqual(["stale"]);
      expect(watcher.snapshot()).toMatchObject({ stale: true, listed: true });
      expect(keys(watcher.snapshot().endpoints)).toEqual([`${service}/a`, `${service}/b`]);
      expect(errors.map((e) => e.code)).toContain("WATCH_FAILED");

      await etcd.start();
      await expect.poll(() => states, poll).toEqual(["stale", "fresh"]);
      // The resumed watch starts one revision early (see etcd3-source.ts), so etcd catches it up in its
      // next sync (within 100 ms) and would hand writes made meanwhile over in one response. Once the
      // member has answered a progress request it is caught up, and each write below is its own update.
      const reports = source.stats().progressReports;
      await expect.poll(() => source.stats().progressReports, poll).toBeGreaterThan(reports);
      await writer.delete().key(`${service}/a`);
      await writer.put(`${service}/c`).value(value("10.0.0.3:1"));
      await expect
        .poll(() => keys(watcher.snapshot().endpoints), poll)
        .toEqual([`${service}/b`, `${service}/c`]);
      // Resumed, not re-listed: every change arrived as a watch event exactly once.
      expect(source.stats().lists).toBe(1);
      const changed = updates.slice(1).flatMap((u) => [...u.added, ...u.removed].map((e) => e.key));
      expect(changed).toEqual([`${service}/b`, `${service}/a`, `${service}/c`]);
    } finally {
      client.close();
    }
  }, 40_000);
});

describe("on a 3-member cluster", () => {
  let cluster: EtcdCluster;

  beforeAll(async () => {
    cluster = await startEtcdCluster({ size: 3 });
  }, 45_000);

  afterAll(async () => {
    for (const member of cluster?.members ?? []) if (member.paused) member.resume();
    await cluster?.close();
  });

  const memberAt = (endpoint: string) => cluster.members.find((m) => m.endpoints.includes(endpoint))!;

  it("behaviour 6: a stopped (SIGSTOP) member does not hold the watch silent: it fails over", async () => {
    const client = new Etcd3({ hosts: cluster.endpoints });
    let writer: Etcd3 | undefined;
    let paused: EtcdServer | undefined;
    try {
      const service = "b6";
      const progressIntervalMs = 300;
      const progressTimeoutMs = 1_000;
      const source = createEtcd3Source(client, { progressIntervalMs, progressTimeoutMs });
      await using watcher = watchService(source, service, { coalesceMs: 0, backoff, logger: quiet });
      const { errors, states } = record(watcher);
      let staleAt: number | undefined;
      watcher.on("stale", () => {
        staleAt ??= Date.now();
      });
      await watcher.ready();
      const [host] = source.stats().watchHosts;
      expect(host).toBeDefined();
      paused = memberAt(host!);
      writer = new Etcd3({ hosts: cluster.endpoints.filter((e) => e !== host) });
      await writer.put(`${service}/a`).value(value("10.0.0.1:1"));
      await expect.poll(() => keys(watcher.snapshot().endpoints), poll).toEqual([`${service}/a`]);

      // Nothing is written while the member is stopped: the watch resumes on another member at the
      // store's current revision + 1, the case etcd 3.5.22+ answers no progress request for.
      const pausedAt = Date.now();
      paused.pause();
      await expect.poll(() => states, poll).toEqual(["stale", "fresh"]);
      // One fail-over; on a starved machine it may take more than one attempt before a member answers.
      const opened = source.stats().watchesOpened;
      expect(opened).toBeGreaterThanOrEqual(2);
      // Left within one idle interval plus the answer deadline (and scheduling slack on a busy machine).
      expect(staleAt! - pausedAt).toBeLessThan(progressIntervalMs + progressTimeoutMs + 1_500);
      expect(source.stats().watchHosts).toHaveLength(1);
      expect(source.stats().watchHosts[0]).not.toBe(host);
      expect(errors.map((e) => e.message).join("\n")).toMatch(/did not answer/);

      // The member it moved to answers its liveness checks on an idle store: the watch stays there
      // instead of failing over again and again.
      const reports = source.stats().progressReports;
      await expect.poll(() => source.stats().progressReports, poll).toBeGreaterThanOrEqual(reports + 5);
      expect(source.stats().watchesOpened).toBe(opened);
      expect(states).toEqual(["stale", "fresh"]);

      await writer.put(`${service}/b`).value(value("10.0.0.2:1"));
      await expect
        .poll(() => keys(watcher.snapshot().endpoints), poll)
        .toEqual([`${service}/a`, `${service}/b`]);
      expect(source.stats().watchesOpened).toBe(opened);
      expect(states).toEqual(["stale", "fresh"]);
    } finally {
      paused?.resume();
      writer?.close();
      client.close();
    }
  }, 40_000);

  it("behaviour 4: the member holding the watch is killed: resumes on another member", async () => {
    const client = new Etcd3({ hosts: cluster.endpoints });
    let writer: Etcd3 | undefined;
    let killed: EtcdServer | undefined;
    try {
      const service = "b4k";
      const source = createEtcd3Source(client, { progressIntervalMs: 300, progressTimeoutMs: 1_000 });
      await using watcher = watchService(source, service, { coalesceMs: 0, backoff, logger: quiet });
      const { states } = record(watcher);
      await watcher.ready();
      const [host] = source.stats().watchHosts;
      killed = memberAt(host!);
      writer = new Etcd3({ hosts: cluster.endpoints.filter((e) => e !== host) });
      await writer.put(`${service}/a`).value(value("10.0.0.1:1"));
      await expect.poll(() => keys(watcher.snapshot().endpoints), poll).toEqual([`${service}/a`]);
      // A first listing that timed out on a loaded machine was retried: count only what the kill causes.
      const listsBefore = source.stats().lists;

      await killed.kill();
      await writer.put(`${service}/b`).value(value("10.0.0.2:1"));
      await writer.delete().key(`${service}/a`);
      await expect.poll(() => keys(watcher.snapshot().endpoints), poll).toEqual([`${service}/b`]);
      expect(source.stats().watchHosts).not.toContain(host);
      expect(source.stats().lists).toBe(listsBefore);
      expect(states[0]).toBe("stale");
      await expect.poll(() => states.at(-1), poll).toBe("fresh");
    } finally {
      writer?.close();
      client.close();
      await killed?.start();
    }
  }, 40_000);
});
