import { encodeEndpoint } from "@etcd-naming/codec";
import { greeterClient, greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { createEtcd3Source, type Etcd3Source } from "@etcd-naming/watcher";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { registerEndpoint, registerMany, unregisterEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 20_000 });

const etcd = useTestEtcd();
const client = etcd.client();
let source: Etcd3Source;
let handle: EtcdResolverHandle;
const tracked = greeters();
const server = tracked.server;
const connect = (target: string, channelOptions: grpc.ChannelOptions = {}) =>
  tracked.connect(target, { channelOptions });

const poll = { timeout: 10_000, interval: 50 };

const service = (name: string) => `${etcd.namespace}/${name}`;

beforeAll(() => {
  // The test reads the watcher's counters through its own source; the registration is otherwise default.
  source = createEtcd3Source(client);
  handle = registerEtcdResolver({ source, subsetSeed: "integration" });
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
});

describe("routing (behaviours 1, 2, 8)", () => {
  it("spreads calls across three registered servers with round_robin", async () => {
    const svc = service("spread");
    const three = await Promise.all(["a", "b", "c"].map((id) => server(`spread-${id}`)));
    for (const s of three) await registerEndpoint(client, svc, s.addr);
    const greeter = connect(`etcd:///${svc}`);
    await expect.poll(async () => (await greeter.spread(6)).size, poll).toBe(3);
    const counts = await greeter.spread(30);
    expect(counts.get("error")).toBeUndefined();
    for (const s of three) expect(counts.get(s.id)).toBe(10);
  });

  it("sends calls to a server registered later, and none once its key is deleted", async () => {
    const svc = service("churn");
    const first = await server("churn-1");
    await registerEndpoint(client, svc, first.addr);
    const greeter = connect(`etcd:///${svc}`);
    expect(await greeter.whoAmI()).toBe("churn-1");

    const second = await server("churn-2");
    await registerEndpoint(client, svc, second.addr, { id: "second" });
    await expect.poll(async () => (await greeter.spread(4)).get("churn-2") ?? 0, poll).toBeGreaterThan(0);

    await unregisterEndpoint(client, svc, "second");
    await expect.poll(async () => (await greeter.spread(4)).get("churn-2") ?? 0, poll).toBe(0);
    const before = second.calls;
    const after = await greeter.spread(20);
    expect(after.get("churn-1")).toBe(20);
    expect(second.calls).toBe(before);
  });

  it("resolves Go's {Op,Addr,Metadata} values and bare {Addr} values alike", async () => {
    const svc = service("go-values");
    const [full, bare] = await Promise.all([server("go-full"), server("go-bare")]);
    await client
      .put(`${svc}/full`)
      .value(JSON.stringify({ Op: 0, Addr: full.addr, Metadata: { zone: "a" } }));
    await client.put(`${svc}/bare`).value(JSON.stringify({ Addr: bare.addr }));
    await client.put(`${svc}/junk`).value("not json");
    const greeter = connect(`etcd:///${svc}`);
    await expect
      .poll(async () => [...(await greeter.spread(4)).keys()].sort(), poll)
      .toEqual(["go-bare", "go-full"]);
  });

  it("keeps two servers whose keys differ only in bytes that are not UTF-8, and drops only the deleted one", async () => {
    const svc = service("bytes");
    const [ff, fe] = await Promise.all([server("bytes-ff"), server("bytes-fe")]);
    const key = (byte: number) => Buffer.concat([Buffer.from(`${svc}/k-`), Buffer.from([byte])]);
    await client.put(key(0xff)).value(encodeEndpoint({ addr: ff.addr }));
    await client.put(key(0xfe)).value(encodeEndpoint({ addr: fe.addr }));
    const greeter = connect(`etcd:///${svc}`);
    await expect
      .poll(async () => [...(await greeter.spread(6)).keys()].sort(), poll)
      .toEqual(["bytes-fe", "bytes-ff"]);
    await client.delete().key(key(0xfe));
    await expect.poll(async () => [...(await greeter.spread(6)).keys()], poll).toEqual(["bytes-ff"]);
  });

  it("serves a nested service name and a Unix socket address", async (context) => {
    const path = `/tmp/etcd-naming-${process.pid}-${Date.now()}.sock`;
    const unix = await server("unix", { bind: `unix:${path}` }).catch(() => undefined);
    if (!unix) return context.skip("cannot bind a Unix socket here");
    const svc = service("foo/bar/svc");
    await registerEndpoint(client, svc, `unix://${path}`, { id: "sock" });
    const greeter = connect(`etcd:///${svc}`);
    expect(await greeter.whoAmI()).toBe("unix");
  });
});

