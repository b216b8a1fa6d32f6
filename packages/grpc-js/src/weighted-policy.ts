// The weighted policy: a grpc-js load-balancing policy that the resolver selects in its service config when
// endpoints carry weights or the target says `?prefer=`. Like grpc-js's round_robin it keeps one pick_first
// child (grpc-js's LeafLoadBalancer) per endpoint, all connected; unlike it, it keeps those children across
// updates, so a new weight is only a new config to the same policy, and the connections stay. Its picker
// takes turns over the READY children in proportion to their weights (see scheduler.ts), among the
// preferred ones while any of them is READY and among all the READY ones otherwise: fail-over and return
// follow each connection's state at once, without waiting for etcd.
//
// grpc-js's experimental load-balancer API changed shape between releases, and this file is written
// against all of them, detected at run time:
//   - 1.10, 1.11: new (control, channelOptions); updateAddressList(endpoints[], config, attributes);
//   - 1.12:       new (control, credentials, channelOptions); the same updateAddressList;
//   - 1.13:       new (control); updateAddressList(endpoints[], config, channelOptions);
//   - 1.14+:      new (control); updateAddressList(StatusOr<endpoints[]>, config, channelOptions, note).
// LeafLoadBalancer takes (endpoint, control) followed by what the policy's constructor got after the
// control (1.10 to 1.12), or by (channelOptions, note) (1.13+, where 1.13 ignores the note). updateState
// takes a third argument (an error message) from 1.13 on; earlier releases ignore it.
import { addressKey, type SubchannelAddress } from "./address.js";
import { processRegistry } from "./process-registry.js";
import { EdfScheduler } from "./scheduler.js";
import { parseWeightedConfig, WEIGHTED_POLICY, type Weighting, weightingIn } from "./weighting.js";

interface Picker {
  pick(args: unknown): unknown;
}

interface Endpoint {
  addresses: SubchannelAddress[];
}

interface ChannelControl {
  updateState(state: number, picker: Picker, errorMessage?: string | null): void;
  requestReresolution(): void;
}

interface LeafLoadBalancer {
  startConnecting(): void;
  getConnectivityState(): number;
  getPicker(): Picker;
  exitIdle(): void;
  destroy(): void;
}

interface Status {
  code: number;
  details: string;
  metadata?: unknown;
}

/** The parts of grpc-js the policy is built from (every release from 1.10 has them). */
interface LoadBalancerApi {
  experimental: {
    registerLoadBalancerType(name: string, balancer: unknown, config: unknown): void;
    LeafLoadBalancer: new (
      endpoint: Endpoint,
      control: ChannelControl,
      ...rest: unknown[]
    ) => LeafLoadBalancer;
    createChildChannelControlHelper(
      parent: ChannelControl,
      overrides: Partial<ChannelControl>,
    ): ChannelControl;
    QueuePicker: new (balancer: { exitIdle(): void }) => Picker;
    UnavailablePicker: new (status?: Partial<Status>) => Picker;
  };
  connectivityState: { IDLE: number; CONNECTING: number; READY: number; TRANSIENT_FAILURE: number };
}

function loadBalancerApi(grpc: unknown): LoadBalancerApi | null {
  const api = grpc as Partial<LoadBalancerApi> | null;
  const experimental = api?.experimental as Partial<LoadBalancerApi["experimental"]> | undefined;
  const states = api?.connectivityState;
  const functions = [
    experimental?.registerLoadBalancerType,
    experimental?.LeafLoadBalancer,
    experimental?.createChildChannelControlHelper,
    experimental?.QueuePicker,
    experimental?.UnavailablePicker,
  ];
  if (functions.some((f) => typeof f !== "function")) return null;
  if (typeof states !== "object" || states === null || typeof states.READY !== "number") return null;
  return api as LoadBalancerApi;
}

/** A child per endpoint: its pick_first balancer and its weighting under the latest config. */
interface Child {
  readonly leaf: LeafLoadBalancer;
  /** The address key the config names the endpoint by (its first address). */
  readonly address: string;
  weighting: Weighting;
}

