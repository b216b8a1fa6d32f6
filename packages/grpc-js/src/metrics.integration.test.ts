// The metrics of a resolver on a 3-member cluster, read through the OpenTelemetry SDK while the member
// holding the watch is stopped (SIGSTOP) and resumed.
import { type EtcdCluster, type EtcdServer, startEtcdCluster } from "@etcd-naming/etcd-fixture";
import { greeters } from "@etcd-naming/etcd-fixture/greeter";
import { type Collected, testMeterProvider } from "@etcd-naming/etcd-fixture/otel";
import { createEtcd3Source } from "@etcd-naming/watcher";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { registerEtcdResolver } from "./register.js";
import { registerEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 40_000, hookTimeout: 45_000 });

const poll = { timeout: 20_000, interval: 50 };
let cluster: EtcdCluster;

beforeAll(async () => {
  cluster = await startEtcdCluster({ size: 3 });
});

afterAll(async () => {
  for (const member of cluster?.members ?? []) if (member.paused) member.resume();
  await cluster?.close();
});

it("counts the fail-over when the member holding the watch stops, and the staleness returns to 0", async () => {
  const otel = testMeterProvider();
  const client = new Etcd3({ hosts: cluster.endpoints });
  const tracked = greeters();
  let paused: EtcdServer | undefined;
  let writer: Etcd3 | undefined;
  try {
    const service = "metrics/greeter";
    const source = createEtcd3Source(client, { progressIntervalMs: 300, progressTimeoutMs: 1_000 });
    const handle = registerEtcdResolver({
      source,
      scheme: "etcd-metrics",
      meterProvider: otel.meterProvider,
      logger: {},
    });
    try {
      const [a, b] = await Promise.all([tracked.server("a"), tracked.server("b")]);
      await registerEndpoint(client, service, a.addr, { id: "a" });
      const greeter = tracked.connect(`etcd-metrics:///${service}`);
      expect(await greeter.whoAmI()).toBe("a");

      const at = { service };
      let seen: Collected = await otel.collect();
      expect(seen.value("etcd_naming.service.endpoints", at)).toBe(1);
      expect(seen.value("etcd_naming.service.staleness", at)).toBe(0);
      // The channel is served from the listing; the watch that follows counts once etcd created it.
      await vi.waitFor(async () => {
        seen = await otel.collect();
        expect(seen.value("etcd_naming.watch.streams", at)).toBe(1);
      }, poll);
      expect(seen.value("etcd_naming.watch.failovers", at)).toBeUndefined();
      expect(seen.value("etcd_naming.resolver.updates", { ...at, kind: "endpoints" })).toBe(1);
      // The first set is a listing, not a change: no propagation is measured for it.
      expect(seen.value("etcd_naming.resolver.propagation.duration", at)).toBeUndefined();

      // A change reaches the channel: one more update, and its propagation is measured.
      await registerEndpoint(client, service, b.addr, { id: "b" });
      await vi.waitFor(async () => {
        seen = await otel.collect();
        expect(seen.value("etcd_naming.service.endpoints", at)).toBe(2);
        expect(seen.value("etcd_naming.resolver.propagation.duration", at)).toBe(1);
      }, poll);
      expect(seen.value("etcd_naming.resolver.updates", { ...at, kind: "endpoints" })).toBe(2);
      const propagation = seen.metrics.get("etcd_naming.resolver.propagation.duration")!;
      expect(propagation.unit).toBe("s");
      expect(propagation.type).toBe("histogram");
      // Seconds, not ms: a change on an idle test machine takes well under a second to reach the channel.
      expect(propagation.points[0]!.sum).toBeLessThan(1);

      const [host] = source.stats().watchHosts;
      paused = cluster.members.find((member) => member.endpoints.includes(host!))!;
      writer = new Etcd3({ hosts: cluster.endpoints.filter((endpoint) => endpoint !== host) });
      // While stale, the gauge says for how long: read 50 ms after the watcher went stale, before the
      // watch's retry (its first backoff is at least 100 ms) can make it fresh again.
      let whileStale: Promise<Collected> | undefined;
      handle.on("stale", () => {
        whileStale ??= new Promise((resolve, reject) => {
          setTimeout(() => otel.collect().then(resolve, reject), 50);
        });
      });
      paused.pause();

      await vi.waitFor(async () => {
        seen = await otel.collect();
        // One fail-over; on a starved machine it may take more than one attempt before a member answers.
        expect(
          seen.value("etcd_naming.watch.failovers", { ...at, reason: "member_silent" }),
        ).toBeGreaterThanOrEqual(1);
        expect(seen.value("etcd_naming.watch.streams", at)).toBe(1);
        expect(seen.value("etcd_naming.service.staleness", at)).toBe(0);
      }, poll);
      const failovers = seen.value("etcd_naming.watch.failovers", at);
      // Every restart here was a fail-over: a silent member, not etcd refusing the watch.
      expect(seen.value("etcd_naming.watch.restarts", at)).toBe(failovers);
      expect(source.stats().watchHosts).not.toContain(host);
      expect(whileStale).toBeDefined();
      const stale = await whileStale!;
      expect(stale.value("etcd_naming.service.staleness", at)).toBeGreaterThanOrEqual(0.04);
      expect(stale.value("etcd_naming.watch.streams", at)).toBe(0);
      expect(stale.metrics.get("etcd_naming.service.staleness")?.unit).toBe("s");
      // The set was kept throughout, and the channel still calls both.
      expect(seen.value("etcd_naming.service.endpoints", at)).toBe(2);
      expect((await greeter.spread(6)).size).toBe(2);

      paused.resume();
      paused = undefined;
      await writer.delete().key(`${service}/b`);
      await vi.waitFor(async () => {
        seen = await otel.collect();
        expect(seen.value("etcd_naming.service.endpoints", at)).toBe(1);
      }, poll);
      expect(seen.value("etcd_naming.service.staleness", at)).toBe(0);
      expect(seen.value("etcd_naming.watch.failovers", at)).toBe(failovers);
    } finally {
      await handle.close();
    }
  } finally {
    paused?.resume();
    writer?.close();
    await tracked.close();
    client.close();
    await otel.shutdown();
  }
});
