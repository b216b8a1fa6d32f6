// The lowest supported grpc-js (1.10, object listener) through the same scenarios as the main suite's
// core: resolve and spread, follow additions and removals, report an emptied service, honour ?lb=, and
// the weighted policy (1.10's shape of the load-balancer API).

import { type Grpc, greeters } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import * as grpc110 from "grpc-js-1-10";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, type GrpcModule, registerEtcdResolver } from "./register.js";
import { registerEndpoint, unregisterEndpoint } from "./test/registry.js";

vi.setConfig({ testTimeout: 20_000 });

const grpc = grpc110 as unknown as Grpc;
const etcd = useTestEtcd();
const client = etcd.client();
let handle: EtcdResolverHandle;
const tracked = greeters({ grpc });
const { server, connect } = tracked;
const poll = { timeout: 10_000, interval: 50 };
const service = (name: string) => `${etcd.namespace}/${name}`;

beforeAll(() => {
  // A short protection hold: emptying a service of two (below) is a mass removal, reported after it.
  handle = registerEtcdResolver({
    client,
    grpc: grpc110 as unknown as GrpcModule,
    protection: { holdMs: 1_000 },
  });
});

afterAll(async () => {
  await tracked.close();
  await handle.close();
});

describe("grpc-js 1.10 (object listener)", () => {
  it("drives 1.10's object listener, never synchronously", async () => {
    const svc = service("shape");
    await registerEndpoint(client, svc, "127.0.0.1:1");
    const results: unknown[] = [];
    const resolver = grpc110.experimental.createResolver(
      { scheme: "etcd", authority: "", path: svc },
      {
        onSuccessfulResolution: (endpoints) => results.push(endpoints),
        onError: (error) => results.push(error),
      },
      {},
    );
    resolver.updateResolution();
    expect(results).toEqual([]);
    await expect.poll(() => results, poll).toEqual([[{ addresses: [{ host: "127.0.0.1", port: 1 }] }]]);
    resolver.destroy();
  });

  it("spreads calls across three registered servers with round_robin", async () => {
    const svc = service("spread");
    const three = await Promise.all(["a", "b", "c"].map((id) => server(`old-${id}`)));
    for (const s of three) await registerEndpoint(client, svc, s.addr);
    const greeter = connect(`etcd:///${svc}`);
    await expect.poll(async () => (await greeter.spread(6)).size, poll).toBe(3);
    const counts = await greeter.spread(30);
    for (const s of three) expect(counts.get(s.id)).toBe(10);
  });

  it("follows additions and removals without recreating the client", async () => {
    const svc = service("churn");
    const first = await server("old-churn-1");
    await registerEndpoint(client, svc, first.addr);
    const greeter = connect(`etcd:///${svc}`);
    expect(await greeter.whoAmI()).toBe("old-churn-1");
    const second = await server("old-churn-2");
    await registerEndpoint(client, svc, second.addr, { id: "second" });
    await expect.poll(async () => (await greeter.spread(4)).get("old-churn-2") ?? 0, poll).toBeGreaterThan(0);
    await unregisterEndpoint(client, svc, "second");
    await expect.poll(async () => (await greeter.spread(4)).get("old-churn-2") ?? 0, poll).toBe(0);
    expect((await greeter.spread(10)).get("old-churn-1")).toBe(10);
  });

  it("holds calls for a service without endpoints, then fails them with 'no endpoints for' once emptied", async () => {
    const svc = service("emptied");
    const greeter = connect(`etcd:///${svc}`);
    const pending = greeter.whoAmI({ deadlineMs: 8_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const only = await server("old-emptied");
    await registerEndpoint(client, svc, only.addr, { id: "only" });
    await expect(pending).resolves.toBe("old-emptied");

    await unregisterEndpoint(client, svc, "only");
    await expect
      .poll(
        () =>
          greeter.whoAmI({ deadlineMs: 1_000 }).catch((error: { code: number; details: string }) => error),
        poll,
      )
      .toMatchObject({ code: grpc.status.UNAVAILABLE, details: `no endpoints for ${svc}` });
    await registerEndpoint(client, svc, only.addr, { id: "again" });
    await expect.poll(() => greeter.whoAmI().catch(() => "error"), poll).toBe("old-emptied");
  });

  it("honours ?lb=pick_first, including when the service is emptied", async () => {
    const svc = service("pick-first");
    const both = await Promise.all([server("old-pf-1"), server("old-pf-2")]);
    for (const s of both) await registerEndpoint(client, svc, s.addr, { id: s.id });
    const greeter = connect(`etcd:///${svc}?lb=pick_first`);
    await greeter.whoAmI();
    expect((await greeter.spread(10)).size).toBe(1);
    for (const s of both) await unregisterEndpoint(client, svc, s.id);
    await expect
      .poll(
        () => greeter.whoAmI({ deadlineMs: 1_000 }).catch((error: { details: string }) => error.details),
        poll,
      )
      .toBe(`no endpoints for ${svc}`);
  });

  it("splits calls by weight and fails over with ?prefer= through the weighted policy", async () => {
    const svc = service("weighted");
    const [light, heavy, other] = await Promise.all([
      server("old-light"),
      server("old-heavy"),
      server("old-b"),
    ]);
    await registerEndpoint(client, svc, light!.addr, { id: "light", metadata: "zone=a;weight=1" });
    await registerEndpoint(client, svc, heavy!.addr, { id: "heavy", metadata: "zone=a;weight=3" });
    await registerEndpoint(client, svc, other!.addr, { id: "b", metadata: "zone=b;weight=2" });
    const greeter = connect(`etcd:///${svc}?prefer=zone:a`);
    await expect
      .poll(async () => [...(await greeter.spread(8)).keys()].sort(), poll)
      .toEqual(["old-heavy", "old-light"]);
    const counts = await greeter.spread(400);
    expect(counts.get("old-b")).toBeUndefined();
    expect(Math.abs((counts.get("old-heavy") ?? 0) - 300)).toBeLessThanOrEqual(12);

    // Zone a dies (its keys stay): every call goes to zone b.
    await Promise.all([light!.close(), heavy!.close()]);
    await expect
      .poll(async () => Object.fromEntries(await greeter.spread(10, { deadlineMs: 1_000 })), poll)
      .toEqual({ "old-b": 10 });
  });
});
