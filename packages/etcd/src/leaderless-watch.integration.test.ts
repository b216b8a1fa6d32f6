// A member cut off from its peers (a real partition: its peer link is down) stays alive and keeps
// answering its clients, progress requests included, so only etcd's `hasleader` check tells a watch on
// it that it will see no more changes: etcd cancels such a watch once the member has had no leader for
// a few election timeouts, and the watch resumes on another member.
import { partitionSupportMissing, startPartitionableCluster } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "./clock.js";
import { MemberRouter } from "./member-router.js";
import { openPrefixWatch, type PrefixWatchContext } from "./prefix-watch.js";

const missing = await partitionSupportMissing();
if (missing !== undefined) console.warn(`leaderless watch tests skipped: ${missing}`);

const poll = { timeout: 20_000, interval: 20 };

describe.skipIf(missing !== undefined)("a watch on a member cut off from its peers", () => {
  let cluster: Awaited<ReturnType<typeof startPartitionableCluster>>;
  const clients: Etcd3[] = [];

  beforeAll(async () => {
    cluster = await startPartitionableCluster({ size: 3 });
  }, 60_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await cluster?.close();
  }, 30_000);

  const contextOn = (hosts: string[], requireLeader: boolean): PrefixWatchContext => {
    const client = new Etcd3({ hosts });
    clients.push(client);
    return {
      router: new MemberRouter(client),
      namespace: Buffer.alloc(0),
      clock: systemClock,
      requireLeader,
      progressIntervalMs: 300,
      progressTimeoutMs: 2_000,
      open: new Set(),
      counters: { watchesOpened: 0, progressReports: 0 },
    };
  };

  it("is ended by etcd with `hasleader`, and only with it: the member still answers progress requests", async () => {
    const leader = await cluster.leader();
    const target = cluster.members.find((m) => m !== leader)!;
    const watches = [true, false].map((requireLeader) => {
      const context = contextOn(target.endpoints, requireLeader);
      const state = { connected: false, errors: [] as string[], context };
      openPrefixWatch(context, Buffer.from("svc/"), "1", {
        onConnected: () => {
          state.connected = true;
        },
        onEvents: () => {},
        onCompacted: () => {},
        onError: (error) => state.errors.push(error.message),
      });
      return state;
    });
    const [withLeader, without] = watches as [(typeof watches)[0], (typeof watches)[0]];
    await expect.poll(() => withLeader.connected && without.connected, poll).toBe(true);

    await cluster.isolate(target);
    try {
      const isolatedAt = Date.now();
      await expect.poll(() => withLeader.errors, poll).toEqual([expect.stringMatching(/no leader/)]);
      const endedAfterMs = Date.now() - isolatedAt;
      // The watch without `hasleader` is still open and still hears from its member.
      const reports = without.context.counters.progressReports;
      await expect.poll(() => without.context.counters.progressReports, poll).toBeGreaterThan(reports + 1);
      expect(without.errors).toEqual([]);
      expect(endedAfterMs).toBeGreaterThan(0);
    } finally {
      await cluster.heal(target);
    }
  }, 60_000);
});
