// etcd's own history of a key prefix, read back with raw watch streams on one member at a time (no watcher,
// no resumption), so that every update a watcher emitted can be compared with the store at that revision.
// Every revision must bring an event under the root, so a lost event shows as a gap whatever read it.
import { decodeEndpoint, isServiceKey, servicePrefix } from "@etcd-naming/codec";
import {
  MemberRouter,
  openPrefixWatch,
  prefixRangeEnd,
  type RawWatchEvent,
  systemClock,
} from "@etcd-naming/etcd";
import type { EtcdCluster, EtcdServer } from "@etcd-naming/etcd-fixture";
import type { Etcd3 } from "etcd3";
import { sleep } from "./chaos-env.js";
import { isHealthy, MemberClients } from "./cluster-tools.js";

/** One change of the store under the recorded prefix. */
export interface HistoryEvent {
  readonly key: string;
  readonly type: "put" | "delete";
  readonly value: string;
  readonly revision: bigint;
  readonly lease: string;
}

/** A service's valid endpoints at one revision: key → `addr@modRevision`. */
export type EndpointSet = Map<string, string>;

export const describeEndpoint = (addr: string, modRevision: string | bigint): string =>
  `${addr}@${String(modRevision)}`;

/**
 * Every event under `root` since the recorder was created. Each file's cluster holds nothing but keys
 * under `root`, so every store revision has at least one event here: a gap in the revisions read back
 * would be a lost event, and is reported as a broken history rather than silently skipped.
 */
export class History {
  readonly events: HistoryEvent[] = [];
  private last: bigint;
  private readonly clients = new MemberClients();
  private broken: string | undefined;
  /** The last event of each key at or below `baseRevision`, once {@link History.forget} folded them. */
  private readonly base = new Map<string, HistoryEvent>();
  private baseRevision = 0n;

  private constructor(
    private readonly cluster: EtcdCluster,
    readonly root: string,
    startRevision: bigint,
  ) {
    this.last = startRevision;
  }

  /** Starts recording from the store's current revision (the prefix must be empty then). */
  static async start(cluster: EtcdCluster, root: string): Promise<History> {
    const history = new History(cluster, root, 0n);
    history.last = await history.currentRevision();
    return history;
  }

  /** The highest revision whose events are all recorded. */
  get revision(): bigint {
    return this.last;
  }

  private healthyMember(): EtcdServer {
    const healthy = this.cluster.members.filter(isHealthy);
    const member = healthy[Math.floor(Math.random() * healthy.length)];
    if (member === undefined) throw new Error("no running member to read the history from");
    return member;
  }

