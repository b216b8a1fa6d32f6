// The members of a cluster with a static `--initial-cluster`, as startEtcdCluster, startTlsCluster and
// startPartitionableCluster build them: one place (ports, addresses) each, one EtcdProcess each, started
// together.
import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import { unregisterDataDir } from "./cleanup.js";
import { EtcdFixtureError } from "./errors.js";
import { EtcdProcess, type MemberSpec } from "./etcd-process.js";
import { createDataDir, type EtcdRunOptions, etcdEnv } from "./etcd-server.js";
import type { EtcdBinary } from "./find-etcd.js";
import { type PortReservation, reservePorts } from "./ports.js";

// Shorter than etcd's 100/1000 ms defaults so a killed leader is replaced within about a
// second, yet far above loopback latency so a loaded two-core CI box does not flap.
export const CLUSTER_TIMING: string[] = ["--heartbeat-interval=50", "--election-timeout=750"];

/** Where one member listens, and the reservation its process releases on close. */
export type MemberPlace = Pick<
  MemberSpec,
  "clientPort" | "peerPort" | "ports" | "clientHost" | "peerHost" | "launcher"
>;

/** The cluster size of `options`: 1–9, default 3. */
export function clusterSize(options: { size?: number }): number {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1 || size > 9) {
    throw new EtcdFixtureError("INVALID_OPTIONS", `cluster size must be an integer from 1 to 9, got ${size}`);
  }
  return size;
}

/** `size` places on 127.0.0.1, each with a client and a peer port reserved; none are kept on failure. */
export async function loopbackPlaces(size: number): Promise<MemberPlace[]> {
  const reservations: PortReservation[] = [];
  try {
    for (let i = 0; i < size; i++) reservations.push(await reservePorts(2));
  } catch (error) {
    for (const r of reservations) r.release();
    throw error;
  }
  return reservations.map((r) => ({ clientPort: r.ports[0]!, peerPort: r.ports[1]!, ports: r }));
}

/** What {@link startMembers} builds the members from. */
export interface ClusterMembersSpec {
  /** Members are `<prefix>-0`, `<prefix>-1`, ... */
  prefix: string;
  etcd: EtcdBinary;
  options: Pick<EtcdRunOptions, "args" | "env" | "startTimeoutMs" | "logBufferBytes">;
  /** One place a member. */
  places: MemberPlace[];
  tls?: MemberSpec["tls"];
  /** TLS flags for the peer ports; with them the peer URLs in `--initial-cluster` are https. */
  peerTlsArgs?: string[];
}

/**
 * Creates one member a place and starts them all together (none can elect a leader before a quorum is
 * up), resolving once every one is healthy. On failure every member is closed and every place released
 * before the error is thrown again.
 */
export async function startMembers(spec: ClusterMembersSpec): Promise<EtcdProcess[]> {
  const { prefix, etcd, options, places } = spec;
  const dataDirs: string[] = [];
  const members: EtcdProcess[] = [];
  try {
    const scheme = spec.peerTlsArgs === undefined ? "http" : "https";
    const initialCluster = places
      .map((p, i) => `${prefix}-${i}=${scheme}://${p.peerHost ?? "127.0.0.1"}:${p.peerPort}`)
      .join(",");
    const clusterToken = `etcd-naming-${randomBytes(6).toString("hex")}`;
    const env = etcdEnv(options.env);
    for (const [i, place] of places.entries()) {
      const dataDir = await createDataDir();
      dataDirs.push(dataDir);
      members.push(
        new EtcdProcess({
          name: `${prefix}-${i}`,
          bin: etcd.path,
          version: etcd.version,
          dataDir,
          ...place,
          initialCluster,
          clusterToken,
          defaultArgs: CLUSTER_TIMING,
          args: options.args ?? [],
          env,
          startTimeoutMs: options.startTimeoutMs ?? 30_000,
          logBufferBytes: options.logBufferBytes ?? 256 * 1024,
          tls: spec.tls,
          ...(spec.peerTlsArgs === undefined ? {} : { peerTlsArgs: spec.peerTlsArgs }),
        }),
      );
    }
    await Promise.all(members.map((m) => m.start()));
  } catch (error) {
    await Promise.all(members.map((m) => m.close()));
    // Resources reserved before their member object existed.
    for (const p of places.slice(members.length)) p.ports.release();
    for (const dir of dataDirs.slice(members.length)) {
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      unregisterDataDir(dir);
    }
    throw error;
  }
  return members;
}