describe("target options", () => {
  it("keeps only endpoints whose metadata matches the query", async () => {
    const svc = service("zones");
    const [a1, a2, b] = await Promise.all([server("zone-a1"), server("zone-a2"), server("zone-b")]);
    await registerEndpoint(client, svc, a1.addr, { metadata: { zone: "us-east-1a" } });
    await registerEndpoint(client, svc, a2.addr, { metadata: { zone: "us-east-1a", weight: 2 } });
    await registerEndpoint(client, svc, b.addr, { metadata: { zone: "us-east-1b" } });
    const greeter = connect(`etcd:///${svc}?zone=us-east-1a`);
    await expect.poll(async () => (await greeter.spread(6)).size, poll).toBe(2);
    const counts = await greeter.spread(20);
    expect([...counts.keys()].sort()).toEqual(["zone-a1", "zone-a2"]);
  });

  it("honours ?lb=pick_first and a user's grpc.service_config over the round_robin default", async () => {
    const svc = service("policies");
    const both = await Promise.all([server("policy-1"), server("policy-2")]);
    for (const s of both) await registerEndpoint(client, svc, s.addr);
    const spread = connect(`etcd:///${svc}`);
    await expect.poll(async () => (await spread.spread(4)).size, poll).toBe(2);

    const pickFirst = connect(`etcd:///${svc}?lb=pick_first`);
    const own = connect(`etcd:///${svc}`, {
      "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ pick_first: {} }] }),
    });
    for (const greeter of [pickFirst, own]) {
      await greeter.whoAmI();
      expect((await greeter.spread(12)).size).toBe(1);
    }
  });

  it("gives each client a stable subset with ?subset=", async () => {
    const svc = service("subset");
    const five = await Promise.all([1, 2, 3, 4, 5].map((i) => server(`subset-${i}`)));
    for (const s of five) await registerEndpoint(client, svc, s.addr);
    const greeter = connect(`etcd:///${svc}?subset=2`);
    await expect.poll(async () => (await greeter.spread(6)).size, poll).toBe(2);
    const chosen = [...(await greeter.spread(20)).keys()].sort();
    expect(chosen).toHaveLength(2);
    // Another client of the same registration (same seed) picks the same two.
    const again = connect(`etcd:///${svc}?subset=2`);
    await expect.poll(async () => [...(await again.spread(6)).keys()].sort(), poll).toEqual(chosen);
  });

  it("rejects etcd://svc at client construction, showing the right form", () => {
    expect(() => greeterClient(`etcd://${service("x")}`)).toThrow(`"etcd:///${service("x")}"`);
    expect(() => greeterClient(`etcd:///${service("x")}?lb=random`)).toThrow("lb must be one of");
  });
});

