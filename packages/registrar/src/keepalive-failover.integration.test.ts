import { startEtcdCluster } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { register } from "./registration.js";
import { etcdctl } from "./test/etcdctl.js";
import { keepAliveHolder } from "./test/metrics.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = { warn: () => undefined };

describe("keep-alive on a 3-member cluster", () => {
  it("moves a keep-alive stream off a member that stopped answering, before the lease expires", async () => {
    await using cluster = await startEtcdCluster({ size: 3 });
    const client = new Etcd3({ hosts: cluster.endpoints });
    try {
      const ttl = 3;
      const reg = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger: quiet });
      const leaseId = reg.leaseId;
      const lost: string[] = [];
      reg.on("lost", (e) => lost.push(e.message));

      const silent = await keepAliveHolder(cluster);
      const others = cluster.members.filter((m) => m !== silent);
      // A stopped leader would add an election (and etcd's lease extension) to the picture: keep the
      // stopped member a follower, so only the stream's silence is tested.
      if ((await cluster.leader()) === silent) {
        const target = await others[0]!.status();
        await etcdctl(silent.endpoints, ["move-leader", BigInt(target.memberId).toString(16)]);
        await vi.waitFor(async () => expect(await cluster.leader()).not.toBe(silent), { timeout: 10_000 });
        // Let a keep-alive report the new term while every member answers: a term change seen while a
        // member is silent makes the registrar move to a fresh lease (the stale-leader guard), which is
        // tested in leader-pause.integration.test.ts.
        await sleep((ttl * 1000) / 3 + 500);
      }

      silent.pause();
      try {
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
        silent.resume();
      }
      await reg.deregister();
    } finally {
      client.close();
    }
  }, 60_000);
});
