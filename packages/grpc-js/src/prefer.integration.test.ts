// Zone preference with fail-over: `?prefer=zone:a` sends every call to zone a while one of its endpoints is
// connected, to the others while none is, and back to zone a when it returns. The weighted policy decides in
// its picker from each connection's state, so neither direction waits for etcd.
import { formatAttributes } from "@etcd-naming/codec";
import { type GreeterClient, type GreeterServer, greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, registerEtcdResolver } from "./register.js";
import { registerEndpoint, unregisterEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 90_000 });

const etcd = useTestEtcd();
const client = etcd.client();
const tracked = greeters();
const poll = { timeout: 20_000, interval: 20 };
const DEADLINE_MS = 1_000;
// Reconnect attempts to a stopped server every 100–500 ms, so a restarted one is found quickly.
const channelOptions = { "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 500 };
let handle: EtcdResolverHandle;
let ejecting: EtcdResolverHandle;

beforeAll(() => {
  handle = registerEtcdResolver({ client });
  // Outlier detection that can eject the only endpoint taking calls (a preferred one).
  ejecting = registerEtcdResolver({
    client,
    scheme: "etcd-eject",
    outlierDetection: { intervalMs: 200, baseEjectionMs: 1_500, requestVolume: 5, minimumHosts: 1 },
  });
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
  await ejecting.close();
});

interface Caller {
  /** Server ids of the calls answered so far, in order. */
  readonly answered: string[];
  /** Calls that found no server within their deadline. */
  readonly lost: string[];
  /** Attempts that failed and were made again within their call's deadline. */
  readonly retried: string[];
  stop(): Promise<void>;
}

/**
 * Calls in a loop, one call at a time (5 ms apart), each with a 1 s deadline and `waitForReady`: an
 * attempt that fails (a call in flight on a connection being closed) is made again within the same
 * deadline. A call is lost only when no server answers it within that second.
 */
function keepCalling(greeter: GreeterClient): Caller {
  const answered: string[] = [];
  const lost: string[] = [];
  const retried: string[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const deadline = Date.now() + DEADLINE_MS;
      let id: string | undefined;
      let last = "";
      while (id === undefined && Date.now() < deadline) {
        try {
          id = await greeter.whoAmI({ deadlineMs: deadline - Date.now(), waitForReady: true });
        } catch (error) {
          last = (error as Error).message;
          if (Date.now() < deadline) retried.push(last);
        }
      }
      if (id === undefined) lost.push(last);
      else answered.push(id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    answered,
    lost,
    retried,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** Waits until the last `count` calls answered were all answered by `ids`. */
async function expectNowServedBy(caller: Caller, ids: readonly string[], count = 30): Promise<void> {
  const from = caller.answered.length;
  await expect
    .poll(() => {
      const recent = caller.answered.slice(Math.max(from, caller.answered.length - count));
      return recent.length === count && recent.every((id) => ids.includes(id));
    }, poll)
    .toBe(true);
}

const zoned = (zone: string) => formatAttributes({ zone });

describe("?prefer=zone:a", () => {
  it("sends every call to zone a, fails over to b when a stops or dies, and comes back, losing no call", async () => {
    const svc = `${etcd.namespace}/zones`;
    const start = (id: string, bind?: string) => tracked.server(id, bind === undefined ? {} : { bind });
    const b = await Promise.all([start("b1"), start("b2")]);
    let a: GreeterServer[] = await Promise.all([start("a1"), start("a2")]);
    for (const s of a) await registerEndpoint(client, svc, s.addr, { id: s.id, metadata: zoned("a") });
    for (const s of b) await registerEndpoint(client, svc, s.addr, { id: s.id, metadata: zoned("b") });

    const greeter = tracked.connect(`etcd:///${svc}?prefer=zone:a`, { channelOptions });
    // Until a zone-a connection is up, calls may go to zone b: wait for zone a.
    await expect.poll(async () => [...(await greeter.spread(20)).keys()].sort(), poll).toEqual(["a1", "a2"]);
    const bCalls = () => b.reduce((sum, s) => sum + s.calls, 0);
    const before = bCalls();
    expect(Object.fromEntries(await greeter.spread(200))).toEqual({ a1: 100, a2: 100 });
    expect(bCalls()).toBe(before);

    const caller = keepCalling(greeter);
    try {
      await expectNowServedBy(caller, ["a1", "a2"]);

      // 1. Zone a shuts down gracefully, then deregisters: the calls move to zone b.
      await Promise.all(a.map((s) => s.shutdown()));
      for (const s of a) await unregisterEndpoint(client, svc, s.id);
      await expectNowServedBy(caller, ["b1", "b2"]);
      expect(new Set(caller.answered.slice(-30))).toEqual(new Set(["b1", "b2"]));

      // 2. Zone a comes back (new servers, registered again): the calls go back to it.
      a = await Promise.all([start("a1"), start("a2")]);
      for (const s of a) await registerEndpoint(client, svc, s.addr, { id: s.id, metadata: zoned("a") });
      await expectNowServedBy(caller, ["a1", "a2"]);

      // 3. Zone a dies, its keys stay in etcd: the connections drop and the calls move to zone b.
      const addresses = a.map((s) => s.addr);
      await Promise.all(a.map((s) => s.close()));
      await expectNowServedBy(caller, ["b1", "b2"]);

      // 4. Zone a restarts on the same addresses: nothing changes in etcd, the connections come back and
      // so do the calls.
      a = await Promise.all([start("a1", addresses[0]), start("a2", addresses[1])]);
      await expectNowServedBy(caller, ["a1", "a2"]);
    } finally {
      await caller.stop();
    }
    expect(caller.lost).toEqual([]);
    // Every phase above waited for 30 calls answered by the zone it expected.
    expect(caller.answered.length).toBeGreaterThanOrEqual(5 * 30);
  });

  it("spills to the other zones when the preferred endpoints are ejected by ?outlier=on", async () => {
    const svc = `${etcd.namespace}/ejected`;
    let failing = false;
    const a1 = await tracked.server("ej-a1", { fail: () => failing });
    const b = await Promise.all([tracked.server("ej-b1"), tracked.server("ej-b2")]);
    await registerEndpoint(client, svc, a1.addr, { id: a1.id, metadata: zoned("a") });
    for (const s of b) await registerEndpoint(client, svc, s.addr, { id: s.id, metadata: zoned("b") });

    const greeter = tracked.connect(`etcd-eject:///${svc}?prefer=zone:a&outlier=on`, { channelOptions });
    await expect.poll(async () => [...(await greeter.spread(10)).keys()], poll).toEqual(["ej-a1"]);

    // a1 fails every call: ejected, it counts as not ready, and the calls spill to zone b (weighted evenly).
    failing = true;
    await expect
      .poll(async () => Object.fromEntries(await greeter.spread(20, { deadlineMs: DEADLINE_MS })), poll)
      .toEqual({ "ej-b1": 10, "ej-b2": 10 });
    // Healthy again: after its ejection time a1 takes every call again.
    failing = false;
    await expect.poll(async () => [...(await greeter.spread(10)).keys()], poll).toEqual(["ej-a1"]);
  });
});
