import { type Attributes, EMPTY_ATTRIBUTES } from "@etcd-naming/codec";
import type { Selected } from "./select.js";
import {
  type PolicyServiceConfig,
  type ResolvedOutlierDetection,
  serviceConfigFor,
} from "./service-config.js";
import type { EtcdTarget, LoadBalancingPolicy } from "./target.js";
import { WEIGHT_ATTRIBUTE, type Weighting, weightedConfig, weightingOf } from "./weighting.js";

/** What decides a channel's policy besides its target. */
export interface PolicyChoiceContext {
  /** The registration's `defaultLoadBalancing`; null when not given (automatic). */
  readonly defaultPolicy: LoadBalancingPolicy | null;
  /** Whether the weighted policy is registered in this grpc-js. */
  readonly weightedPolicy: boolean;
  /** The channel's outlier detection, null when off. */
  readonly outlier: ResolvedOutlierDetection | null;
  /** The channel's own `grpc.service_config` decides: the resolver sends none. */
  readonly channelWins: boolean;
  /** An endpoint's weight attribute is not a valid weight (it counts as 1). */
  invalidWeight(key: string, value: string): void;
  /** The weighted policy was wanted, and this grpc-js cannot run it: round_robin is used. */
  weightedUnavailable(): void;
}

interface Entry {
  readonly weighting: Weighting;
  /** Whether the endpoint has a weight attribute at all (valid or not). */
  readonly weighted: boolean;
}

const UNWEIGHTED: Entry = { weighting: { weight: 1, preferred: false }, weighted: false };

/**
 * The service config of one channel, from its target, the registration's default and its endpoints:
 *   - the channel's own `grpc.service_config` wins (none is sent);
 *   - `?lb=` on the target, else `?prefer=` (which needs the weighted policy), else the registration's
 *     `defaultLoadBalancing`, names the policy;
 *   - with none of them the choice is automatic: the weighted policy while any endpoint of the channel
 *     carries a `weight` attribute, round_robin otherwise.
 * The weighted policy's config lists each endpoint's weight and whether it matches `?prefer=`, so a new
 * weight is only a new config for the same policy.
 */
export class PolicyChoice {
  /** Whether `forEndpoints` needs the endpoints' attributes. */
  readonly needsAttributes: boolean;
  readonly #mode: "none" | "fixed" | "weighted" | "automatic";
  readonly #fixed: PolicyServiceConfig | null;
  readonly #target: EtcdTarget;
  readonly #context: PolicyChoiceContext;
  /** The endpoints last told to the channel and their entries: what a protection hold keeps. */
  #last: { ids: readonly string[]; entries: readonly Entry[] } | null = null;

  constructor(target: EtcdTarget, context: PolicyChoiceContext) {
    this.#target = target;
    this.#context = context;
    const policy = target.policy ?? (target.prefer === undefined ? context.defaultPolicy : "weighted");
    this.#mode = context.channelWins
      ? "none"
      : policy === null
        ? "automatic"
        : policy === "weighted"
          ? "weighted"
          : "fixed";
    const fixed = this.#mode === "fixed" ? (policy as LoadBalancingPolicy) : "round_robin";
    this.#fixed = context.channelWins ? null : serviceConfigFor(fixed, context.outlier);
    this.needsAttributes = this.#mode === "weighted" || this.#mode === "automatic";
  }

  /** The config to send along a failure, before any endpoint is known. */
  get base(): PolicyServiceConfig | null {
    if (this.#mode !== "weighted" || !this.#context.weightedPolicy) return this.#fixed;
    return serviceConfigFor("weighted", this.#context.outlier);
  }

  /** Forgets the endpoints (the channel starts over). */
  reset(): void {
    this.#last = null;
  }

  /**
   * The config for the endpoints `ids` told to the channel, which are `selected`'s, plus any that a
   * protection hold keeps (weighted as they last were); and a text that differs whenever the config does.
   */
  forEndpoints(
    selected: Selected,
    ids: readonly string[],
  ): { config: PolicyServiceConfig | null; signature: string } {
    if (!this.needsAttributes) return { config: this.#fixed, signature: "" };
    const entries = this.#entries(selected, ids);
    this.#last = { ids, entries };
    const weighted = this.#mode === "weighted" || entries.some((entry) => entry.weighted);
    if (!weighted) return { config: this.#fixed, signature: "" };
    if (!this.#context.weightedPolicy) {
      this.#context.weightedUnavailable();
      return { config: this.#fixed, signature: "" };
    }
    const policyConfig = weightedConfig(
      ids,
      entries.map((entry) => entry.weighting),
    );
    return {
      config: serviceConfigFor("weighted", this.#context.outlier, policyConfig),
      signature: `weighted:${JSON.stringify(policyConfig.endpoints)}:`,
    };
  }

  #entries(selected: Selected, ids: readonly string[]): Entry[] {
    const attributes = selected.attributes ?? [];
    const prefer = this.#target.prefer;
    const entryOf = (i: number): Entry => {
      const own: Attributes = attributes[i] ?? EMPTY_ATTRIBUTES;
      const weighted = Object.hasOwn(own, WEIGHT_ATTRIBUTE);
      if (!weighted && prefer === undefined) return UNWEIGHTED;
      const key = selected.keys[i] ?? "";
      return {
        weighting: weightingOf(own, prefer, (value) => this.#context.invalidWeight(key, value)),
        weighted,
      };
    };
    const fresh = selected.ids.map((_, i) => entryOf(i));
    // The usual case: the channel is told exactly the selection.
    if (ids === selected.ids) return fresh;
    // A hold keeps endpoints the registry no longer has: as they were last told.
    const byId = new Map<string, Entry>();
    const last = this.#last;
    if (last !== null) for (let i = 0; i < last.ids.length; i++) byId.set(last.ids[i]!, last.entries[i]!);
    for (let i = 0; i < selected.ids.length; i++) byId.set(selected.ids[i]!, fresh[i]!);
    return ids.map((id) => byId.get(id) ?? UNWEIGHTED);
  }
}
