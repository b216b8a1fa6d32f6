// Static weights: endpoints whose attributes carry `weight` get calls in proportion to it, through the
// package's weighted policy in real grpc-js channels, and a new weight re-splits the calls over the same
// connections.
import { formatAttributes } from "@etcd-naming/codec";
import { type GreeterClient, type GreeterServer, greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { registerEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 60_000 });

const etcd = useTestEtcd();
const client = etcd.client();
const tracked = greeters();
const poll = { timeout: 20_000, interval: 20 };
const warnings: string[] = [];
let handle: EtcdResolverHandle;

beforeAll(() => {
  handle = registerEtcdResolver({
    client,
    outlierDetection: false,
    logger: {
      warn: (_fields, message) => {
        warnings.push(message);
      },
    },
  });
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
});

/** `count` calls, `parallel` at a time; the share (%) of the calls each server answered. */
async function shares(greeter: GreeterClient, count: number, parallel = 20): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let done = 0; done < count; done += parallel) {
    const batch = Math.min(parallel, count - done);
    const ids = await Promise.all(Array.from({ length: batch }, () => greeter.whoAmI().catch(() => "error")));
    for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).map(([id, n]) => [id, (n / count) * 100]));
}

/** Each share within ±3 points of what the weights say. */
function expectSplit(measured: Record<string, number>, expected: Record<string, number>): void {
  expect(Object.keys(measured).sort()).toEqual(Object.keys(expected).sort());
  for (const [id, share] of Object.entries(expected)) {
    expect(Math.abs(measured[id]! - share), `${id}: ${measured[id]} % for ${share} %`).toBeLessThanOrEqual(3);
  }
}

const weighted = (weight: number, more: Record<string, string> = {}) =>
  formatAttributes({ ...more, weight: String(weight) });

function peersOf(servers: readonly GreeterServer[]): Record<string, string[]> {
  return Object.fromEntries(servers.map((s) => [s.id, [...s.peers].sort()]));
}

describe("static weights", () => {
  it("split 4,000 calls 25/25/50 for weights 1/1/2, and re-split on a new weight over the same connections", async () => {
    const svc = `${etcd.namespace}/weights`;
    const servers = await Promise.all(["w1", "w2", "w3"].map((id) => tracked.server(id)));
    const [w1, w2, w3] = servers as [GreeterServer, GreeterServer, GreeterServer];
    await registerEndpoint(client, svc, w1.addr, { id: "w1", metadata: weighted(1) });
    await registerEndpoint(client, svc, w2.addr, { id: "w2", metadata: weighted(1) });
    await registerEndpoint(client, svc, w3.addr, { id: "w3", metadata: weighted(2) });

    const greeter = tracked.connect(`etcd:///${svc}`);
    // Every connection up (the first calls go to whichever is ready first).
    await expect.poll(async () => Object.keys(await shares(greeter, 20)).length, poll).toBe(3);
    expectSplit(await shares(greeter, 4_000), { w1: 25, w2: 25, w3: 50 });
    const connections = peersOf(servers);
    for (const id of ["w1", "w2", "w3"]) expect(connections[id]).toHaveLength(1);

    // w1 becomes the heavy one: the channel gets a new config for the same policy, and keeps its
    // connections (a reconnect would show up as a new peer, a new client port, on the server).
    await registerEndpoint(client, svc, w1.addr, { id: "w1", metadata: weighted(3) });
    await registerEndpoint(client, svc, w3.addr, { id: "w3", metadata: weighted(1) });
    await expect.poll(async () => (await shares(greeter, 50))["w1"] ?? 0, poll).toBeGreaterThan(55);
    expectSplit(await shares(greeter, 4_000), { w1: 60, w2: 20, w3: 20 });
    expect(peersOf(servers)).toEqual(connections);
    expect(warnings).toEqual([]);
  });

  it("count a missing or invalid weight as 1, warning once about the invalid one by its key", async () => {
    const svc = `${etcd.namespace}/invalid`;
    const servers = await Promise.all(["heavy", "plain", "bad"].map((id) => tracked.server(id)));
    const [heavy, plain, bad] = servers as [GreeterServer, GreeterServer, GreeterServer];
    await registerEndpoint(client, svc, heavy.addr, { id: "heavy", metadata: weighted(2) });
    await registerEndpoint(client, svc, plain.addr, { id: "plain", metadata: "zone=a" });
    await registerEndpoint(client, svc, bad.addr, { id: "bad", metadata: "weight=0" });

    const greeter = tracked.connect(`etcd:///${svc}`);
    await expect.poll(async () => Object.keys(await shares(greeter, 20)).length, poll).toBe(3);
    expectSplit(await shares(greeter, 2_000), { heavy: 50, plain: 25, bad: 25 });
    // A second channel reads the same value: still one warning.
    const again = tracked.connect(`etcd:///${svc}`);
    await expect.poll(async () => Object.keys(await shares(again, 20)).length, poll).toBe(3);
    expect(warnings).toEqual([
      `${svc}/bad: weight "0" is not a whole number from 1 to 1000000; it counts as 1`,
    ]);
    warnings.length = 0;
  });

  it("keep an explicit policy: ?lb=round_robin splits evenly whatever the weights", async () => {
    const svc = `${etcd.namespace}/explicit`;
    const servers = await Promise.all(["e1", "e2"].map((id) => tracked.server(id)));
    await registerEndpoint(client, svc, servers[0]!.addr, { id: "e1", metadata: weighted(3) });
    await registerEndpoint(client, svc, servers[1]!.addr, { id: "e2", metadata: weighted(1) });

    const even = tracked.connect(`etcd:///${svc}?lb=round_robin`);
    await expect.poll(async () => Object.keys(await shares(even, 10)).length, poll).toBe(2);
    expectSplit(await shares(even, 400, 1), { e1: 50, e2: 50 });
    const byWeight = tracked.connect(`etcd:///${svc}`);
    await expect.poll(async () => Object.keys(await shares(byWeight, 10)).length, poll).toBe(2);
    expectSplit(await shares(byWeight, 400, 1), { e1: 75, e2: 25 });
  });
});
