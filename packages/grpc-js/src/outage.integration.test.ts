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

it("tells the handle's listeners of each watched service's updates, staleness and return, once however many channels", async () => {
  const service = "outage/events";
  const updates: string[][] = [];
  const states: string[] = [];
  const offs = [
    handle.on("update", (e) => {
      if (e.service === service) updates.push(e.endpoints.map((x) => x.key));
    }),
    handle.on("stale", (e) => {
      if (e.service === service) states.push(`stale ${e.error.code}`);
    }),
    handle.on("fresh", (e) => {
      if (e.service === service) states.push("fresh");
    }),
    // A listener that throws is logged and stops nothing.
    handle.on("update", () => {
      throw new Error("listener bug");
    }),
  ];
  try {
    expect(handle.snapshot(service)).toBeUndefined();
    const a = await server("events-a");
    await registerEndpoint(client, service, a.addr, { id: "a" });
    // Two channels on one service: one watch, so each event once.
    const [one, two] = [connect(`etcd:///${service}`), connect(`etcd:///${service}`)];
    expect(await one.whoAmI()).toBe("events-a");
    expect(await two.whoAmI()).toBe("events-a");
    expect(updates).toEqual([[`${service}/a`]]);
    expect(warnings).toContain('a "update" listener threw');
    expect(handle.snapshot(service)).toMatchObject({ service, listed: true, stale: false });

    await etcd.stop();
    await expect.poll(() => handle.snapshot(service)?.stale, poll).toBe(true);
    expect(states).toHaveLength(1);
    expect(states[0]).toMatch(/^stale [A-Z_]+$/);
    expect(handle.snapshot(service)?.endpoints.map((e) => e.key)).toEqual([`${service}/a`]);

    await etcd.start();
    await expect.poll(() => states.at(-1), poll).toBe("fresh");
    expect(handle.snapshot(service)?.stale).toBe(false);
    expect(states.filter((s) => s === "fresh")).toHaveLength(1);
    await registerEndpoint(client, service, a.addr, { id: "b" });
    await expect.poll(() => updates.at(-1), poll).toEqual([`${service}/a`, `${service}/b`]);
  } finally {
    for (const off of offs) off();
  }
  // Unsubscribed: a listener still subscribed hears the next update, the others nothing more.
  const before = updates.length;
  const later: string[][] = [];
  const off = handle.on("update", (e) => {
    if (e.service === service) later.push(e.endpoints.map((x) => x.key));
  });
  try {
    await unregisterEndpoint(client, service, "b");
    await expect.poll(() => later, poll).toEqual([[`${service}/a`]]);
    expect(updates).toHaveLength(before);
  } finally {
    off();
  }
});
