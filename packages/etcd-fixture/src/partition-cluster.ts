// A cluster whose members can be cut off from their peers while their clients still reach them: each
// member runs in a network namespace of its own (see netns.ts), so a partition is real (packets dropped
// at a link) rather than a paused process.
import { randomBytes } from "node:crypto";
import { sweepOrphansOnce } from "./cleanup.js";
import { clusterSize, startMembers } from "./cluster-members.js";
import { EtcdFixtureError } from "./errors.js";
import type { StartEtcdClusterOptions } from "./etcd-cluster.js";
import { type EtcdCluster, LocalEtcdCluster } from "./etcd-cluster.js";
import type { EtcdProcess } from "./etcd-process.js";
import { type EtcdServer, validateMemberName } from "./etcd-server.js";
import { resolveEtcd } from "./find-etcd.js";
import {
  type ClusterNetwork,
  createClusterNetwork,
  netnsLauncher,
  partitionSupportMissing,
  sweepStaleNamespaces,
} from "./netns.js";

export { partitionSupportMissing } from "./netns.js";

/** Options of {@link startPartitionableCluster} (TLS is not offered on these members). */
export type StartPartitionableClusterOptions = Omit<StartEtcdClusterOptions, "tls">;

/** A cluster whose members can be cut off from their peers; see {@link startPartitionableCluster}. */
export interface PartitionableCluster extends EtcdCluster {
  /** Cuts `member` off from every other member; its clients still reach it. */
  isolate(member: EtcdServer): Promise<void>;
  /** Joins `member` to its peers again. */
  heal(member: EtcdServer): Promise<void>;
  /** Whether `member` is cut off. */
  isolated(member: EtcdServer): boolean;
}

const CLIENT_PORT = 2379;
const PEER_PORT = 2380;

class NamespacedCluster extends LocalEtcdCluster implements PartitionableCluster {
  readonly #network: ClusterNetwork;
  readonly #cut = new Set<EtcdServer>();
  #closed: Promise<void> | undefined;

  constructor(members: EtcdServer[], version: string, network: ClusterNetwork) {
    super(members, version);
    this.#network = network;
  }

  #index(member: EtcdServer): number {
    const index = this.members.indexOf(member);
    if (index < 0)
      throw new EtcdFixtureError("INVALID_OPTIONS", `${member.name} is not a member of this cluster`);
    return index;
  }

  async isolate(member: EtcdServer): Promise<void> {
    await this.#network.setPeerLink(this.#index(member), false);
    this.#cut.add(member);
  }

  async heal(member: EtcdServer): Promise<void> {
    await this.#network.setPeerLink(this.#index(member), true);
    this.#cut.delete(member);
  }

  isolated(member: EtcdServer): boolean {
    return this.#cut.has(member);
  }

  override close(): Promise<void> {
    this.#closed ??= super.close().finally(() => this.#network.close());
    return this.#closed;
  }
}

/**
 * Starts a `size`-member cluster (default 3) in network namespaces: each member listens for clients on
 * an address of its own that the root namespace reaches (`endpoints`, port 2379), and talks to its peers
 * over a bridge in a namespace of its own. Needs root and iproute2; rejects with `NETWORK_UNSUPPORTED`
 * naming what is missing ({@link partitionSupportMissing} asks first). Namespaces left by a run that was
 * killed are removed first; this cluster's are removed by `close()` (and on exit).
 *
 * @example
 * ```ts
 * await using cluster = await startPartitionableCluster();
 * const leader = await cluster.leader();
 * await cluster.isolate(leader); // alive, answering clients, cut off from its peers
 * await cluster.heal(leader);
 * ```
 */
export async function startPartitionableCluster(
  options: StartPartitionableClusterOptions = {},
): Promise<PartitionableCluster> {
  const size = clusterSize(options);
  const missing = await partitionSupportMissing();
  if (missing !== undefined) throw new EtcdFixtureError("NETWORK_UNSUPPORTED", missing);
  const etcd = resolveEtcd({ etcdBin: options.etcdBin, version: options.version });
  const prefix = validateMemberName(options.name ?? `etcd-${randomBytes(3).toString("hex")}`);
  await sweepOrphansOnce();
  await sweepStaleNamespaces();
  const network = await createClusterNetwork(size);
  let members: EtcdProcess[];
  try {
    const places = network.members.map((net) => ({
      clientPort: CLIENT_PORT,
      peerPort: PEER_PORT,
      clientHost: net.clientHost,
      peerHost: net.peerHost,
      launcher: netnsLauncher(net.namespace),
      // Each member has addresses of its own: its ports are never shared.
      ports: { ports: [CLIENT_PORT, PEER_PORT], release: () => {} },
    }));
    members = await startMembers({ prefix, etcd, options, places });
  } catch (error) {
    await network.close();
    throw error;
  }
  return new NamespacedCluster(members, etcd.version, network);
}
