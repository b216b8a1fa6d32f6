// A stand-in for grpc-js's experimental load-balancer API, enough to drive the weighted policy without a
// channel: leaves whose connectivity a test sets, pickers that name their leaf, and a channel control that records
// every state the policy reports.

export const STATE = { IDLE: 0, CONNECTING: 1, READY: 2, TRANSIENT_FAILURE: 3, SHUTDOWN: 4 } as const;

export interface FakePicker {
  pick(args: unknown): unknown;
  readonly kind: "leaf" | "queue" | "unavailable" | "policy";
  readonly status?: { details?: string } | undefined;
}

interface Control {
  updateState(state: number, picker: FakePicker, errorMessage?: string | null): void;
  requestReresolution(): void;
}

/** A pick_first child whose state the test sets with `set()`. */
export class FakeLeaf {
  static created: FakeLeaf[] = [];
  state: number = STATE.IDLE;
  picker: FakePicker;
  destroyed = false;
  exitIdleCalls = 0;
  readonly rest: unknown[];

  constructor(
    readonly endpoint: { addresses: { host?: string; port?: number; path?: string }[] },
    private readonly control: Control,
    ...rest: unknown[]
  ) {
    this.rest = rest;
    this.picker = this.leafPicker();
    FakeLeaf.created.push(this);
  }

  get address(): string {
    const [first] = this.endpoint.addresses;
    return first?.path ?? `${first?.host}:${first?.port}`;
  }

  private leafPicker(): FakePicker {
    const address = this.address;
    return { kind: "leaf", pick: () => address };
  }

  /** Moves to `state` and tells the policy, as pick_first does (a new picker when READY). */
  set(state: number): void {
    this.state = state;
    if (state === STATE.READY) this.picker = this.leafPicker();
    this.control.updateState(
      state,
      this.picker,
      state === STATE.TRANSIENT_FAILURE ? "connect refused" : null,
    );
  }

  startConnecting(): void {
    this.set(STATE.CONNECTING);
  }
  getConnectivityState(): number {
    return this.state;
  }
  getPicker(): FakePicker {
    return this.picker;
  }
  exitIdle(): void {
    this.exitIdleCalls++;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

export interface Registered {
  balancer: new (
    control: Control,
    ...rest: unknown[]
  ) => {
    updateAddressList(list: unknown, config: unknown, third?: unknown, note?: unknown): boolean;
    exitIdle(): void;
    destroy(): void;
    getTypeName(): string;
  };
  config: { createFromJson(json: unknown): { getLoadBalancerName(): string; toJsonObject(): object } };
}

export function fakeBalancerApi() {
  const registered = new Map<string, Registered>();
  return {
    registered,
    experimental: {
      registerLoadBalancerType(name: string, balancer: unknown, config: unknown) {
        registered.set(name, { balancer, config } as Registered);
      },
      LeafLoadBalancer: FakeLeaf,
      createChildChannelControlHelper(parent: Control, overrides: Partial<Control>): Control {
        return {
          updateState: overrides.updateState ?? parent.updateState.bind(parent),
          requestReresolution: overrides.requestReresolution ?? parent.requestReresolution.bind(parent),
        };
      },
      QueuePicker: class implements FakePicker {
        readonly kind = "queue" as const;
        pick() {
          return "queue";
        }
      },
      UnavailablePicker: class implements FakePicker {
        readonly kind = "unavailable" as const;
        constructor(readonly status?: { details?: string }) {}
        pick() {
          return "unavailable";
        }
      },
    },
    connectivityState: STATE,
  };
}

/** A channel's side of the policy: every state and picker it reported, and re-resolution requests. */
export function recordingChannel() {
  const reports: { state: number; picker: FakePicker; errorMessage: string | null | undefined }[] = [];
  let reresolutions = 0;
  return {
    reports,
    get reresolutions() {
      return reresolutions;
    },
    get last() {
      return reports[reports.length - 1]!;
    },
    updateState(state: number, picker: FakePicker, errorMessage?: string | null) {
      reports.push({ state, picker, errorMessage });
    },
    requestReresolution() {
      reresolutions++;
    },
  };
}
