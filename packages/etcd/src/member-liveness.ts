import type { Member } from "./etcd3-pool.js";
import type { PrefixWatchContext, PrefixWatchError } from "./prefix-watch.js";

/**
 * What the watches of one context on one member share for their liveness check. An answer on any of them
 * proves the member alive for all, so at rest one question goes to a member per interval instead of one
 * per watch (500 services watched from one process asked 250 times a second).
 */
export interface MemberLiveness {
  /** When any watch on the member last heard from it. */
  heard: number;
  /** When a watch last asked it for a progress report. */
  asked: number;
  /** Fails a watch on the member as silent: each open watch's own. */
  readonly watches: Set<(error: PrefixWatchError) => void>;
}

const liveness = new WeakMap<PrefixWatchContext, Map<Member, MemberLiveness>>();

export function livenessOf(context: PrefixWatchContext, member: Member): MemberLiveness {
  let byMember = liveness.get(context);
  if (byMember === undefined) {
    byMember = new Map();
    liveness.set(context, byMember);
  }
  let shared = byMember.get(member);
  if (shared === undefined) {
    shared = { heard: 0, asked: Number.NEGATIVE_INFINITY, watches: new Set() };
    byMember.set(member, shared);
  }
  return shared;
}

export function leave(
  context: PrefixWatchContext,
  member: Member,
  watch: (error: PrefixWatchError) => void,
): void {
  const byMember = liveness.get(context);
  const shared = byMember?.get(member);
  if (shared === undefined) return;
  shared.watches.delete(watch);
  if (shared.watches.size === 0) byMember!.delete(member);
}
