import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { startEtcd } from "./etcd-server.js";
import { startGrpcProxy } from "./grpc-proxy.js";

const isGone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
};

describe("startGrpcProxy", () => {
  it("serves reads, writes and one coalesced watch through etcd's gRPC proxy, and comes back on the same port after a kill", {
    timeout: 60_000,
  }, async () => {
    await using etcd = await startEtcd();
    const proxy = await startGrpcProxy({ endpoints: etcd.endpoints });
    expect(proxy.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(proxy.version).toBe(etcd.version);
    const clients = [0, 1, 2].map(() => new Etcd3({ hosts: proxy.endpoints }));
    try {
      const [client] = clients as [Etcd3];
      await client.put("proxy/a").value("1");
      expect(await client.get("proxy/a").string()).toBe("1");

      const watchers = async () => (await etcd.metrics()).value("etcd_debugging_mvcc_watcher_total");
      // The proxy holds watches of its own (its leader check) before any client watches.
      const before = await watchers();
      const streamsBefore = (await etcd.metrics()).openStreams("Watch");
      // Three clients watch one prefix through the proxy; the member holds one watch for them.
      const seen: string[][] = [[], [], []];
      const watches = await Promise.all(
        clients.map(async (c, i) => {
          const w = await c.watch().prefix("proxy/").create();
          w.on("put", (kv) => seen[i]!.push(kv.value.toString()));
          return w;
        }),
      );
      await client.put("proxy/a").value("2");
      await expect.poll(() => seen.map((s) => s.join()), { timeout: 10_000 }).toEqual(["2", "2", "2"]);
      await expect.poll(watchers, { timeout: 10_000 }).toBe(before + 1);
      // Nor does the member see a stream per client: the proxy's one stream carries them all.
      expect((await etcd.metrics()).openStreams("Watch")).toBeLessThanOrEqual(streamsBefore + 1);
      await Promise.all(watches.map((w) => w.cancel()));

      const pid = proxy.pid!;
      await proxy.kill();
      expect(proxy.running).toBe(false);
      expect(isGone(pid)).toBe(true);
      const direct = new Etcd3({ hosts: proxy.endpoints, dialTimeout: 500 });
      try {
        await expect(
          direct
            .get("proxy/a")
            .options({ deadline: new Date(Date.now() + 1_000) })
            .string(),
        ).rejects.toThrow();
      } finally {
        direct.close();
      }

      await proxy.start();
      expect(proxy.pid).not.toBe(pid);
      const after = new Etcd3({ hosts: proxy.endpoints });
      try {
        expect(await after.get("proxy/a").string()).toBe("2");
      } finally {
        after.close();
      }
    } finally {
      for (const c of clients) c.close();
      const pid = proxy.pid;
      await proxy.close();
      if (pid !== undefined) expect(isGone(pid)).toBe(true);
      await expect(proxy.start()).rejects.toMatchObject({ code: "CLOSED" });
    }
  });
});
