import { type Attributes, metadataAttributes } from "@etcd-naming/codec";
import type { SubchannelAddress } from "./address.js";
import { AddressCache, isDialable } from "./address-cache.js";
import type { RendezvousSubset } from "./subset.js";

/** One registered endpoint as the watcher reports it. */
export interface RegisteredEndpoint {
  key: string;
  addr: string;
  metadata: unknown;
  /** The attributes read from `metadata`, when the watcher already has them (otherwise read here). */
  attributes?: Attributes | undefined;
}

/** An endpoint in grpc-js's shape: one per registered key. */
export interface GrpcEndpoint {
  addresses: SubchannelAddress[];
}

/** What to keep from a service's registered endpoints. */
export interface Selection {
  filters: Readonly<Record<string, string>>;
  subset?: RendezvousSubset | undefined;
  subsetSize?: number | undefined;
  /** Keep keys at most this many levels below `prefix` (`?depth=`); every key when undefined. */
  depth?: { prefix: string; levels: number } | undefined;
  /** Called for every endpoint whose address cannot be dialled. */
  onInvalidAddress?: ((key: string, addr: string) => void) | undefined;
  /** Also return each kept endpoint's attributes (for weights and `?prefer=`). */
  withAttributes?: boolean | undefined;
  /** Where parsed addresses are kept between selections (default: one shared by every caller without one). */
  addresses?: AddressCache | undefined;
  /** The endpoints are known to be in key order (a watcher's snapshot): they are not checked. */
  inKeyOrder?: boolean | undefined;
}

/** The endpoints kept, in key order: their keys, grpc-js endpoints and address ids, in the same order. */
export interface Selected {
  keys: string[];
  endpoints: GrpcEndpoint[];
  ids: string[];
  /** Each endpoint's attributes, when the selection asked for them. */
  attributes?: Attributes[];
}

/**
 * Whether `metadata` satisfies every filter. A filter `zone=a` keeps an endpoint whose attributes have
 * `zone` equal to "a", in either metadata form (`metadataAttributes` of the codec): the attribute string
 * (`"zone=a;weight=3"`) or a JSON object's own field (numbers and booleans compare by their text, so
 * `weight=3` matches 3). Other metadata (`null`, arrays, a string that is not an attribute string) never
 * matches a filter.
 */
export function matchesFilters(metadata: unknown, filters: Readonly<Record<string, string>>): boolean {
  if (Object.keys(filters).length === 0) return true;
  return matchesAttributes(metadataAttributes(metadata).attributes, filters);
}

/** Whether `attributes` (null prototype, as the codec and the watcher give them) satisfy every filter. */
function matchesAttributes(attributes: Attributes, filters: Readonly<Record<string, string>>): boolean {
  for (const name in filters) {
    // Own properties only: a registered value must never reach Object.prototype lookups.
    if (!Object.hasOwn(attributes, name) || attributes[name] !== filters[name]) return false;
  }
  return true;
}

/** The cache of selections that bring none (each service view has its own). */
const defaultCache = new AddressCache();

/** How many levels below `prefix` a key is: `svc/a` is 1 below `svc/`, `svc/sub/a` is 2. */
function levelsBelow(key: string, prefix: string): number {
  let levels = 1;
  for (let i = key.indexOf("/", prefix.length); i !== -1; i = key.indexOf("/", i + 1)) levels++;
  return levels;
}

const keyOrder = (a: RegisteredEndpoint, b: RegisteredEndpoint): number =>
  a.key < b.key ? -1 : a.key > b.key ? 1 : 0;

function inKeyOrder(endpoints: readonly RegisteredEndpoint[]): boolean {
  for (let i = 1; i < endpoints.length; i++) if (endpoints[i - 1]!.key > endpoints[i]!.key) return false;
  return true;
}

/**
 * Turns a service's registered endpoints into grpc-js endpoints: filters on metadata, drops undiallable
 * and duplicate addresses (the first key in key order wins), then applies the subset. The result is in
 * key order, so equal inputs give equal outputs. A watcher's snapshot is already in key order (the
 * watcher sorts its set once per change) and is used as it is; any other input is sorted first.
 */
export function selectEndpoints(endpoints: readonly RegisteredEndpoint[], selection: Selection): Selected {
  const sorted =
    selection.inKeyOrder === true || inKeyOrder(endpoints) ? endpoints : [...endpoints].sort(keyOrder);
  // One pass: each kept endpoint goes straight into the three lists, its grpc-js endpoint made once per
  // address text by the cache.
  const keys: string[] = [];
  const chosen: GrpcEndpoint[] = [];
  const ids: string[] = [];
  const attributes: Attributes[] | undefined = selection.withAttributes ? [] : undefined;
  const cache = selection.addresses ?? defaultCache;
  cache.begin(sorted.length);
  const depth = selection.depth;
  const filtered = Object.keys(selection.filters).length > 0;
  for (const endpoint of sorted) {
    if (depth !== undefined && levelsBelow(endpoint.key, depth.prefix) > depth.levels) continue;
    let own: Attributes | undefined;
    if (filtered) {
      own = endpoint.attributes ?? metadataAttributes(endpoint.metadata).attributes;
      if (!matchesAttributes(own, selection.filters)) continue;
    }
    const known = cache.lookup(endpoint.addr);
    if (!isDialable(known)) {
      selection.onInvalidAddress?.(endpoint.key, endpoint.addr);
      continue;
    }
    if (!cache.keep(known)) continue;
    keys.push(endpoint.key);
    chosen.push(known.endpoint);
    ids.push(known.id);
    attributes?.push(own ?? endpoint.attributes ?? metadataAttributes(endpoint.metadata).attributes);
  }
  cache.end();
  if (selection.subset !== undefined && selection.subsetSize !== undefined) {
    const picked = new Set(selection.subset.select(keys, selection.subsetSize));
    const kept: Selected = { keys: [], endpoints: [], ids: [] };
    const keptAttributes: Attributes[] | undefined = attributes && [];
    for (let i = 0; i < keys.length; i++) {
      if (!picked.has(keys[i]!)) continue;
      kept.keys.push(keys[i]!);
      kept.endpoints.push(chosen[i]!);
      kept.ids.push(ids[i]!);
      keptAttributes?.push(attributes![i]!);
    }
    if (keptAttributes !== undefined) kept.attributes = keptAttributes;
    return kept;
  }
  const result: Selected = { keys, endpoints: chosen, ids };
  if (attributes !== undefined) result.attributes = attributes;
  return result;
}