  /** The store's current revision, read through the leader (retried through elections). */
  async currentRevision(deadlineMs = 30_000): Promise<bigint> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      try {
        const res = await this.clients
          .get(this.healthyMember())
          .kv.range(
            { key: Buffer.from(this.root), count_only: true },
            { deadline: new Date(Date.now() + 2_000) },
          );
        return BigInt(res.header.revision);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(100);
      }
    }
  }

  /** Reads every event up to the store's current revision. Call before compacting. */
  async sync(deadlineMs = 30_000): Promise<bigint> {
    const target = await this.currentRevision(deadlineMs);
    const deadline = Date.now() + deadlineMs;
    while (this.last < target) {
      if (this.broken !== undefined) throw new Error(this.broken);
      if (Date.now() > deadline) {
        throw new Error(`history stuck at revision ${this.last}, store is at ${target}`);
      }
      await this.fetch(target);
    }
    if (this.broken !== undefined) throw new Error(this.broken);
    return target;
  }

  /** One watch from the next revision on one healthy member, until `target` or the first hitch. */
  private fetch(target: bigint): Promise<void> {
    const from = this.last + 1n;
    const client = this.clients.get(this.healthyMember());
    return new Promise<void>((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        // Every hitch ends this watch, and the next fetch starts from our own last revision.
        void cancel();
        resolve();
      };
      const timer = setTimeout(finish, 5_000);
      const cancel = openPrefixWatch(
        {
          router: new MemberRouter(client),
          namespace: Buffer.alloc(0),
          clock: systemClock,
          requireLeader: false,
          progressIntervalMs: 2_000,
          progressTimeoutMs: 3_000,
          open: new Set(),
          counters: { watchesOpened: 0, progressReports: 0 },
        },
        Buffer.from(this.root),
        String(from),
        {
          onConnected: () => {},
          onEvents: (events) => {
            if (done) return;
            this.append(events);
            if (this.last >= target) finish();
          },
          onCompacted: (compactRevision) => {
            this.broken = `history from revision ${from} was compacted (at ${compactRevision}) before it was read`;
            finish();
          },
          onError: finish,
        },
      );
    });
  }

  private append(events: readonly RawWatchEvent[]): void {
    const floor = this.last;
    let previous = floor;
    for (const event of events) {
      const revision = BigInt(event.kv.mod_revision);
      if (revision <= floor) continue;
      if (revision > previous + 1n) {
        this.broken ??= `history has a gap: revision ${previous} is followed by ${revision}`;
      }
      previous = revision;
      this.events.push({
        key: event.kv.key.toString("utf8"),
        type: event.type,
        value: event.kv.value.toString("utf8"),
        revision,
        lease: String(event.kv.lease ?? "0"),
      });
    }
    if (previous > this.last) this.last = previous;
  }

  /** The valid endpoints of `service` as of `revision`, as a watcher should show them. */
  setAt(service: string, revision: bigint): EndpointSet {
    if (revision > this.last) {
      throw new Error(`revision ${revision} is beyond the recorded history (${this.last}); sync first`);
    }
    if (revision < this.baseRevision) {
      throw new Error(`revision ${revision} was forgotten (history kept from ${this.baseRevision})`);
    }
    const set: EndpointSet = new Map();
    for (const event of [...this.base.values(), ...this.events]) {
      if (event.revision > revision) break;
      if (!isServiceKey(service, event.key)) continue;
      const decoded = event.type === "put" ? decodeEndpoint(event.value) : undefined;
      if (decoded?.ok) set.set(event.key, describeEndpoint(decoded.endpoint.addr, event.revision));
      else set.delete(event.key);
    }
    return set;
  }

  /**
   * Folds the events up to `revision` into one state per key, so a long run keeps no more than the
   * store's keys and the events since: `setAt` below `revision`, and `eventsOf` those events, are gone.
   */
  forget(revision: bigint): void {
    const upTo = revision > this.last ? this.last : revision;
    let folded = 0;
    for (const event of this.events) {
      if (event.revision > upTo) break;
      this.base.delete(event.key);
      if (event.type === "put") this.base.set(event.key, event);
      folded++;
    }
    this.events.splice(0, folded);
    if (upTo > this.baseRevision) this.baseRevision = upTo;
  }

  /** The recorded events of one key. */
  eventsOf(key: string): HistoryEvent[] {
    return this.events.filter((e) => e.key === key);
  }

  close(): void {
    this.clients.close();
  }
}

/** The valid endpoints of `service` in etcd right now (a linearizable read), decoded as watchers do. */
export async function etcdEndpoints(client: Etcd3, service: string, retryMs = 15_000): Promise<EndpointSet> {
  // A read right after a fault (a member healed or restarted, a starved machine) can miss its deadline
  // once: the question is what etcd holds, so it is asked again until `retryMs` has passed.
  const giveUpAt = Date.now() + retryMs;
  let res: Awaited<ReturnType<Etcd3["kv"]["range"]>>;
  for (;;) {
    try {
      res = await client.kv.range(
        { key: Buffer.from(servicePrefix(service)), range_end: prefixRangeEnd(servicePrefix(service)) },
        { deadline: new Date(Date.now() + 3_000) },
      );
      break;
    } catch (error) {
      if (Date.now() > giveUpAt) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const set: EndpointSet = new Map();
  for (const kv of res.kvs) {
    const key = kv.key.toString("utf8");
    if (!isServiceKey(service, key)) continue;
    const decoded = decodeEndpoint(kv.value);
    if (decoded.ok) set.set(key, describeEndpoint(decoded.endpoint.addr, kv.mod_revision));
  }
  return set;
}

/** Describes how two endpoint sets differ, or returns undefined when they are equal. */
export function diffSets(actual: EndpointSet, expected: EndpointSet): string | undefined {
  const missing = [...expected].filter(([k, v]) => actual.get(k) !== v).map(([k, v]) => `${k}=${v}`);
  const extra = [...actual].filter(([k, v]) => expected.get(k) !== v).map(([k, v]) => `${k}=${v}`);
  if (missing.length === 0 && extra.length === 0) return undefined;
  return `missing [${missing.join(", ")}] unexpected [${extra.join(", ")}]`;
}
