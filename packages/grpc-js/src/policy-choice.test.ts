// Which service config a channel gets: the weighted policy when weights or ?prefer= ask for it, the
// fixed policy otherwise, composed with filters, subsets, outlier detection and protection holds.
import { encodeEndpoint, formatAttributes } from "@etcd-naming/codec";
import {
  createManualClock,
  createMemorySource,
  type ManualClock,
  type MemorySource,
} from "@etcd-naming/watcher";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FunctionListener } from "./listener.js";
import {
  type EtcdResolverHandle,
  type RegisterEtcdResolverOptions,
  registerEtcdResolver,
} from "./register.js";
import { type FakeGrpc, fakeGrpc, settle, uri } from "./test/fake-grpc.js";
import { WEIGHTED_POLICY } from "./weighting.js";

let grpc: FakeGrpc;
let clock: ManualClock;
let source: MemorySource;
let handle: EtcdResolverHandle;
const warnings: string[] = [];
const logger = {
  warn: (_fields: object, message: string) => {
    warnings.push(message);
  },
};

function register(options: Partial<RegisterEtcdResolverOptions> = {}, loadBalancers = true): void {
  grpc = fakeGrpc({ loadBalancers });
  handle = registerEtcdResolver({ source, grpc, clock, logger, minUpdateIntervalMs: 0, ...options });
}

beforeEach(() => {
  clock = createManualClock({ now: 1_000_000 });
  source = createMemorySource();
  warnings.length = 0;
  register();
});

afterEach(async () => {
  await handle.close();
});

const put = (key: string, addr: string, attributes?: Record<string, string>) =>
  source.put(key, encodeEndpoint(attributes ? { addr, metadata: formatAttributes(attributes) } : { addr }));

async function run(ms: number): Promise<void> {
  await settle();
  for (let passed = 0; passed < ms; passed += 5) {
    clock.advance(5);
    await settle();
  }
}

/** Opens a channel's resolver for `target`; `config()` is the last service config it sent. */
async function open(target: string, options: Record<string, unknown> = {}) {
  const listener = vi.fn<FunctionListener>(() => true);
  const Resolver = grpc.registered.get("etcd")!;
  const resolver = new Resolver(uri(target), listener, options);
  resolver.updateResolution();
  await run(20);
  const config = () => {
    const calls = listener.mock.calls;
    const serviceConfig = calls[calls.length - 1]?.[2];
    return serviceConfig === null ? null : serviceConfig?.value.loadBalancingConfig[0];
  };
  return { resolver, listener, config };
}

const weighted = (...endpoints: object[]) => ({ [WEIGHTED_POLICY]: { endpoints } });

