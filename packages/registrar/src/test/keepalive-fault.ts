import { type EtcdServer, startEtcdCluster } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { expect, vi } from "vitest";
import { register } from "../registration.js";
import { etcdctl } from "./etcdctl.js";
import { keepAliveHolder } from "./metrics.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = { warn: () => undefined };

/** What happens to the member that holds the keep-alive stream, and how it is undone. */
export interface MemberFault {
  apply(member: EtcdServer): Promise<void> | void;
  undo(member: EtcdServer): Promise<void> | void;
}

/**
 * Registers (TTL 3 s) on a fresh 3-member cluster, keeps the member that holds the keep-alive stream a
 * follower, applies `fault` to it for two TTLs, and expects the registration to keep its lease all along:
 * each renewal must have gone to a member that still answers.
 */
export async function expectKeepAliveOutlives(fault: MemberFault): Promise<void> {
  await using cluster = await startEtcdCluster({ size: 3 });
  const client = new Etcd3({ hosts: cluster.endpoints });
  try {
    const ttl = 3;
    const reg = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger: quiet });
    const leaseId = reg.leaseId;
    const lost: string[] = [];
    reg.on("lost", (e) => lost.push(e.message));

    const holder = await keepAliveHolder(cluster);
    const others = cluster.members.filter((m) => m !== holder);
    // A faulty leader would add an election (and etcd's lease extension) to the picture: keep the
    // member a follower, so only what happens to its stream is tested.
    if ((await cluster.leader()) === holder) {
      const target = await others[0]!.status();
      await etcdctl(holder.endpoints, ["move-leader", BigInt(target.memberId).toString(16)]);
      await vi.waitFor(async () => expect(await cluster.leader()).not.toBe(holder), { timeout: 10_000 });
      // Let a keep-alive report the new term while every member answers: a term change seen while a
      // member is silent makes the registrar move to a fresh lease (the stale-leader guard), which is
      // tested in leader-pause.integration.test.ts.
      await sleep((ttl * 1000) / 3 + 500);
    }

    await fault.apply(holder);
    try {
      // Two TTLs with the fault in place: each renewal must have gone to another member.
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
      await fault.undo(holder);
    }
    await reg.deregister();
  } finally {
    client.close();
  }
}
