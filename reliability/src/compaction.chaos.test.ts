// Issue 10, suite 4: a watcher is cut off from the whole cluster (its connections go through proxies
// that are cut), keys are deleted, changed and added, and the history is compacted past its resume
// point. Once reconnected it must re-list and deliver the deletes it missed, in one update.
import { encodeEndpoint } from "@etcd-naming/codec";
import { type EtcdCluster, startEtcdCluster, startTcpProxy, type TcpProxy } from "@etcd-naming/etcd-fixture";
import { createEtcd3Source, type Etcd3Source, watchService } from "@etcd-naming/watcher";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { chaosSeconds } from "./chaos-env.js";
import { summarize, until, Writer } from "./cluster-tools.js";
import { diffSets, etcdEndpoints, History } from "./history.js";
import { writeResults } from "./results.js";
import { WatchRecorder } from "./watch-recorder.js";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const root = "chaos/compaction";
const service = `${root}/greeter`;
const quiet = { warn: () => {}, error: () => {} };
const value = (n: number, version = 1) => encodeEndpoint({ addr: `10.5.0.${n}:${version}` });

let cluster: EtcdCluster;
let history: History;
let writer: Writer;
const clients: Etcd3[] = [];
const proxies: TcpProxy[] = [];
const recorders: WatchRecorder[] = [];

beforeAll(async () => {
  cluster = await startEtcdCluster({ size: 3, name: "chaos-compaction" });
  history = await History.start(cluster, root);
  writer = new Writer(cluster);
});

afterAll(async () => {
  await Promise.all(recorders.map((r) => r.watcher.close()));
  for (const c of clients) c.close();
  await Promise.all(proxies.map((p) => p.close()));
  writer?.close();
  history?.close();
  await cluster?.close();
});

it("delivers the deletes made while a watcher was disconnected, after a compaction", async () => {
  for (let n = 0; n < 8; n++) await writer.put(`${service}/k${n}`, value(n));
  proxies.push(...(await Promise.all(cluster.endpoints.map((endpoint) => startTcpProxy(endpoint)))));
  const cutClient = new Etcd3({ hosts: proxies.map((p) => p.endpoint), dialTimeout: 1_000 });
  const directClient = new Etcd3({ hosts: cluster.endpoints });
  clients.push(cutClient, directClient);
  const source: Etcd3Source = createEtcd3Source(cutClient, {
    progressIntervalMs: 1_000,
    progressTimeoutMs: 2_000,
  });
  const cut = new WatchRecorder("cut-off", watchService(source, service, { coalesceMs: 0, logger: quiet }));
  const direct = new WatchRecorder(
    "connected",
    watchService(createEtcd3Source(directClient), service, { coalesceMs: 0, logger: quiet }),
  );
  recorders.push(cut, direct);
  await Promise.all(recorders.map((r) => r.watcher.ready()));

  const rounds = Math.max(2, Math.round(chaosSeconds(6) / 3));
  const reconnectToConverged: number[] = [];
  let next = 8;
  for (let round = 0; round < rounds; round++) {
    await Promise.all(proxies.map((p) => p.cut()));
    await until(() => cut.watcher.snapshot().stale);
    const present = [...cut.current().keys()];
    const deleted = present.slice(0, 2);
    for (const key of deleted) await writer.delete(key);
    await writer.put(present[2]!, value(99, round + 2));
    await writer.put(`${service}/k${next}`, value(next++));
    await writer.put(`${service}/k${next}`, value(next++));
    const compactedAt = await history.sync();
    await writer.compact(compactedAt);

    const errorsBefore = cut.errors.length;
    const restoredAt = Date.now();
    await Promise.all(proxies.map((p) => p.restore()));
    await until(
      async () => diffSets(cut.current(), await etcdEndpoints(directClient, service)) === undefined,
      {
        describe: async () => `${diffSets(cut.current(), await etcdEndpoints(directClient, service))}`,
      },
    );
    reconnectToConverged.push(Date.now() - restoredAt);
    // The missed deletes arrive as removals, together with the other missed changes.
    for (const key of deleted) expect(cut.firstRemoved(key, restoredAt), key).toBeDefined();
    expect(cut.errors.slice(errorsBefore).map((e) => e.code)).toContain("COMPACTED");
  }

  await history.sync();
  const mismatches = recorders.flatMap((r) => r.checkHistory(history));
  expect(mismatches).toEqual([]);
  expect(source.stats().lists).toBe(1 + rounds);
  writeResults("compaction", {
    rounds,
    reconnectToConvergedMs: summarize(reconnectToConverged),
    lists: source.stats().lists,
    updatesChecked: recorders.reduce((n, r) => n + r.updates.length, 0),
    watcherMismatches: mismatches.length,
    deletesMissed: 0,
  });
});
