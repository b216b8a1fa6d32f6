// 1. Go's endpoints.Manager writes (AddEndpoint, Update with several ops in one txn, DeleteEndpoint) →
//    our watcher and our grpc-js resolver see exactly the set Go's own Manager.List reports, metadata included.
import { type EtcdResolverHandle, registerEtcdResolver } from "@etcd-naming/grpc-js";
import { createEndpointManager } from "@etcd-naming/registrar";
import { createEtcd3Source, type ServiceWatcher, watchService } from "@etcd-naming/watcher";
import { afterAll, beforeAll, expect, it } from "vitest";
import { probeResolution, type ResolutionProbe } from "./resolution.js";
import { describeGoFlavours, runGoManager } from "./suite.js";

type Listed = Record<string, { addr: string; metadata: unknown }>;

const zoneOf = (metadata: unknown): unknown =>
  typeof metadata === "object" && metadata !== null && !Array.isArray(metadata)
    ? (metadata as Record<string, unknown>)["zone"]
    : undefined;

describeGoFlavours(
  "Go's endpoints.Manager → our watcher and resolver",
  { timeout: 30_000 },
  ({ etcd, go }) => {
    const service = `${etcd.namespace}/go-writes`;
    const key = (id: string) => `${service}/${id}`;
    let handle: EtcdResolverHandle;
    let watcher: ServiceWatcher;
    let all: ResolutionProbe;
    let zoneA: ResolutionProbe;

    const manager = (op: string, request?: unknown) => runGoManager({ etcd, go }, service, op, request);
    const goList = async () => ((await manager("list")) as { endpoints: Listed }).endpoints;
    const watcherView = (): Listed =>
      Object.fromEntries(
        watcher.snapshot().endpoints.map((e) => [e.key, { addr: e.addr, metadata: e.metadata }]),
      );

    /** Go's List is the reference: the watcher, the resolver and a metadata-filtered resolver must agree. */
    async function expectSameViewAsGo(expectedKeys: string[]): Promise<Listed> {
      const listed = await goList();
      expect(Object.keys(listed).sort()).toEqual(expectedKeys.map(key).sort());
      await expect.poll(watcherView, { timeout: 10_000, interval: 20 }).toEqual(listed);
      expect(watcher.snapshot().skipped).toEqual([]);

      const addrs = Object.values(listed)
        .map((e) => e.addr)
        .sort();
      await expect
        .poll(() => all.current(), { timeout: 10_000, interval: 20 })
        .toEqual(
          addrs.length > 0 ? { addrs } : { error: expect.stringContaining(`no endpoints for ${service}`) },
        );
      const zoneAddrs = Object.values(listed)
        .filter((e) => zoneOf(e.metadata) === "a")
        .map((e) => e.addr)
        .sort();
      await expect
        .poll(() => zoneA.current(), { timeout: 10_000, interval: 20 })
        .toEqual(
          zoneAddrs.length > 0
            ? { addrs: zoneAddrs }
            : { error: expect.stringContaining(`no endpoints for ${service}`) },
        );
      return listed;
    }

    beforeAll(() => {
      // Without mass-removal protection: the view must match Go's at every step, and Go has none.
      handle = registerEtcdResolver({ client: etcd.client(), protection: false });
      watcher = watchService(createEtcd3Source(etcd.client()), service);
      all = probeResolution(service);
      zoneA = probeResolution(`${service}?zone=a`);
    });

    afterAll(async () => {
      all?.destroy();
      zoneA?.destroy();
      await watcher?.close();
      await handle?.close();
    });

    it("AddEndpoint: object and string metadata", async () => {
      await manager("add", {
        key: key("a"),
        addr: "127.0.0.1:10001",
        metadata: { zone: "a", weight: 3, labels: { tier: "gold" } },
      });
      const listed = await expectSameViewAsGo(["a"]);
      expect(listed[key("a")]).toEqual({
        addr: "127.0.0.1:10001",
        metadata: { zone: "a", weight: 3, labels: { tier: "gold" } },
      });

      await manager("add", { key: key("b"), addr: "127.0.0.1:10002", metadata: "zone=b" });
      await expectSameViewAsGo(["a", "b"]);
    });

    it("Update: adds, a delete and a metadata change in one transaction", async () => {
      await manager("update", [
        { op: 0, key: key("c"), addr: "127.0.0.1:10003", metadata: { zone: "a", tier: "silver" } },
        { op: 0, key: key("d"), addr: "[::1]:10004" },
        { op: 1, key: key("a") },
        { op: 0, key: key("b"), addr: "127.0.0.1:10002", metadata: { zone: "b" } },
      ]);
      const listed = await expectSameViewAsGo(["b", "c", "d"]);
      expect(listed[key("d")]).toEqual({ addr: "[::1]:10004", metadata: null });
      // One transaction: every key it wrote carries the same revision.
      const revisions = new Set(watcher.snapshot().endpoints.map((e) => e.modRevision));
      expect(revisions.size).toBe(1);
    });

    it("DeleteEndpoint, down to an empty service", async () => {
      await manager("delete", { key: key("c") });
      await expectSameViewAsGo(["b", "d"]);

      await manager("update", [
        { op: 1, key: key("b") },
        { op: 1, key: key("d") },
      ]);
      await expectSameViewAsGo([]);
    });

    it("refuses keys outside the service with the same message as our manager", async () => {
      const outside = `${etcd.namespace}/elsewhere/x`;
      const message = `endpoints: endpoint key should be prefixed with '${service}/' got: '${outside}'`;
      await expect(manager("add", { key: outside, addr: "h:1" })).rejects.toThrow(message);
      const ours = createEndpointManager(etcd.client(), service);
      await expect(ours.addEndpoint(outside, { addr: "h:1" })).rejects.toThrow(message);
    });
  },
);
