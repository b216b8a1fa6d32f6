// Behaviour 4 on an etcd of its own (the shared one must never be stopped): while etcd is down the
// channels keep their last endpoints; once it is back, changes made from then on are applied.
import { type EtcdServer, startEtcd } from "@etcd-naming/etcd-fixture";
import { greeters } from "@etcd-naming/etcd-fixture/greeter";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { registerEndpoint, unregisterEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 40_000, hookTimeout: 20_000 });

const svc = "outage/greeter";
let etcd: EtcdServer;
let client: Etcd3;
let handle: EtcdResolverHandle;
const tracked = greeters();
const { server, connect } = tracked;
const warnings: string[] = [];
const poll = { timeout: 20_000, interval: 100 };

beforeAll(async () => {
  etcd = await startEtcd({ name: "grpc-js-outage" });
  client = new Etcd3({ hosts: etcd.endpoints, dialTimeout: 1_000 });
  handle = registerEtcdResolver({
    client,
    logger: {
      warn: (_fields, message) => warnings.push(message),
      error: (_fields, message) => warnings.push(message),
    },
  });
});

afterAll(async () => {
  await tracked.close();
  await handle?.close();
  client?.close();
  await etcd?.close();
});

it("keeps routing to the last known endpoints while etcd is down, and applies changes once it is back", async () => {
  const [a, b, c] = await Promise.all([server("a"), server("b"), server("c")]);
  await registerEndpoint(client, svc, a.addr, { id: "a" });
  await registerEndpoint(client, svc, b.addr, { id: "b" });
  const greeter = connect(`etcd:///${svc}`);
  await expect.poll(async () => (await greeter.spread(4)).size, poll).toBe(2);

  await etcd.stop();
  // The watcher notices (its stream breaks) and retries; the channel must not lose its endpoints.
  await expect.poll(() => warnings.length, poll).toBeGreaterThan(0);
  for (let round = 0; round < 5; round++) {
    const counts = await greeter.spread(10);
    expect(counts.get("error")).toBeUndefined();
    expect([...counts.keys()].sort()).toEqual(["a", "b"]);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // A channel opened during the outage is served from the shared watch's last known set.
  const late = connect(`etcd:///${svc}`);
  expect(["a", "b"]).toContain(await late.whoAmI());

  await etcd.start();
  await unregisterEndpoint(client, svc, "a");
  await registerEndpoint(client, svc, c.addr, { id: "c" });
  for (const g of [greeter, late]) {
    await expect.poll(async () => [...(await g.spread(6)).keys()].sort(), poll).toEqual(["b", "c"]);
  }
});

it("fails calls fast with the cause when etcd is down and the service was never resolved", async () => {
  await etcd.stop();
  try {
    const greeter = connect("etcd:///outage/never-seen");
    const error = await greeter.whoAmI({ deadlineMs: 15_000 }).catch((e: grpc.ServiceError) => e);
    expect(error).toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: expect.stringContaining("etcd unavailable"),
    });
  } finally {
    await etcd.start();
  }
});