describe("the policy a channel gets", () => {
  it("is round_robin without weights, weighted while any endpoint carries one, and round_robin again", async () => {
    put("svc/a", "10.0.0.1:80");
    put("svc/b", "10.0.0.2:80", { zone: "a" });
    const { resolver, listener, config } = await open("etcd:///svc");
    expect(config()).toEqual({ round_robin: {} });

    put("svc/b", "10.0.0.2:80", { zone: "a", weight: "3" });
    await run(20);
    expect(config()).toEqual(weighted({ address: "10.0.0.2:80", weight: 3 }));
    // A new weight is a new config for the same endpoints; the same weight again says nothing.
    put("svc/b", "10.0.0.2:80", { weight: "2" });
    await run(20);
    expect(config()).toEqual(weighted({ address: "10.0.0.2:80", weight: 2 }));
    const calls = listener.mock.calls.length;
    put("svc/b", "10.0.0.2:80", { weight: "2", zone: "b" });
    await run(20);
    expect(listener.mock.calls.length).toBe(calls);

    // weight=1 still carries a weight: the weighted policy stays, with nothing to list.
    put("svc/b", "10.0.0.2:80", { weight: "1" });
    await run(20);
    expect(config()).toEqual(weighted());
    put("svc/b", "10.0.0.2:80");
    await run(20);
    expect(config()).toEqual({ round_robin: {} });
    resolver.destroy();
  });

  it("keeps an explicit policy whatever the weights: ?lb=, or the registration's default", async () => {
    put("svc/a", "10.0.0.1:80", { weight: "3" });
    const roundRobin = await open("etcd:///svc?lb=round_robin");
    const pickFirst = await open("etcd:///svc?lb=pick_first");
    const always = await open("etcd:///svc?lb=weighted");
    expect(roundRobin.config()).toEqual({ round_robin: {} });
    expect(pickFirst.config()).toEqual({ pick_first: {} });
    expect(always.config()).toEqual(weighted({ address: "10.0.0.1:80", weight: 3 }));
    put("svc/a", "10.0.0.1:80");
    await run(20);
    expect(always.config()).toEqual(weighted());
    for (const each of [roundRobin, pickFirst, always]) each.resolver.destroy();

    await handle.close();
    register({ defaultLoadBalancing: "round_robin" });
    put("svc/a", "10.0.0.1:80", { weight: "3" });
    const fixed = await open("etcd:///svc");
    expect(fixed.config()).toEqual({ round_robin: {} });
    // ?prefer= asks for the weighted policy over the registration's default.
    const prefer = await open("etcd:///svc?prefer=zone:a");
    expect(prefer.config()).toEqual(weighted({ address: "10.0.0.1:80", weight: 3 }));
    fixed.resolver.destroy();
    prefer.resolver.destroy();
  });

  it("marks the endpoints ?prefer= matches, after the filters and the subset", async () => {
    put("svc/a", "10.0.0.1:80", { zone: "a", tier: "gold" });
    put("svc/b", "10.0.0.2:80", { zone: "a", tier: "silver" });
    put("svc/c", "10.0.0.3:80", { zone: "b", tier: "gold", weight: "2" });
    const { resolver, config } = await open("etcd:///svc?tier=gold&prefer=zone:a");
    expect(config()).toEqual(
      weighted({ address: "10.0.0.1:80", preferred: true }, { address: "10.0.0.3:80", weight: 2 }),
    );
    // The subset keeps one endpoint, whichever the seed ranks first; the config lists it only if it has
    // something to say.
    const subset = await open("etcd:///svc?subset=1&prefer=tier:gold");
    const [kept] = (subset.listener.mock.calls.at(-1)![0] as { value: { addresses: { host: string }[] }[] })
      .value;
    const expected: Record<string, object[]> = {
      "10.0.0.1": [{ address: "10.0.0.1:80", preferred: true }],
      "10.0.0.2": [],
      "10.0.0.3": [{ address: "10.0.0.3:80", weight: 2, preferred: true }],
    };
    expect(subset.config()).toEqual(weighted(...expected[kept!.addresses[0]!.host]!));
    resolver.destroy();
    subset.resolver.destroy();
  });

  it("runs the weighted policy under outlier_detection with ?outlier=on", async () => {
    put("svc/a", "10.0.0.1:80", { weight: "2" });
    const { resolver, config } = await open("etcd:///svc?outlier=on");
    const outlier = config()!["outlier_detection"]!;
    expect(outlier["child_policy"]).toEqual([weighted({ address: "10.0.0.1:80", weight: 2 })]);
    resolver.destroy();
  });

  it("keeps the weights of the endpoints a protection hold keeps", async () => {
    await handle.close();
    register({ protection: { maxRemovedShare: 0.5, holdMs: 10_000 } });
    put("svc/a", "10.0.0.1:80", { weight: "2" });
    put("svc/b", "10.0.0.2:80", { weight: "3" });
    put("svc/c", "10.0.0.3:80", { weight: "4" });
    const { resolver, config } = await open("etcd:///svc");
    source.delete("svc/b");
    source.delete("svc/c");
    put("svc/a", "10.0.0.1:80", { weight: "5" });
    await run(20);
    expect(config()).toEqual(
      weighted(
        { address: "10.0.0.1:80", weight: 5 },
        { address: "10.0.0.2:80", weight: 3 },
        { address: "10.0.0.3:80", weight: 4 },
      ),
    );
    await run(10_000);
    expect(config()).toEqual(weighted({ address: "10.0.0.1:80", weight: 5 }));
    resolver.destroy();
  });

  it("counts an invalid weight as 1 and warns once per key and value, however many channels read it", async () => {
    put("svc/a", "10.0.0.1:80", { weight: "2.5" });
    put("svc/b", "10.0.0.2:80", { weight: "2" });
    const one = await open("etcd:///svc");
    const two = await open("etcd:///svc?prefer=zone:x");
    expect(one.config()).toEqual(weighted({ address: "10.0.0.2:80", weight: 2 }));
    for (const weight of ["0", "-1", "1000001", "01", "x"]) {
      put("svc/a", "10.0.0.1:80", { weight });
      await run(20);
    }
    expect(warnings).toEqual(
      ["2.5", "0", "-1", "1000001", "01", "x"].map(
        (value) => `svc/a: weight "${value}" is not a whole number from 1 to 1000000; it counts as 1`,
      ),
    );
    one.resolver.destroy();
    two.resolver.destroy();
  });

  it("sends no config when the channel has its own", async () => {
    put("svc/a", "10.0.0.1:80", { weight: "2" });
    const own = await open("etcd:///svc?prefer=zone:a", {
      "grpc.service_config": '{"loadBalancingConfig":[]}',
    });
    expect(own.config()).toBeNull();
    own.resolver.destroy();
  });

  it("keeps to round_robin, with one warning, in a grpc-js without the load-balancer API", async () => {
    await handle.close();
    register({}, false);
    put("svc/a", "10.0.0.1:80", { weight: "2" });
    const auto = await open("etcd:///svc");
    const prefer = await open("etcd:///svc?prefer=zone:a&outlier=on");
    expect(auto.config()).toEqual({ round_robin: {} });
    expect(prefer.config()!["outlier_detection"]!["child_policy"]).toEqual([{ round_robin: {} }]);
    expect(warnings).toEqual([
      expect.stringContaining("weights and ?prefer= need the experimental load-balancer API"),
    ]);
    auto.resolver.destroy();
    prefer.resolver.destroy();
  });
});
