import { encodeEndpoint } from "@etcd-naming/codec";
import {
  createManualClock,
  createMemorySource,
  type ManualClock,
  type MemorySource,
} from "@etcd-naming/watcher";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FunctionListener } from "./listener.js";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { type FakeGrpc, FakeMetadata, fakeGrpc, settle, uri } from "./test/fake-grpc.js";

const put = (source: MemorySource, key: string, addr: string, metadata?: unknown) =>
  source.put(key, encodeEndpoint(metadata === undefined ? { addr } : { addr, metadata }));

let grpc: FakeGrpc;
let clock: ManualClock;
let source: MemorySource;
let handle: EtcdResolverHandle;
const logger = { warn: vi.fn(), error: vi.fn(), info: vi.fn(), debug: vi.fn() };

beforeEach(() => {
  grpc = fakeGrpc();
  clock = createManualClock({ now: 1_000_000 });
  source = createMemorySource();
  logger.warn.mockReset();
  handle = registerEtcdResolver({ source, grpc, clock, logger, minUpdateIntervalMs: 100, coalesceMs: 5 });
});

afterEach(async () => {
  await handle.close();
});

/** Moves the clock in steps, letting promises and microtasks run between steps. */
async function run(ms: number, step = 5): Promise<void> {
  await settle();
  for (let passed = 0; passed < ms; passed += step) {
    clock.advance(Math.min(step, ms - passed));
    await settle();
  }
}

function open(target: string, options: Record<string, unknown> = {}) {
  const listener = vi.fn<FunctionListener>(() => true);
  const Resolver = grpc.registered.get("etcd")!;
  const resolver = new Resolver(uri(target), listener, options);
  const addresses = (call = listener.mock.calls.length - 1) => {
    const result = listener.mock.calls[call]![0];
    return result.ok ? result.value.map((e) => e.addresses[0]) : result.error;
  };
  return { resolver, listener, addresses };
}

/**
 * Opens `etcd:///svc` on one endpoint, then deletes it: the listener has had three calls (the endpoint,
 * the empty list, the failure that says why).
 */
async function openThenEmpty() {
  put(source, "svc/a", "10.0.0.1:80");
  const opened = open("etcd:///svc");
  opened.resolver.updateResolution();
  await run(20);
  source.delete("svc/a");
  await run(200);
  expect(opened.listener).toHaveBeenCalledTimes(3);
  return opened;
}

describe("the registered resolver class", () => {
  it("reports the registered endpoints with a round_robin service config", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    put(source, "svc/b", "10.0.0.2:80");
    const { resolver, listener, addresses } = open("etcd:///svc");
    resolver.updateResolution();
    await run(20);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(addresses()).toEqual([
      { host: "10.0.0.1", port: 80 },
      { host: "10.0.0.2", port: 80 },
    ]);
    expect(listener.mock.calls[0]![2]).toEqual({
      ok: true,
      value: { loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] },
    });
    resolver.destroy();
  });

  it("uses ?lb= over the default, and sends no config when the channel has its own", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const pickFirst = open("etcd:///svc?lb=pick_first");
    const own = open("etcd:///svc", { "grpc.service_config": '{"loadBalancingConfig":[{"pick_first":{}}]}' });
    pickFirst.resolver.updateResolution();
    own.resolver.updateResolution();
    await run(20);
    expect(pickFirst.listener.mock.calls[0]![2]).toEqual({
      ok: true,
      value: { loadBalancingConfig: [{ pick_first: {} }], methodConfig: [] },
    });
    expect(own.listener.mock.calls[0]![2]).toBeNull();
    pickFirst.resolver.destroy();
    own.resolver.destroy();
  });

  it("uses the registration's default policy", async () => {
    await handle.close();
    handle = registerEtcdResolver({ source, grpc, clock, logger, defaultLoadBalancing: "pick_first" });
    put(source, "svc/a", "10.0.0.1:80");
    const { resolver, listener } = open("etcd:///svc");
    resolver.updateResolution();
    await run(20);
    expect(listener.mock.calls[0]![2]).toMatchObject({
      value: { loadBalancingConfig: [{ pick_first: {} }] },
    });
    resolver.destroy();
  });

  it("rejects bad targets from getDefaultAuthority and the constructor, and names the service otherwise", () => {
    const Resolver = grpc.registered.get("etcd")!;
    expect(Resolver.getDefaultAuthority(uri("etcd:///foo/bar/svc"))).toBe("foo.bar.svc");
    expect(() => Resolver.getDefaultAuthority(uri("etcd://svc"))).toThrow('"etcd:///svc"');
    expect(() => new Resolver(uri("etcd:///svc?lb=nope"), vi.fn(), {})).toThrow(
      expect.objectContaining({ code: "INVALID_TARGET" }),
    );
  });
});

