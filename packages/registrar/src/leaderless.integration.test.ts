import { partitionSupportMissing, startPartitionableCluster } from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { registrarClientOptions } from "./client-options.js";
import { register } from "./registration.js";

const missing = await partitionSupportMissing();
if (missing !== undefined) console.warn(`leaderless registrar tests skipped: ${missing}`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = { warn: () => undefined };

describe.skipIf(missing !== undefined)("keep-alive while no member has a leader", () => {
  // Every member cut off from the others: all alive and answering, none with a leader, so no
  // keep-alive succeeds, and no leader expires a lease either; the next leader renews every lease.
  it("declares no lease lost while the members say they have no leader, longer than the TTL", async () => {
    await using cluster = await startPartitionableCluster({ size: 3 });
    const client = new Etcd3({ hosts: cluster.endpoints, ...registrarClientOptions() });
    const reader = new Etcd3({ hosts: cluster.endpoints });
    try {
      const ttl = 3;
      const reg = await register({ client, service: "svc", addr: "10.0.0.1:80", ttl, logger: quiet });
      const lost: string[] = [];
      reg.on("lost", (e) => lost.push(e.message));
      const created = (await reader.get(reg.key).exec()).kvs[0]!.create_revision;
      // The first keep-alive has gone out: the stream is open on some member.
      await sleep((ttl * 1000) / 3 + 300);

      for (const member of cluster.members) await cluster.isolate(member);
      try {
        await vi.waitFor(
          async () => {
            for (const member of cluster.members) expect((await member.status(1_000)).leaderId).toBe("0");
          },
          { timeout: 15_000, interval: 100 },
        );
        // Two TTLs without a successful keep-alive.
        await sleep(2 * ttl * 1000);
        expect(lost).toEqual([]);
      } finally {
        for (const member of cluster.members) await cluster.heal(member);
      }
      await cluster.leader();
      // The key was never deleted (same creation), and is kept alive again.
      await vi.waitFor(
        async () => {
          const kv = (await reader.get(reg.key).exec()).kvs[0];
          expect(kv?.create_revision).toBe(created);
          const left = await reader.leaseClient.leaseTimeToLive({ ID: kv!.lease });
          expect(Number(left.TTL)).toBeGreaterThan(0);
        },
        { timeout: 20_000, interval: 200 },
      );
      await sleep(ttl * 1000);
      expect(lost).toEqual([]);
      await reg.deregister();
    } finally {
      client.close();
      reader.close();
    }
  }, 90_000);
});
