import type { Attributes } from "@etcd-naming/codec";

/** The name the weighted policy is registered under in grpc-js. */
export const WEIGHTED_POLICY = "etcd_naming_weighted";

/** The attribute that carries an endpoint's weight. */
export const WEIGHT_ATTRIBUTE = "weight";

/** The largest weight; a larger one is invalid (and counts as 1). */
export const MAX_WEIGHT = 1_000_000;

/**
 * `?prefer=<attribute>:<value>`: the endpoints whose attribute has that value take every call while one of
 * them is ready.
 */
export interface Preference {
  attribute: string;
  value: string;
}

/**
 * One endpoint in the weighted policy's config; an endpoint that is not listed has weight 1 and no
 * preference.
 */
export interface WeightedEndpointConfig {
  /** The endpoint's address as {@link addressKey} writes it (`host:port`, `[v6]:port`, `unix:/path`). */
  address: string;
  /** 1 when absent. */
  weight?: number;
  /** Whether the endpoint matches the channel's `?prefer=`; false when absent. */
  preferred?: boolean;
}

/** The weighted policy's config, as it travels in the service config. */
export interface WeightedPolicyConfig {
  endpoints: WeightedEndpointConfig[];
}

/** How one endpoint is weighted. */
export interface Weighting {
  weight: number;
  preferred: boolean;
}

const DEFAULT_WEIGHTING: Weighting = Object.freeze({ weight: 1, preferred: false });

/** A weight attribute's value: a whole number from 1 to {@link MAX_WEIGHT}, without sign or leading zeros. */
export function parseWeight(text: string): number | null {
  if (!/^[1-9][0-9]{0,6}$/.test(text)) return null;
  const weight = Number(text);
  return weight <= MAX_WEIGHT ? weight : null;
}

/**
 * The weighting of an endpoint with `attributes`: its `weight` (1 when absent; 1 and a call to `invalid`
 * when it is not a valid weight) and whether it matches `prefer`.
 */
export function weightingOf(
  attributes: Attributes,
  prefer: Preference | undefined,
  invalid: (value: string) => void,
): Weighting {
  let weight = 1;
  if (Object.hasOwn(attributes, WEIGHT_ATTRIBUTE)) {
    const text = attributes[WEIGHT_ATTRIBUTE]!;
    const parsed = parseWeight(text);
    if (parsed === null) invalid(text);
    else weight = parsed;
  }
  const preferred =
    prefer !== undefined &&
    Object.hasOwn(attributes, prefer.attribute) &&
    attributes[prefer.attribute] === prefer.value;
  return weight === 1 && !preferred ? DEFAULT_WEIGHTING : { weight, preferred };
}

/** Whether any of `attributes` carries a weight (valid or not). */
export function anyWeighted(attributes: readonly Attributes[]): boolean {
  for (const each of attributes) if (Object.hasOwn(each, WEIGHT_ATTRIBUTE)) return true;
  return false;
}

/**
 * The policy config for endpoints `ids` (address keys) weighted by `weightings` (same order): only the
 * endpoints that differ from weight 1 without preference are listed, so an unweighted service costs
 * nothing per endpoint.
 */
export function weightedConfig(
  ids: readonly string[],
  weightings: readonly Weighting[],
): WeightedPolicyConfig {
  const endpoints: WeightedEndpointConfig[] = [];
  for (let i = 0; i < ids.length; i++) {
    const { weight, preferred } = weightings[i] ?? DEFAULT_WEIGHTING;
    if (weight === 1 && !preferred) continue;
    const entry: WeightedEndpointConfig = { address: ids[i]! };
    if (weight !== 1) entry.weight = weight;
    if (preferred) entry.preferred = true;
    endpoints.push(entry);
  }
  return { endpoints };
}

/**
 * Reads the policy's config from a service config (grpc-js hands it over parsed from JSON). Throws on
 * anything it cannot use, which makes grpc-js reject the config.
 */
export function parseWeightedConfig(json: unknown): Map<string, Weighting> {
  const byAddress = new Map<string, Weighting>();
  if (json === undefined || json === null) return byAddress;
  if (typeof json !== "object" || Array.isArray(json)) throw new Error("the config must be an object");
  const endpoints = (json as { endpoints?: unknown }).endpoints;
  if (endpoints === undefined) return byAddress;
  if (!Array.isArray(endpoints)) throw new Error("endpoints must be an array");
  for (const entry of endpoints as unknown[]) {
    if (typeof entry !== "object" || entry === null) throw new Error("each endpoint must be an object");
    const { address, weight = 1, preferred = false } = entry as Record<string, unknown>;
    if (typeof address !== "string" || address === "") throw new Error("an endpoint needs an address");
    if (typeof weight !== "number" || !Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT) {
      throw new Error(`the weight of ${address} must be a whole number from 1 to ${MAX_WEIGHT}`);
    }
    if (typeof preferred !== "boolean") throw new Error(`preferred of ${address} must be a boolean`);
    byAddress.set(address, { weight, preferred });
  }
  return byAddress;
}

/** The weighting of `address` under a parsed config. */
export function weightingIn(config: ReadonlyMap<string, Weighting>, address: string): Weighting {
  return config.get(address) ?? DEFAULT_WEIGHTING;
}