describe("asynchrony and destroy (behaviour 5)", () => {
  it("never calls the listener from the constructor or updateResolution, even when the watch is warm", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const warm = open("etcd:///svc");
    warm.resolver.updateResolution();
    await run(20);
    expect(warm.listener).toHaveBeenCalledTimes(1);

    const { resolver, listener } = open("etcd:///svc");
    resolver.updateResolution();
    resolver.updateResolution();
    expect(listener).not.toHaveBeenCalled();
    await Promise.resolve();
    expect(listener).not.toHaveBeenCalled();
    await run(5);
    expect(listener).toHaveBeenCalledTimes(1);
    resolver.destroy();
    warm.resolver.destroy();
  });

  it("stays silent after destroy(), and re-initialises on a later updateResolution()", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const { resolver, listener, addresses } = open("etcd:///svc");
    resolver.updateResolution();
    resolver.destroy();
    put(source, "svc/b", "10.0.0.2:80");
    await run(300);
    expect(listener).not.toHaveBeenCalled();
    expect(source.stats().openWatches).toBe(0);

    resolver.updateResolution();
    await run(20);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(addresses()).toHaveLength(2);

    resolver.destroy();
    resolver.updateResolution();
    await run(20);
    expect(listener).toHaveBeenCalledTimes(2); // the full state again, for the channel's new policy
  });

  it("answers a tight updateResolution() loop from the shared watch without re-listing", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const { resolver, listener } = open("etcd:///svc");
    resolver.updateResolution();
    await run(20);
    const lists = source.stats().lists;
    for (let i = 0; i < 10_000; i++) resolver.updateResolution();
    await run(1000, 50);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(source.stats().lists).toBe(lists);
    expect(clock.pending()).toBeLessThan(5);
    resolver.destroy();
  });

  it("is silenced by the registration's close(), and new channels then fail with CLOSED", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const { resolver, listener } = open("etcd:///svc");
    resolver.updateResolution();
    await handle.close();
    put(source, "svc/b", "10.0.0.2:80");
    await run(300);
    expect(listener).not.toHaveBeenCalled();
    expect(source.stats().openWatches).toBe(0);
    const Resolver = grpc.registered.get("etcd")!;
    expect(() => Resolver.getDefaultAuthority(uri("etcd:///svc"))).toThrow(
      expect.objectContaining({ code: "CLOSED" }),
    );
  });
});

describe("empty services (behaviour 3)", () => {
  it("stays silent while the service has never had endpoints, then reports the first one", async () => {
    const { resolver, listener, addresses } = open("etcd:///svc");
    resolver.updateResolution();
    await run(500);
    expect(listener).not.toHaveBeenCalled();
    put(source, "svc/a", "10.0.0.1:80");
    await run(20);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(addresses()).toEqual([{ host: "10.0.0.1", port: 80 }]);
    resolver.destroy();
  });

  it("reports a service emptied on purpose as an empty list with the reason", async () => {
    const { resolver, listener } = await openThenEmpty();
    expect(listener.mock.calls[1]![0]).toEqual({ ok: true, value: [] });
    expect(listener.mock.calls[2]![0]).toMatchObject({
      ok: false,
      error: { details: "no endpoints for svc" },
    });
    expect(listener.mock.calls[1]![3]).toBe("no endpoints for svc");
    resolver.destroy();
  });

  it("says again that it is empty when grpc-js asks, at once while the failure is new", async () => {
    // grpc-js 1.14's round_robin can lose the failure (a destroyed pick_first child's timer makes it
    // recompute its state from no children, IDLE); the channel then asks and waits in CONNECTING.
    const { resolver, listener } = await openThenEmpty();
    resolver.updateResolution();
    clock.advance(0);
    await settle();
    expect(listener).toHaveBeenCalledTimes(4);
    expect(listener.mock.calls[3]![0]).toMatchObject({
      ok: false,
      error: { details: "no endpoints for svc" },
    });
    expect(listener.mock.calls[3]![2]).toEqual({
      ok: true,
      value: { loadBalancingConfig: [{ round_robin: {} }], methodConfig: [] },
    });
    resolver.updateResolution();
    clock.advance(0);
    await settle();
    expect(listener).toHaveBeenCalledTimes(5);
    // Once the failure has settled, requests go through the usual spacing (a loop is not a flood).
    await run(400);
    for (let i = 0; i < 100; i++) resolver.updateResolution();
    await run(50);
    expect(listener).toHaveBeenCalledTimes(6);
    resolver.updateResolution();
    await run(30);
    expect(listener).toHaveBeenCalledTimes(6);
    await run(30);
    expect(listener).toHaveBeenCalledTimes(7);
    expect(listener.mock.calls[6]![0]).toMatchObject({ ok: false });
    resolver.destroy();
  });

  it("reports endpoints that come back to an emptied service without waiting out the spacing", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const { resolver, listener, addresses } = open("etcd:///svc");
    resolver.updateResolution();
    await run(20);
    source.delete("svc/a");
    for (let waited = 0; listener.mock.calls.length < 3 && waited < 200; waited++) await run(1, 1);
    expect(listener).toHaveBeenCalledTimes(3);
    put(source, "svc/b", "10.0.0.2:80");
    await run(10, 1); // the watcher's coalescing window (5 ms), not the 100 ms spacing
    expect(listener).toHaveBeenCalledTimes(4);
    expect(addresses()).toEqual([{ host: "10.0.0.2", port: 80 }]);
    resolver.destroy();
  });

  it("names the filters when filtering empties the list", async () => {
    put(source, "svc/a", "10.0.0.1:80", { zone: "a" });
    const { resolver, listener } = open("etcd:///svc?zone=a");
    resolver.updateResolution();
    await run(20);
    put(source, "svc/a", "10.0.0.1:80", { zone: "b" });
    await run(200);
    expect(listener.mock.calls[1]![3]).toBe("no endpoints for svc matching zone=a");
    resolver.destroy();
  });
});

