import * as grpc from "@grpc/grpc-js";
import * as grpc110 from "grpc-js-1-10";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { serviceConfigFor } from "./service-config.js";
import { FakeLeaf, fakeBalancerApi, type Registered, recordingChannel, STATE } from "./test/fake-balancer.js";
import { registerWeightedPolicy } from "./weighted-policy.js";
import { WEIGHTED_POLICY, type WeightedEndpointConfig } from "./weighting.js";

const endpoint = (port: number) => ({ addresses: [{ host: "10.0.0.1", port }] });
const ok = (ports: number[]) => ({ ok: true, value: ports.map(endpoint) });

let api: ReturnType<typeof fakeBalancerApi>;
let policy: Registered;

beforeEach(() => {
  // Every scheduler starts its entries at the same point: whole rounds of picks split exactly.
  vi.spyOn(Math, "random").mockReturnValue(0);
  FakeLeaf.created = [];
  api = fakeBalancerApi();
  expect(registerWeightedPolicy(api)).toBe(true);
  policy = api.registered.get(WEIGHTED_POLICY)!;
});

afterEach(() => {
  vi.restoreAllMocks();
});

const config = (endpoints: WeightedEndpointConfig[] = []) => policy.config.createFromJson({ endpoints });
const leaf = (port: number) =>
  FakeLeaf.created.find((l) => l.address === `10.0.0.1:${port}` && !l.destroyed)!;

/** `count` picks of the last picker the channel was given, counted by address. */
function picks(control: ReturnType<typeof recordingChannel>, count: number): Record<string, number> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const address = String(control.last.picker.pick({}));
    seen[address] = (seen[address] ?? 0) + 1;
  }
  return seen;
}

/** A policy (1.14's shape) over endpoints on `ports`, every one READY. */
function readyPolicy(ports: number[], endpoints: WeightedEndpointConfig[] = []) {
  const control = recordingChannel();
  const balancer = new policy.balancer(control);
  balancer.updateAddressList(ok(ports), config(endpoints), { "grpc.x": 1 }, "note");
  for (const port of ports) leaf(port).set(STATE.READY);
  return { control, balancer };
}

