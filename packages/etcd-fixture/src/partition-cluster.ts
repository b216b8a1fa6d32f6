// A cluster whose members can be cut off from their peers while their clients still reach them: each
// member runs in a network namespace of its own (see netns.ts), so a partition is real (packets dropped
// at a link) rather than a paused process.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { sweepOrphansOnce, unregisterDataDir } from "./cleanup.js";
import { EtcdFixtureError } from "./errors.js";
import type { StartEtcdClusterOptions } from "./etcd-cluster.js";
import { CLUSTER_TIMING, type EtcdCluster, LocalEtcdCluster } from "./etcd-cluster.js";
import { EtcdProcess } from "./etcd-process.js";
import { createDataDir, type EtcdServer, etcdEnv, validateMemberName } from "./etcd-server.js";
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
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1 || size > 9) {
    throw new EtcdFixtureError("INVALID_OPTIONS", `cluster size must be an integer from 1 to 9, got ${size}`);
  }
  const missing = await partitionSupportMissing();
  if (missing !== undefined) throw new EtcdFixtureError("NETWORK_UNSUPPORTED", missing);
  const etcd = resolveEtcd({ etcdBin: options.etcdBin, version: options.version });
  const prefix = validateMemberName(options.name ?? `etcd-${randomBytes(3).toString("hex")}`);
  await sweepOrphansOnce();
  await sweepStaleNamespaces();
  const network = await createClusterNetwork(size);
  const dataDirs: string[] = [];
  const members: EtcdProcess[] = [];
  try {
    const initialCluster = network.members
      .map((m, i) => `${prefix}-${i}=http://${m.peerHost}:${PEER_PORT}`)
      .join(",");
    const clusterToken = `etcd-naming-${randomBytes(6).toString("hex")}`;
    const env = etcdEnv(options.env);
    for (let i = 0; i < size; i++) {
      const net = network.members[i]!;
      const dataDir = await createDataDir();
      dataDirs.push(dataDir);
      members.push(
        new EtcdProcess({
          name: `${prefix}-${i}`,
          bin: etcd.path,
          version: etcd.version,
          dataDir,
          clientPort: CLIENT_PORT,
          peerPort: PEER_PORT,
          clientHost: net.clientHost,
          peerHost: net.peerHost,
          launcher: netnsLauncher(net.namespace),
          initialCluster,
          clusterToken,
          defaultArgs: CLUSTER_TIMING,
          args: options.args ?? [],
          env,
          startTimeoutMs: options.startTimeoutMs ?? 30_000,
          logBufferBytes: options.logBufferBytes ?? 256 * 1024,
          // Each member has addresses of its own: its ports are never shared.
          ports: { ports: [CLIENT_PORT, PEER_PORT], release: () => {} },
        }),
      );
    }
    await Promise.all(members.map((m) => m.start()));
  } catch (error) {
    await Promise.all(members.map((m) => m.close()));
    for (const dir of dataDirs.slice(members.length)) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      unregisterDataDir(dir);
    }
    await network.close();
    throw error;
  }
  return new NamespacedCluster(members, etcd.version, network);
}