describe("etcd outages (behaviour 4)", () => {
  it("keeps the last endpoints while etcd is unreachable and applies what changed once it is back", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const { resolver, listener, addresses } = open("etcd:///svc");
    resolver.updateResolution();
    await run(20);
    source.setAvailable(false);
    await run(2000, 50);
    for (let i = 0; i < 100; i++) resolver.updateResolution();
    await run(500, 50);
    expect(listener).toHaveBeenCalledTimes(1);

    source.setAvailable(true);
    put(source, "svc/b", "10.0.0.2:80");
    source.delete("svc/a");
    await run(10_000, 100);
    expect(addresses()).toEqual([{ host: "10.0.0.2", port: 80 }]);
    resolver.destroy();
  });

  it("fails fast with the cause when etcd is unreachable before anything is known", async () => {
    source.setAvailable(false);
    const { resolver, listener, addresses } = open("etcd:///svc");
    resolver.updateResolution();
    await run(200);
    expect(listener).toHaveBeenCalledTimes(1);
    expect(addresses()).toMatchObject({ code: 14, details: expect.stringContaining("etcd unavailable") });
    expect((addresses() as { metadata: unknown }).metadata).toBeInstanceOf(FakeMetadata);
    source.setAvailable(true);
    put(source, "svc/a", "10.0.0.1:80");
    await run(10_000, 100);
    expect(addresses()).toEqual([{ host: "10.0.0.1", port: 80 }]);
    resolver.destroy();
  });
});

describe("sharing and coalescing (behaviours 6 and 7)", () => {
  it("shares one source watch among the channels of a service and releases it with the last", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const channels = Array.from({ length: 20 }, (_, i) =>
      open(i % 2 ? "etcd:///svc" : "etcd:///svc?lb=pick_first"),
    );
    for (const { resolver } of channels) resolver.updateResolution();
    await run(20);
    expect(source.stats().openWatches).toBe(1);
    expect(handle.watchedServices).toBe(1);
    for (const { listener } of channels) expect(listener).toHaveBeenCalledTimes(1);
    const other = open("etcd:///other");
    other.resolver.updateResolution();
    await run(5);
    expect(source.stats().openWatches).toBe(2);
    other.resolver.destroy();
    for (const { resolver } of channels.slice(1)) resolver.destroy();
    await run(5);
    expect(source.stats().openWatches).toBe(1);
    channels[0]!.resolver.destroy();
    await run(5);
    expect(source.stats().openWatches).toBe(0);
    expect(handle.watchedServices).toBe(0);
  });

  it("turns a burst of 1,000 changes into a handful of updates with the full final set", async () => {
    const { resolver, listener, addresses } = open("etcd:///svc");
    resolver.updateResolution();
    put(source, "svc/seed", "10.9.9.9:80");
    await run(20);
    for (let batch = 0; batch < 10; batch++) {
      source.transaction(
        Array.from({ length: 100 }, (_, i) => ({
          type: "put" as const,
          key: `svc/${batch}-${i}`,
          value: encodeEndpoint({ addr: `10.1.${batch}.${i}:80` }),
        })),
      );
      await run(15);
    }
    await run(300);
    expect(addresses()).toHaveLength(1001);
    expect(listener.mock.calls.length).toBeLessThanOrEqual(3);
    resolver.destroy();
  });

  it("spaces updates by ten times the listener's cost on large services", async () => {
    const { resolver, listener } = open("etcd:///svc");
    const calls: number[] = [];
    listener.mockImplementation(() => {
      calls.push(clock.now());
      clock.advance(50); // as if grpc-js took 50 ms to rebuild its children
      return true;
    });
    resolver.updateResolution();
    put(source, "svc/a", "10.0.0.1:80");
    await run(20);
    for (let i = 0; i < 40; i++) {
      put(source, `svc/b${i}`, `10.0.1.${i}:80`);
      await run(50);
    }
    await run(1000);
    expect(calls.length).toBeGreaterThan(2);
    for (let i = 1; i < calls.length; i++) expect(calls[i]! - calls[i - 1]!).toBeGreaterThanOrEqual(550);
    expect(listener.mock.lastCall![0]).toMatchObject({ ok: true, value: { length: 41 } });
    resolver.destroy();
  });
});

