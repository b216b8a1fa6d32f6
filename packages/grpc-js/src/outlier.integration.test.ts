// Outlier detection: a server that fails half its calls is ejected while etcd still lists it, and comes
// back after the ejection time. grpc-js's own outlier_detection policy does the ejecting; the resolver
// selects it in the service config it sends.
import { greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { registerEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 60_000 });

const etcd = useTestEtcd();
const client = etcd.client();
const tracked = greeters();
const EJECTION_MS = 2_000;
let handle: EtcdResolverHandle;
const poll = { timeout: 20_000, interval: 10 };

beforeAll(() => {
  handle = registerEtcdResolver({
    client,
    outlierDetection: { intervalMs: 250, baseEjectionMs: EJECTION_MS, requestVolume: 5 },
  });
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
});

describe("outlier detection", () => {
  it("ejects a server failing half its calls while etcd lists it, and takes it back after the ejection time", async () => {
    const svc = `${etcd.namespace}/outlier`;
    const good = await Promise.all([tracked.server("good-1"), tracked.server("good-2")]);
    const bad = await tracked.server("bad", { fail: (call) => call % 2 === 0 });
    for (const s of [...good, bad]) await registerEndpoint(client, svc, s.addr, { id: s.id });
    const channel = tracked.connect(`etcd:///${svc}`, { deadlineMs: 1_000 });
    const unguarded = tracked.connect(`etcd:///${svc}?outlier=off`, { deadlineMs: 1_000 });
    await expect.poll(async () => (await channel.spread(6)).size, poll).toBeGreaterThanOrEqual(3);

    // Ejected: a batch of calls in which the bad server answers none, with its key still in etcd.
    const quietBatch = async () => {
      const before = bad.calls;
      const spread = await channel.spread(30);
      return { untouched: bad.calls === before, spread };
    };
    await expect.poll(async () => (await quietBatch()).untouched, poll).toBe(true);
    const ejectedAt = Date.now();
    const { spread } = await quietBatch();
    expect(spread.get("error")).toBeUndefined();
    expect(new Set(spread.keys())).toEqual(new Set(["good-1", "good-2"]));
    expect((await client.get(`${svc}/bad`).string()) ?? "").toContain(bad.addr);

    // The same endpoints without outlier detection: the bad server still gets its share.
    const before = bad.calls;
    await unguarded.spread(30);
    expect(bad.calls).toBeGreaterThan(before);

    // Back after the ejection time: calls reach it again.
    await expect
      .poll(async () => {
        const calls = bad.calls;
        await channel.spread(10);
        return bad.calls > calls;
      }, poll)
      .toBe(true);
    expect(Date.now() - ejectedAt).toBeGreaterThanOrEqual(EJECTION_MS - 500);
    await client.delete().prefix(`${svc}/`).exec();
  });
});
