import { randomBytes } from "node:crypto";
import { sweepOrphansOnce } from "./cleanup.js";
import { clusterSize, loopbackPlaces, startMembers } from "./cluster-members.js";
import { EtcdFixtureError } from "./errors.js";
import {
  type EtcdMemberStatus,
  type EtcdRunOptions,
  type EtcdServer,
  validateMemberName,
} from "./etcd-server.js";
import { resolveEtcd } from "./find-etcd.js";
import { resolveTls } from "./tls.js";

/** Options of {@link startEtcdCluster}; the {@link EtcdRunOptions} apply to every member. */
export interface StartEtcdClusterOptions extends EtcdRunOptions {
  /** Number of members, 1–9 (default 3). */
  size?: number;
  /** Member name prefix; members are `<name>-0`, `<name>-1`, ... */
  name?: string;
}

/** A real multi-member etcd cluster on loopback. */
export interface EtcdCluster extends AsyncDisposable {
  readonly members: EtcdServer[];
  /** The etcd release every member runs (`"3.5.30"`). */
  readonly version: string;
  /** Every member's `host:port`, whether running or not. */
  readonly endpoints: string[];
  readonly clientUrls: string[];
  /**
   * The member a majority of the reachable members agree is leader. Waits (up to `timeoutMs`,
   * default 15 000) through an election; paused and stopped members are not asked.
   */
  leader(options?: { timeoutMs?: number }): Promise<EtcdServer>;
  /** Closes every member. Idempotent. */
  close(): Promise<void>;
}

export class LocalEtcdCluster implements EtcdCluster {
  readonly members: EtcdServer[];
  readonly version: string;
  readonly endpoints: string[];
  readonly clientUrls: string[];
  #closing: Promise<void> | undefined;

  constructor(members: EtcdServer[], version: string) {
    this.members = members;
    this.version = version;
    this.endpoints = members.flatMap((m) => m.endpoints);
    this.clientUrls = members.flatMap((m) => m.clientUrls);
  }

  async leader(options: { timeoutMs?: number } = {}): Promise<EtcdServer> {
    const timeoutMs = options.timeoutMs ?? 15_000;
    const deadline = Date.now() + timeoutMs;
    const quorum = Math.floor(this.members.length / 2) + 1;
    let seen = "no member answered";
    for (;;) {
      const asked = this.members.filter((m) => m.running && !m.paused);
      const answers = await Promise.all(
        asked.map((m) =>
          m.status(1000).then(
            (status): [EtcdServer, EtcdMemberStatus] | undefined => [m, status],
            () => undefined,
          ),
        ),
      );
      const statuses = answers.filter((a) => a !== undefined);
      // A member that was paused while leading may still believe it leads for a moment after
      // resuming, so the answer must be one a majority agrees on.
      for (const [member, status] of statuses) {
        if (status.leaderId === "0" || status.leaderId !== status.memberId) continue;
        const votes = statuses.filter(([, s]) => s.leaderId === status.memberId).length;
        if (votes >= quorum) return member;
      }
      if (statuses.length > 0) {
        seen = statuses.map(([m, s]) => `${m.name}→${s.leaderId}`).join(", ");
      }
      if (Date.now() >= deadline) {
        throw new EtcdFixtureError(
          "NO_LEADER",
          `no leader agreed by ${quorum} members within ${timeoutMs}ms (${seen})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all(this.members.map((m) => m.close())).then(() => {});
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts a `size`-member cluster (default 3) with a static `--initial-cluster`; members start in
 * parallel and the promise resolves once every one is healthy.
 *
 * @example
 * ```ts
 * await using cluster = await startEtcdCluster({ size: 3 });
 * await (await cluster.leader()).kill();
 * ```
 */
export async function startEtcdCluster(options: StartEtcdClusterOptions = {}): Promise<EtcdCluster> {
  const size = clusterSize(options);
  const etcd = resolveEtcd({ etcdBin: options.etcdBin, version: options.version });
  const prefix = validateMemberName(options.name ?? `etcd-${randomBytes(3).toString("hex")}`);
  const tls = await resolveTls(options.tls);
  await sweepOrphansOnce();
  const places = await loopbackPlaces(size);
  const members = await startMembers({ prefix, etcd, options, places, tls });
  return new LocalEtcdCluster(members, etcd.version);
}
