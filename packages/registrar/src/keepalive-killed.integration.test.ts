import { startEtcdCluster } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";
import { etcdctl } from "./test/etcdctl.js";
import { keepAliveHolder } from "./test/metrics.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = { warn: () => undefined };

describe("keep-alive on a 3-member cluster", () => {
  it("moves a keep-alive stream off a member that was killed, before the lease expires", async () => {
    await using cluster = await startEtcdCluster({ size: 3 });
    const client = new Etcd3({ hosts: cluster.endpoints });
    try {
      const ttl = 3;
      const reg = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger: quiet });
      const leaseId = reg.leaseId;
      const lost: string[] = [];
      reg.on("lost", (e) => lost.push(e.message));

      const killed = await keepAliveHolder(cluster);
      const others = cluster.members.filter((m) => m !== killed);
      // Keep the killed member a follower: an election would extend the lease and hide the question,
      // which is whether the renewals leave a member whose stream failed (a stream error, not silence).
      if ((await cluster.leader()) === killed) {
        const target = await others[0]!.status();
        await etcdctl(killed.endpoints, ["move-leader", BigInt(target.memberId).toString(16)]);
        await vi.waitFor(async () => expect(await cluster.leader()).not.toBe(killed), { timeout: 10_000 });
        await sleep((ttl * 1000) / 3 + 500);
      }

      await killed.kill();
      try {
        // Two TTLs with the member down: each renewal must have gone to a member that is up.
        await sleep(2 * ttl * 1000 + 1000);
        expect(lost).toEqual([]);
        expect(reg.leaseId).toBe(leaseId);
        const healthy = new Etcd3({ hosts: others.flatMap((m) => m.endpoints) });
        try {
          const res = await healthy.get("svc/10.0.0.1:80").exec();
          expect(res.kvs.map((kv) => kv.lease)).toEqual([leaseId]);
        } finally {
          healthy.close();
        }
      } finally {
        await killed.start();
      }
      await reg.deregister();
    } finally {
      client.close();
    }
  }, 60_000);
});
