import type { LogFields } from "@etcd-naming/etcd";
import { startEtcdCluster } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";
import { etcdctl } from "./test/etcdctl.js";
import { keepAliveHolder } from "./test/metrics.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("keep-alive through a leader pause", () => {
  it("keeps the key when the leader holding the keep-alive stream stops, on a lease it never saw", async () => {
    await using cluster = await startEtcdCluster({ size: 3 });
    const client = new Etcd3({ hosts: cluster.endpoints });
    const warnings: string[] = [];
    const t0 = Date.now();
    const logger = { warn: (_fields: LogFields, m: string) => warnings.push(`${Date.now() - t0}ms ${m}`) };
    try {
      const ttl = 3;
      const key = "svc/10.0.0.1:80";
      const reg = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger });
      const leaseId = reg.leaseId;
      const events: string[] = [];
      reg.on("lost", (e) => events.push(`${Date.now() - t0}ms lost: ${e.message}`));
      reg.on("reregistered", (id) => events.push(`${Date.now() - t0}ms reregistered ${id}`));

      const stopped = await keepAliveHolder(cluster);
      const others = cluster.members.filter((m) => m !== stopped);
      // The stopped member must lead: followers then forward renewals to a leader that never
      // answers, an election follows, and the stopped member comes back believing it still leads.
      const leader = await cluster.leader();
      if (leader !== stopped) {
        const target = await stopped.status();
        await etcdctl(leader.endpoints, ["move-leader", BigInt(target.memberId).toString(16)]);
        await vi.waitFor(async () => expect(await cluster.leader()).toBe(stopped), { timeout: 10_000 });
      }

      const healthy = new Etcd3({ hosts: others.flatMap((m) => m.endpoints) });
      const deletes: string[] = [];
      const watcher = await healthy.watch().key(key).only("delete").create();
      watcher.on("delete", (kv) => deletes.push(`${Date.now() - t0}ms ${kv.key.toString()}`));
      try {
        events.push(`${Date.now() - t0}ms pause ${stopped.name}`);
        stopped.pause();
        try {
          await sleep(2 * ttl * 1000 + 1000);
        } finally {
          stopped.resume();
          events.push(`${Date.now() - t0}ms resume`);
        }
        // The resumed member may act on its stale view of the leases before it learns it no longer
        // leads: give it time to.
        await sleep(ttl * 1000);
        const res = await healthy.get(key).exec();
        const detail = [...events, ...warnings, ...deletes.map((d) => `delete ${d}`)].join("\n");
        expect(deletes, detail).toEqual([]);
        expect(
          events.filter((e) => e.includes("lost")),
          detail,
        ).toEqual([]);
        expect(
          res.kvs.map((kv) => kv.lease),
          detail,
        ).toEqual([reg.leaseId]);
        // The stopped member revoked or will revoke the first lease: only a lease it never saw is safe.
        expect(reg.leaseId, detail).not.toBe(leaseId);
      } finally {
        await watcher.cancel();
        healthy.close();
      }
      await reg.deregister();
    } finally {
      client.close();
    }
  }, 60_000);
});
