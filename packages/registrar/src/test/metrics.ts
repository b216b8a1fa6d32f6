import type { EtcdCluster, EtcdServer } from "@etcd-naming/etcd-fixture";
import { expect, vi } from "vitest";

/** The member a registration's keep-alive stream is open on, from the members' gRPC metrics (waits up to 10 s). */
export async function keepAliveHolder(cluster: EtcdCluster): Promise<EtcdServer> {
  let holder: EtcdServer | undefined;
  await vi.waitFor(
    async () => {
      const counts = await Promise.all(
        cluster.members.map(async (member) => (await member.metrics()).openStreams("LeaseKeepAlive")),
      );
      holder = cluster.members[counts.findIndex((n) => n > 0)];
      expect(holder).toBeDefined();
    },
    { timeout: 10_000, interval: 100 },
  );
  return holder!;
}