describe("empty services (behaviour 3)", () => {
  it("holds calls until a first endpoint registers, within their deadline", async () => {
    const svc = service("late");
    const greeter = connect(`etcd:///${svc}`);
    const pending = greeter.whoAmI({ deadlineMs: 8_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const late = await server("late-1");
    await registerEndpoint(client, svc, late.addr);
    await expect(pending).resolves.toBe("late-1");
  });

  it("fails a call on the deadline when nothing registers", async () => {
    const greeter = connect(`etcd:///${service("never")}`);
    await expect(greeter.whoAmI({ deadlineMs: 400 })).rejects.toMatchObject({
      code: grpc.status.DEADLINE_EXCEEDED,
    });
  });

  it("reports 'no endpoints for <service>' once a service is emptied on purpose", async () => {
    const svc = service("emptied");
    const only = await server("emptied-1");
    await registerEndpoint(client, svc, only.addr, { id: "only" });
    const greeter = connect(`etcd:///${svc}`);
    expect(await greeter.whoAmI()).toBe("emptied-1");
    await unregisterEndpoint(client, svc, "only");
    await expect
      .poll(() => greeter.whoAmI({ deadlineMs: 1_000 }).catch((error: grpc.ServiceError) => error), poll)
      .toMatchObject({
        code: grpc.status.UNAVAILABLE,
        details: expect.stringContaining(`no endpoints for ${svc}`),
      });
    // And it recovers as soon as an endpoint is back.
    await registerEndpoint(client, svc, only.addr, { id: "again" });
    await expect.poll(() => greeter.whoAmI().catch(() => "error"), poll).toBe("emptied-1");
  });
});

describe("empty services with pick_first", () => {
  it("also reports 'no endpoints for <service>' under ?lb=pick_first", async () => {
    const svc = service("emptied-pf");
    const only = await server("emptied-pf-1");
    await registerEndpoint(client, svc, only.addr, { id: "only" });
    const greeter = connect(`etcd:///${svc}?lb=pick_first`);
    expect(await greeter.whoAmI()).toBe("emptied-pf-1");
    await unregisterEndpoint(client, svc, "only");
    await expect
      .poll(
        () => greeter.whoAmI({ deadlineMs: 1_000 }).catch((error: grpc.ServiceError) => error.details),
        poll,
      )
      .toBe(`no endpoints for ${svc}`);
    await registerEndpoint(client, svc, only.addr, { id: "again" });
    await expect.poll(() => greeter.whoAmI().catch(() => "error"), poll).toBe("emptied-pf-1");
  });
});

describe("sharing (behaviour 6)", () => {
  it("shares one etcd watch among many channels to a target and releases it with the last", async () => {
    const svc = service("shared");
    const s = await server("shared-1");
    await registerEndpoint(client, svc, s.addr);
    const watchesBefore = source.stats().openWatches;
    const opened = source.stats().watchesOpened;
    const many = Array.from({ length: 12 }, () => greeterClient(`etcd:///${svc}`));
    await Promise.all(many.map((greeter) => greeter.whoAmI()));
    expect(source.stats().openWatches).toBe(watchesBefore + 1);
    expect(source.stats().watchesOpened).toBe(opened + 1);
    for (const greeter of many) greeter.close();
    await expect.poll(() => source.stats().openWatches, poll).toBe(watchesBefore);
  });
});

describe("updateResolution and the listener contract (behaviour 5) on real grpc-js", () => {
  const createResolver = (path: string, listener: (...args: unknown[]) => boolean) =>
    grpc.experimental.createResolver({ scheme: "etcd", authority: "", path }, listener as never, {});

  it("answers from the shared watch: asynchronous, rate-limited, silent after destroy", async () => {
    const svc = service("contract");
    const s = await server("contract-1");
    await registerEndpoint(client, svc, s.addr);
    const calls: unknown[][] = [];
    const resolver = createResolver(svc, (...args) => {
      calls.push(args);
      return true;
    });
    resolver.updateResolution();
    expect(calls).toHaveLength(0);
    await expect.poll(() => calls.length, poll).toBe(1);

    const lists = source.stats().lists;
    for (let i = 0; i < 5_000; i++) resolver.updateResolution();
    expect(calls).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls).toHaveLength(1); // nothing changed: nothing to repeat
    expect(source.stats().lists).toBe(lists); // and etcd was not asked again

    resolver.destroy();
    await registerEndpoint(client, svc, "127.0.0.1:1", { id: "after-destroy" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls).toHaveLength(1);
  });
});

describe("large services (behaviour 7)", () => {
  it("delivers a burst of 1,000 changes as a handful of updates with the complete set", async () => {
    const svc = service("large");
    await registerEndpoint(client, svc, "127.0.0.1:1", { id: "seed" });
    const sizes: number[] = [];
    const resolver = grpc.experimental.createResolver(
      { scheme: "etcd", authority: "", path: svc },
      ((result: { ok: boolean; value?: unknown[] }) => {
        sizes.push(result.ok ? result.value!.length : -1);
        return true;
      }) as never,
      {},
    );
    resolver.updateResolution();
    await expect.poll(() => sizes.length, poll).toBe(1);
    const burst = Array.from({ length: 1_000 }, (_, i) => ({
      id: `b${i}`,
      addr: `10.${(i >> 8) & 255}.${i & 255}.1:50051`,
    }));
    await registerMany(client, svc, burst, 100);
    await expect.poll(() => sizes.at(-1), poll).toBe(1_001);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sizes.at(-1)).toBe(1_001);
    expect(sizes.length - 1).toBeLessThanOrEqual(20);
    resolver.destroy();
  });
});