/** Takes turns over the chosen children's pickers in proportion to their weights. */
class WeightedPicker implements Picker {
  constructor(private readonly scheduler: EdfScheduler<Picker>) {}
  pick(args: unknown): unknown {
    return this.scheduler.next().pick(args);
  }
}

function endpointKey(endpoint: Endpoint): string {
  return endpoint.addresses.map(addressKey).join(",");
}

function buildPolicy(grpc: LoadBalancerApi) {
  const { LeafLoadBalancer, QueuePicker, UnavailablePicker, createChildChannelControlHelper } =
    grpc.experimental;
  const { IDLE, CONNECTING, READY, TRANSIENT_FAILURE } = grpc.connectivityState;

  class WeightedConfig {
    constructor(
      readonly weightings: ReadonlyMap<string, Weighting> = new Map(),
      private readonly json: object = {},
    ) {}
    getLoadBalancerName(): string {
      return WEIGHTED_POLICY;
    }
    toJsonObject(): object {
      return { [WEIGHTED_POLICY]: this.json };
    }
    static createFromJson(json: unknown): WeightedConfig {
      return new WeightedConfig(parseWeightedConfig(json), (json ?? {}) as object);
    }
  }

  /** A config of this policy made by another registration of it (another copy of this package). */
  const weightingsOf = (config: unknown): ReadonlyMap<string, Weighting> => {
    if (config instanceof WeightedConfig) return config.weightings;
    const json = (config as { toJsonObject?: () => Record<string, unknown> }).toJsonObject?.();
    return parseWeightedConfig(json?.[WEIGHTED_POLICY]);
  };

  class WeightedLoadBalancer {
    private readonly children = new Map<string, Child>();
    private readonly childControl: ChannelControl;
    /** What the constructor got after the control (1.10 to 1.12 pass channel options there). */
    private readonly leafArgs: unknown[];
    private state = IDLE;
    /** The chosen children's pickers and weights behind the current READY picker. */
    private serving: readonly (Picker | number)[] = [];
    private updating = false;
    private lastError: string | null = null;

    constructor(
      private readonly control: ChannelControl,
      ...rest: unknown[]
    ) {
      this.leafArgs = rest;
      this.childControl = createChildChannelControlHelper(control, {
        updateState: (state: number, _picker: Picker, errorMessage?: string | null) => {
          // As round_robin does: a connection that drops asks the resolver for news.
          if (this.state === READY && state !== READY) this.control.requestReresolution();
          if (errorMessage) this.lastError = errorMessage;
          this.updateState();
        },
      });
    }

    updateAddressList(list: unknown, config: unknown, third?: unknown, note?: unknown): boolean {
      let endpoints: Endpoint[];
      if (Array.isArray(list)) {
        endpoints = list as Endpoint[];
      } else {
        const result = list as { ok: true; value: Endpoint[] } | { ok: false; error: Status };
        if (!result.ok) {
          // A failed resolution keeps the endpoints there are; with none, calls fail with its status.
          if (this.children.size === 0) this.report(TRANSIENT_FAILURE, new UnavailablePicker(result.error));
          return true;
        }
        endpoints = result.value;
      }
      const weightings = weightingsOf(config);
      const leafArgs = this.leafArgs.length > 0 ? this.leafArgs : [third ?? {}, note ?? ""];
      const seen = new Set<string>();
      this.updating = true;
      try {
        for (const endpoint of endpoints) {
          const key = endpointKey(endpoint);
          if (seen.has(key) || endpoint.addresses.length === 0) continue;
          seen.add(key);
          const child = this.children.get(key);
          if (child !== undefined) {
            child.weighting = weightingIn(weightings, child.address);
            continue;
          }
          const address = addressKey(endpoint.addresses[0]!);
          const leaf = new LeafLoadBalancer(endpoint, this.childControl, ...leafArgs);
          this.children.set(key, { leaf, address, weighting: weightingIn(weightings, address) });
          leaf.startConnecting();
        }
        for (const [key, child] of this.children) {
          if (seen.has(key)) continue;
          child.leaf.destroy();
          this.children.delete(key);
        }
      } finally {
        this.updating = false;
      }
      if (this.children.size === 0) {
        const why = typeof note === "string" && note !== "" ? ` (${note})` : "";
        const details = `${WEIGHTED_POLICY}: no addresses resolved${why}`;
        this.report(TRANSIENT_FAILURE, new UnavailablePicker({ details }), details);
        return true;
      }
      // The weights may have changed with nothing else: build the picker again.
      this.serving = [];
      this.updateState();
      return true;
    }

    exitIdle(): void {
      for (const { leaf } of this.children.values()) {
        if (leaf.getConnectivityState() === IDLE) leaf.exitIdle();
      }
    }

    resetBackoff(): void {
      // Like round_robin: the pick_first children own their backoff.
    }

    destroy(): void {
      for (const { leaf } of this.children.values()) leaf.destroy();
      this.children.clear();
      this.serving = [];
    }

    getTypeName(): string {
      return WEIGHTED_POLICY;
    }

    /** The state and picker from the children's states (the picker's choice of children is made here). */
    private updateState(): void {
      if (this.updating) return;
      const ready: Child[] = [];
      let preferredReady = 0;
      let connecting = false;
      let failing = false;
      for (const child of this.children.values()) {
        const state = child.leaf.getConnectivityState();
        if (state === READY) {
          ready.push(child);
          if (child.weighting.preferred) preferredReady++;
        } else if (state === CONNECTING) connecting = true;
        else if (state === TRANSIENT_FAILURE) failing = true;
      }
      if (ready.length > 0) {
        // The preferred children while any of them is READY, every READY one otherwise.
        const chosen = preferredReady > 0 ? ready.filter((child) => child.weighting.preferred) : ready;
        const serving = chosen.flatMap((child) => [child.leaf.getPicker(), child.weighting.weight]);
        // Unchanged (a child outside the choice changed state): keep the picker, and its turn order.
        if (this.state !== READY || !sameSequence(serving, this.serving)) {
          this.serving = serving;
          const picker =
            chosen.length === 1
              ? chosen[0]!.leaf.getPicker()
              : new WeightedPicker(
                  new EdfScheduler(
                    chosen.map((child) => ({
                      value: child.leaf.getPicker(),
                      weight: child.weighting.weight,
                    })),
                  ),
                );
          this.report(READY, picker);
        }
      } else if (connecting) {
        this.report(CONNECTING, new QueuePicker(this));
      } else if (failing) {
        const details = `${WEIGHTED_POLICY}: no connection established; last error: ${this.lastError}`;
        this.report(TRANSIENT_FAILURE, new UnavailablePicker({ details }), details);
      } else {
        this.report(IDLE, new QueuePicker(this));
      }
      // Every child stays connected, so that fail-over finds its connections ready (as round_robin does).
      this.exitIdle();
    }

    private report(state: number, picker: Picker, errorMessage: string | null = null): void {
      if (state !== READY) this.serving = [];
      this.state = state;
      this.control.updateState(state, picker, errorMessage);
    }
  }

  return { WeightedLoadBalancer, WeightedConfig };
}

function sameSequence(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Registers the weighted policy into `grpc` (once per grpc-js module, whichever copy of this package asks
 * first: its ESM and CJS builds share the record, see process-registry.ts). False when that module lacks the
 * experimental load-balancer API the policy is built on; the resolver then keeps to round_robin.
 */
export function registerWeightedPolicy(grpc: unknown): boolean {
  const api = loadBalancerApi(grpc);
  if (api === null) return false;
  const { policies } = processRegistry();
  if (!policies.has(api.experimental)) {
    const { WeightedLoadBalancer, WeightedConfig } = buildPolicy(api);
    api.experimental.registerLoadBalancerType(WEIGHTED_POLICY, WeightedLoadBalancer, WeightedConfig);
    policies.add(api.experimental);
  }
  return true;
}