describe("the weighted policy", () => {
  it("registers once per grpc-js module, and not into one without the load-balancer API", () => {
    expect(registerWeightedPolicy(api)).toBe(true);
    expect(api.registered.size).toBe(1);
    expect(registerWeightedPolicy({ experimental: { registerResolver() {} } })).toBe(false);
    expect(registerWeightedPolicy(null)).toBe(false);
  });

  it("registers into grpc-js 1.14 and 1.10, whose service configs then parse it, alone and under outlier_detection", () => {
    for (const module of [grpc, grpc110] as unknown as (typeof grpc)[]) {
      expect(registerWeightedPolicy(module)).toBe(true);
      expect(module.experimental.isLoadBalancerNameRegistered(WEIGHTED_POLICY)).toBe(true);
      const weighted = serviceConfigFor("weighted", null, {
        endpoints: [{ address: "10.0.0.1:1", weight: 3, preferred: true }],
      });
      const parsed = module.experimental.parseLoadBalancingConfig(weighted.loadBalancingConfig[0]!);
      expect(parsed.getLoadBalancerName()).toBe(WEIGHTED_POLICY);
      expect(parsed.toJsonObject()).toEqual(weighted.loadBalancingConfig[0]);
      const outlier = serviceConfigFor("weighted", {
        intervalMs: 1_000,
        baseEjectionMs: 1_000,
        maxEjectionMs: 1_000,
        maxEjectionPercent: 50,
        failurePercent: 40,
        minimumHosts: 2,
        requestVolume: 10,
      });
      const wrapped = module.experimental.parseLoadBalancingConfig(outlier.loadBalancingConfig[0]!);
      expect(wrapped.getLoadBalancerName()).toBe("outlier_detection");
    }
  });

  it("rejects a config it cannot use", () => {
    expect(() => policy.config.createFromJson({ endpoints: [{ address: "a:1", weight: 0 }] })).toThrow(
      "the weight of a:1 must be a whole number from 1 to 1000000",
    );
    expect(() => policy.config.createFromJson({ endpoints: [{ weight: 2 }] })).toThrow("needs an address");
    expect(() => policy.config.createFromJson({ endpoints: {} })).toThrow("endpoints must be an array");
    expect(() => policy.config.createFromJson([])).toThrow("must be an object");
    expect(policy.config.createFromJson({}).toJsonObject()).toEqual({ [WEIGHTED_POLICY]: {} });
  });

  it("builds its children from each grpc-js release's arguments", () => {
    // 1.14: new (control); updateAddressList(StatusOr, config, options, note).
    new policy.balancer(recordingChannel()).updateAddressList(ok([1]), config(), { o: 14 }, "n");
    expect(FakeLeaf.created[0]!.rest).toEqual([{ o: 14 }, "n"]);
    // 1.13: new (control); updateAddressList(endpoints, config, options).
    new policy.balancer(recordingChannel()).updateAddressList([endpoint(1)], config(), { o: 13 });
    expect(FakeLeaf.created[1]!.rest).toEqual([{ o: 13 }, ""]);
    // 1.10, 1.11: new (control, options); updateAddressList(endpoints, config, attributes).
    new policy.balancer(recordingChannel(), { o: 10 }).updateAddressList([endpoint(1)], config(), {});
    expect(FakeLeaf.created[2]!.rest).toEqual([{ o: 10 }]);
    // 1.12: new (control, credentials, options).
    new policy.balancer(recordingChannel(), "credentials", { o: 12 }).updateAddressList(
      [endpoint(1)],
      config(),
      {},
    );
    expect(FakeLeaf.created[3]!.rest).toEqual(["credentials", { o: 12 }]);
    expect(FakeLeaf.created.every((l) => l.state === STATE.CONNECTING)).toBe(true);
  });

  it("splits picks by weight, and takes a new weight without new children", () => {
    const { control, balancer } = readyPolicy([1, 2, 3], [{ address: "10.0.0.1:3", weight: 2 }]);
    expect(control.last.state).toBe(STATE.READY);
    expect(picks(control, 400)).toEqual({ "10.0.0.1:1": 100, "10.0.0.1:2": 100, "10.0.0.1:3": 200 });
    const children = [...FakeLeaf.created];

    balancer.updateAddressList(ok([1, 2, 3]), config([{ address: "10.0.0.1:1", weight: 3 }]), {}, "");
    expect(FakeLeaf.created).toEqual(children);
    expect(children.some((l) => l.destroyed)).toBe(false);
    expect(control.last.state).toBe(STATE.READY);
    expect(picks(control, 500)).toEqual({ "10.0.0.1:1": 300, "10.0.0.1:2": 100, "10.0.0.1:3": 100 });
  });

  it("keeps the children of endpoints that stay, adds new ones and destroys removed ones", () => {
    const { control, balancer } = readyPolicy([1, 2]);
    const [one, two] = FakeLeaf.created;
    balancer.updateAddressList(ok([2, 3]), config(), {}, "");
    expect(one!.destroyed).toBe(true);
    expect(two!.destroyed).toBe(false);
    expect(FakeLeaf.created).toHaveLength(3);
    expect(picks(control, 10)).toEqual({ "10.0.0.1:2": 10 });
    leaf(3).set(STATE.READY);
    expect(picks(control, 10)).toEqual({ "10.0.0.1:2": 5, "10.0.0.1:3": 5 });
  });

  it("sends everything to the preferred READY children, spills to the rest when none is, and comes back", () => {
    const preferred = [
      { address: "10.0.0.1:1", preferred: true },
      { address: "10.0.0.1:2", preferred: true },
    ];
    const { control } = readyPolicy([1, 2, 3, 4], [...preferred, { address: "10.0.0.1:4", weight: 3 }]);
    expect(picks(control, 10)).toEqual({ "10.0.0.1:1": 5, "10.0.0.1:2": 5 });

    leaf(1).set(STATE.IDLE);
    expect(picks(control, 10)).toEqual({ "10.0.0.1:2": 10 });
    // Every child stays connected: an IDLE one is asked to connect again.
    expect(leaf(1).exitIdleCalls).toBeGreaterThan(0);
    leaf(2).set(STATE.TRANSIENT_FAILURE);
    // No preferred child READY: the rest, by weight.
    expect(picks(control, 40)).toEqual({ "10.0.0.1:3": 10, "10.0.0.1:4": 30 });
    expect(control.reresolutions).toBeGreaterThan(0);

    leaf(2).set(STATE.READY);
    expect(picks(control, 10)).toEqual({ "10.0.0.1:2": 10 });
  });

  it("keeps its picker when only a child outside the choice changes", () => {
    const { control } = readyPolicy([1, 2, 3], [{ address: "10.0.0.1:1", preferred: true }]);
    const reported = control.reports.length;
    leaf(3).set(STATE.IDLE);
    leaf(3).set(STATE.CONNECTING);
    expect(control.reports).toHaveLength(reported);
    leaf(1).set(STATE.IDLE);
    expect(control.reports).toHaveLength(reported + 1);
  });

  it("reports CONNECTING, then TRANSIENT_FAILURE with the last error, while no child is READY", () => {
    const control = recordingChannel();
    const balancer = new policy.balancer(control);
    balancer.updateAddressList(ok([1, 2]), config(), {}, "");
    expect(control.last).toMatchObject({ state: STATE.CONNECTING, picker: { kind: "queue" } });
    leaf(1).set(STATE.TRANSIENT_FAILURE);
    expect(control.last.state).toBe(STATE.CONNECTING);
    leaf(2).set(STATE.TRANSIENT_FAILURE);
    expect(control.last).toMatchObject({
      state: STATE.TRANSIENT_FAILURE,
      picker: { kind: "unavailable", status: { details: expect.stringContaining("connect refused") } },
    });
    balancer.destroy();
    expect(FakeLeaf.created.every((l) => l.destroyed)).toBe(true);
  });

  it("fails with the resolver's error or an empty list only while it has no children", () => {
    const control = recordingChannel();
    const balancer = new policy.balancer(control);
    const error = { ok: false, error: { code: 14, details: "cannot resolve svc", metadata: null } };
    expect(balancer.updateAddressList(error, config(), {}, "")).toBe(true);
    expect(control.last).toMatchObject({
      state: STATE.TRANSIENT_FAILURE,
      picker: { status: { details: "cannot resolve svc" } },
    });
    balancer.updateAddressList(ok([1]), config(), {}, "");
    leaf(1).set(STATE.READY);
    const reported = control.reports.length;
    balancer.updateAddressList(error, config(), {}, "");
    expect(control.reports).toHaveLength(reported);
    balancer.updateAddressList(ok([]), config(), {}, "emptied");
    expect(control.last).toMatchObject({
      state: STATE.TRANSIENT_FAILURE,
      picker: { status: { details: `${WEIGHTED_POLICY}: no addresses resolved (emptied)` } },
    });
    expect(balancer.getTypeName()).toBe(WEIGHTED_POLICY);
  });
});
