import type { GrpcEndpoint } from "./select.js";

/**
 * Mass-removal protection (Envoy's panic threshold, Nacos's protect threshold): an update that would take
 * more than `maxRemovedShare` of a channel's endpoints away at once is held back for `holdMs`. During the
 * hold the channel keeps the endpoints that update removed, next to whatever the registry holds now (new
 * endpoints are used at once); when the hold ends, or as soon as the removal shrinks back under the share,
 * the registry's set applies as it is. A lost etcd prefix, a bad deploy script or an operator's mistyped
 * delete then does not strand every call at once, while a service emptied on purpose still empties, once,
 * after the hold. A channel with a single endpoint is never held: losing it is not a mass removal.
 */
export interface ProtectionOptions {
  /** The share of a channel's endpoints one update may remove without a hold, 0 to 1 (default 0.5). */
  maxRemovedShare?: number;
  /** How long the removed endpoints are kept, in ms (default 10,000). */
  holdMs?: number;
}

export interface ResolvedProtection {
  maxRemovedShare: number;
  holdMs: number;
}

export const DEFAULT_PROTECTION: ResolvedProtection = { maxRemovedShare: 0.5, holdMs: 10_000 };

/** What a channel is told: its endpoints and their address ids, in the same order. */
export interface EndpointSet {
  endpoints: GrpcEndpoint[];
  ids: string[];
}

/** Why a hold began, as the `protected` event and the log report it. */
export interface HoldStarted {
  removed: number;
  total: number;
  holdMs: number;
}

export interface Guarded extends EndpointSet {
  /** When to look again (the hold's end), if a hold is on. */
  recheckAt?: number;
  /** Set on the update that started a hold. */
  started?: HoldStarted;
  /** Set on the update that ended one. */
  released?: "expired" | "recovered";
}

/** One channel's guard: it remembers what the channel was last told outside a hold. */
export class RemovalGuard {
  /**
   * The set before the hold (or the last one applied): ids and endpoints in the same order, each id once
   * (the selection drops duplicate addresses). Two arrays, not a map: on a large service a first update
   * then costs two array copies rather than a hash table of every address.
   */
  private baseline: { readonly ids: readonly string[]; readonly endpoints: readonly GrpcEndpoint[] } | null =
    null;
  private holdUntil: number | null = null;

  constructor(private readonly settings: ResolvedProtection | null) {}

  /** The set to tell the channel instead of `next`, at time `now`. */
  guard(next: EndpointSet, now: number): Guarded {
    // Without protection there is nothing to remember: no copies on every update of a large service.
    if (this.settings === null) return next;
    const baseline = this.baseline;
    // One endpoint going is not a mass removal: a service of one is emptied as it always was.
    if (baseline === null || baseline.ids.length < 2) return this.accept(next);
    const present = new Set(next.ids);
    const kept: [string, GrpcEndpoint][] = [];
    for (let i = 0; i < baseline.ids.length; i++) {
      const id = baseline.ids[i]!;
      if (!present.has(id)) kept.push([id, baseline.endpoints[i]!]);
    }
    const total = baseline.ids.length;
    const tooMany = kept.length / total > this.settings.maxRemovedShare;

    if (this.holdUntil !== null) {
      if (now >= this.holdUntil) return { ...this.accept(next), released: "expired" };
      if (!tooMany) return { ...this.accept(next), released: "recovered" };
      return { ...union(next, kept), recheckAt: this.holdUntil };
    }
    if (!tooMany) return this.accept(next);
    this.holdUntil = now + this.settings.holdMs;
    return {
      ...union(next, kept),
      recheckAt: this.holdUntil,
      started: { removed: kept.length, total, holdMs: this.settings.holdMs },
    };
  }

  /** Forget everything: the channel starts over (its resolver was destroyed). */
  reset(): void {
    this.baseline = null;
    this.holdUntil = null;
  }

  private accept(next: EndpointSet): EndpointSet {
    this.holdUntil = null;
    // Copies: the arrays themselves go on to the channel.
    this.baseline = { ids: next.ids.slice(), endpoints: next.endpoints.slice() };
    return next;
  }
}

function union(next: EndpointSet, kept: readonly [string, GrpcEndpoint][]): EndpointSet {
  return {
    endpoints: [...next.endpoints, ...kept.map(([, endpoint]) => endpoint)],
    ids: [...next.ids, ...kept.map(([id]) => id)],
  };
}

/** Validates the `protection` option of a registration. */
export function resolveProtection(
  value: ProtectionOptions | false | undefined,
  maxTimerMs: number,
  invalid: (message: string) => Error,
): ResolvedProtection | null {
  if (value === false) return null;
  if (value === undefined) return DEFAULT_PROTECTION;
  if (typeof value !== "object" || value === null) {
    throw invalid(`protection must be an object or false, got ${String(value)}`);
  }
  const share = value.maxRemovedShare ?? DEFAULT_PROTECTION.maxRemovedShare;
  if (typeof share !== "number" || !(share >= 0 && share <= 1)) {
    throw invalid(`protection.maxRemovedShare must be a number from 0 to 1, got ${String(share)}`);
  }
  const holdMs = value.holdMs ?? DEFAULT_PROTECTION.holdMs;
  if (typeof holdMs !== "number" || !(holdMs >= 0 && holdMs <= maxTimerMs)) {
    throw invalid(`protection.holdMs must be a number of ms from 0 to ${maxTimerMs}, got ${String(holdMs)}`);
  }
  return { maxRemovedShare: share, holdMs };
}
