// An idle service on a quiet 3-member cluster, with the default liveness settings: etcd 3.4.38+,
// 3.5.22+ and 3.6.2+ answer no progress request for a watch whose start revision is ahead of the store
// (etcd-io/etcd#20229), so a watch opened at "the listed revision + 1" on a store nobody writes to was
// taken for a silent member and failed over every progressIntervalMs + progressTimeoutMs.
//
// The window is 60 s by default. With the default settings a false alarm shows within 5 s of idling, so
// IDLE_WATCH_SECONDS=10 catches the same fault in a quick local run; the full minute is what the
// watcher promises and what CI runs.
import { startEtcdCluster } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { expect, it } from "vitest";
import { createEtcd3Source } from "./etcd3-source.js";
import { watchService } from "./service-watcher.js";
import { record } from "./test-support.js";

function idleSeconds(): number {
  const raw = process.env["IDLE_WATCH_SECONDS"];
  if (raw === undefined || raw === "") return 60;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new Error(`IDLE_WATCH_SECONDS must be a positive number, got ${JSON.stringify(raw)}`);
  }
  return seconds;
}

const IDLE_MS = idleSeconds() * 1000;
const services = ["idle-a", "idle-b", "team/idle-c"];

it(`an idle watcher on a quiet cluster keeps one watch stream per service for ${IDLE_MS / 1000} s`, {
  timeout: IDLE_MS + 60_000,
}, async () => {
  await using cluster = await startEtcdCluster({ size: 3 });
  const client = new Etcd3({ hosts: cluster.endpoints });
  try {
    const source = createEtcd3Source(client);
    const warnings: string[] = [];
    const watchers = services.map((service) =>
      watchService(source, service, { logger: { warn: (_fields, message) => warnings.push(message) } }),
    );
    const logs = watchers.map(record);
    try {
      await Promise.all(watchers.map((w) => w.ready()));
      const serverWatches = async () => {
        let total = 0;
        for (const member of cluster.members) {
          total += (await member.metrics()).value("etcd_debugging_mvcc_watcher_total");
        }
        return total;
      };
      await expect.poll(serverWatches, { timeout: 10_000, interval: 100 }).toBe(services.length);

      // Fail as soon as anything goes wrong rather than at the end of the window.
      const started = Date.now();
      while (Date.now() - started < IDLE_MS) {
        expect(logs.flatMap((l) => l.states)).toEqual([]);
        expect(source.stats().watchesOpened).toBe(services.length);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }

      const stats = source.stats();
      expect(stats).toMatchObject({ watchesOpened: services.length, openWatches: services.length, lists: 3 });
      // The liveness check ran all along and etcd answered it: one report per member holding watches and
      // idle interval (the watches on one member share the check).
      const members = new Set(stats.watchHosts).size;
      expect(stats.progressReports).toBeGreaterThanOrEqual(members * Math.floor(IDLE_MS / 4_000));
      expect(await serverWatches()).toBe(services.length);
      expect(watchers.map((w) => w.snapshot().stale)).toEqual(services.map(() => false));
      expect(logs.flatMap((l) => [...l.errors, ...l.states])).toEqual([]);
      expect(warnings).toEqual([]);
    } finally {
      await Promise.all(watchers.map((w) => w.close()));
    }
  } finally {
    client.close();
  }
});