describe("registry values", () => {
  it("resolves Go's {Op,Addr,Metadata} and bare {Addr} values alike (behaviour 8)", async () => {
    source.put("svc/go", JSON.stringify({ Op: 0, Addr: "10.0.0.1:80", Metadata: { zone: "a" } }));
    source.put("svc/bare", JSON.stringify({ Addr: "10.0.0.2:80" }));
    const { resolver, addresses } = open("etcd:///svc");
    resolver.updateResolution();
    await run(20);
    expect(addresses()).toEqual([
      { host: "10.0.0.2", port: 80 },
      { host: "10.0.0.1", port: 80 },
    ]);
    resolver.destroy();
  });

  it("skips an undiallable address with one warning naming the key", async () => {
    put(source, "svc/good", "10.0.0.1:80");
    source.put("svc/bad", JSON.stringify({ Op: 0, Addr: "http://10.0.0.2:80", Metadata: null }));
    const channels = [open("etcd:///svc"), open("etcd:///svc")];
    for (const { resolver } of channels) resolver.updateResolution();
    await run(20);
    for (const { addresses } of channels) expect(addresses()).toEqual([{ host: "10.0.0.1", port: 80 }]);
    const warnings = logger.warn.mock.calls.filter(([, message]) => String(message).includes("svc/bad"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]![1]).toContain('cannot dial address "http://10.0.0.2:80"');
    expect(warnings[0]![0]).toEqual({
      component: "grpc-js",
      service: "svc",
      key: "svc/bad",
      addr: "http://10.0.0.2:80",
    });
    for (const { resolver } of channels) resolver.destroy();
  });

  it("filters on metadata and keeps a stable subset", async () => {
    for (let i = 0; i < 40; i++) put(source, `svc/${i}`, `10.0.0.${i}:80`, { zone: i < 30 ? "a" : "b" });
    const { resolver, listener, addresses } = open("etcd:///svc?zone=a&subset=8");
    resolver.updateResolution();
    await run(20);
    const first = addresses() as { host: string }[];
    expect(first).toHaveLength(8);
    for (const { host } of first) expect(Number(host.split(".")[3])).toBeLessThan(30);
    put(source, "svc/new", "10.0.1.1:80", { zone: "a" });
    await run(200);
    const second = listener.mock.calls.length === 1 ? first : (addresses() as { host: string }[]);
    const kept = second.filter((a) => first.some((b) => b.host === a.host));
    expect(kept.length).toBeGreaterThanOrEqual(7);
    resolver.destroy();
  });
});

describe("the object listener of grpc-js 1.10–1.13", () => {
  it("gets endpoints through onSuccessfulResolution and emptiness through both callbacks", async () => {
    put(source, "svc/a", "10.0.0.1:80");
    const listener = { onSuccessfulResolution: vi.fn(), onError: vi.fn() };
    const resolver = new (grpc.registered.get("etcd")!)(uri("etcd:///svc"), listener, {});
    resolver.updateResolution();
    await run(20);
    expect(listener.onSuccessfulResolution).toHaveBeenCalledTimes(1);
    expect(listener.onSuccessfulResolution.mock.calls[0]![0]).toEqual([
      { addresses: [{ host: "10.0.0.1", port: 80 }] },
    ]);
    source.delete("svc/a");
    await run(200);
    expect(listener.onError).toHaveBeenCalledWith(
      expect.objectContaining({ code: 14, details: "no endpoints for svc" }),
    );
    resolver.destroy();
  });
});
