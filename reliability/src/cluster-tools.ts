// What every chaos suite needs around the fixture's cluster: writes that survive elections, member
// look-ups, etcd's watcher gauge, and waits that measure how long they took.
import type { EtcdCluster, EtcdServer } from "@etcd-naming/etcd-fixture";
import { Etcd3, type IOptions } from "etcd3";
import { sleep } from "./chaos-env.js";

/**
 * Members a test cut off from their peers: they answer, but can neither write nor read through a leader,
 * so the test's own writes and reads go elsewhere.
 */
export const cutOff = new Set<EtcdServer>();

export const isHealthy = (member: EtcdServer): boolean =>
  member.running && !member.paused && !cutOff.has(member);

/**
 * Options every client the tools open on a member starts from (the TLS credentials of a TLS cluster's
 * suite); a member without an entry gets a plaintext client.
 */
export const memberClientOptions = new WeakMap<EtcdServer, Omit<IOptions, "hosts">>();

/** The member serving `hostPort` (as reported by a source's `watchHosts`). */
export function memberAt(cluster: EtcdCluster, hostPort: string): EtcdServer {
  const member = cluster.members.find((m) => m.endpoints.includes(hostPort));
  if (member === undefined) throw new Error(`no member serves ${hostPort}`);
  return member;
}

/** One client per member, connected to that member only, created on first use. */
export class MemberClients {
  private readonly clients = new Map<EtcdServer, Etcd3>();

  get(member: EtcdServer): Etcd3 {
    let client = this.clients.get(member);
    if (client === undefined) {
      client = new Etcd3({ ...memberClientOptions.get(member), hosts: member.endpoints, dialTimeout: 1_000 });
      this.clients.set(member, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

/** An acknowledged write and the store revision etcd gave it. */
export interface AckedWrite {
  readonly op: "put" | "delete";
  readonly key: string;
  readonly revision: bigint;
}

/**
 * The test's own writes, sent to a member the test knows to be running (a call to a paused member would
 * hang), each with a deadline and retried through elections. A write that timed out may still have been
 * applied: only etcd's history says what happened, so only acknowledged writes are recorded here.
 */
/** etcd's refusal of a write under an expired or revoked lease. */
export const LEASE_NOT_FOUND = /requested lease not found/;

export class Writer {
  readonly acked: AckedWrite[] = [];
  failedAttempts = 0;
  private readonly clients = new MemberClients();

  constructor(private readonly cluster: EtcdCluster) {}

  private async attempt<T>(
    call: (client: Etcd3, deadline: Date) => Promise<T>,
    deadlineMs = 20_000,
  ): Promise<T> {
    const deadline = Date.now() + deadlineMs;
    for (let i = 0; ; i++) {
      const healthy = this.cluster.members.filter(isHealthy);
      const member = healthy[i % Math.max(1, healthy.length)];
      try {
        if (member === undefined) throw new Error("no running member");
        return await call(this.clients.get(member), new Date(Date.now() + 2_000));
      } catch (error) {
        this.failedAttempts++;
        // A lease that expired before the write landed (a slow write under a short TTL) stays expired.
        if (Date.now() > deadline || LEASE_NOT_FOUND.test(String(error))) throw error;
        await sleep(50);
      }
    }
  }

  async put(key: string, value: string, lease = "0"): Promise<bigint> {
    const res = await this.attempt((c, deadline) =>
      c.kv.put({ key: Buffer.from(key), value: Buffer.from(value), lease }, { deadline }),
    );
    const revision = BigInt(res.header.revision);
    this.acked.push({ op: "put", key, revision });
    return revision;
  }

  async delete(key: string): Promise<bigint | undefined> {
    const res = await this.attempt((c, deadline) =>
      c.kv.deleteRange({ key: Buffer.from(key) }, { deadline }),
    );
    if (String(res.deleted) === "0") return undefined;
    const revision = BigInt(res.header.revision);
    this.acked.push({ op: "delete", key, revision });
    return revision;
  }

  async grant(ttl: number): Promise<string> {
    const res = await this.attempt((c, deadline) =>
      c.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }, { deadline }),
    );
    return String(res.ID);
  }

  async revoke(leaseId: string): Promise<void> {
    await this.attempt(async (c, deadline) => {
      try {
        await c.leaseClient.leaseRevoke({ ID: leaseId }, { deadline });
      } catch (error) {
        if (!/lease not found/i.test(String(error))) throw error;
      }
    });
  }

  async compact(revision: bigint): Promise<void> {
    await this.attempt(async (c, deadline) => {
      try {
        await c.kv.compact({ revision: String(revision), physical: true }, { deadline });
      } catch (error) {
        if (!/compacted/i.test(String(error))) throw error;
      }
    });
  }

  close(): void {
    this.clients.close();
  }
}

/** Sum of one gauge over the running members' `/metrics` (e.g. `etcd_debugging_mvcc_watcher_total`). */
export async function clusterMetric(cluster: EtcdCluster, name: string): Promise<number> {
  let total = 0;
  for (const member of cluster.members.filter(isHealthy)) {
    total += (await member.metrics()).value(name);
  }
  return total;
}

/**
 * Waits until `condition` holds (polling), and returns how long that took. Fails with `describe()`'s
 * account of the last state after `timeoutMs`: deadlines are generous, the time is only reported.
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string | Promise<string> } = {},
): Promise<number> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 20_000;
  for (;;) {
    let held = false;
    try {
      held = await condition();
    } catch {
      held = false;
    }
    if (held) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      const detail = options.describe ? await options.describe() : "";
      throw new Error(`condition not met within ${timeoutMs} ms${detail ? `: ${detail}` : ""}`);
    }
    await sleep(options.intervalMs ?? 50);
  }
}

/** Summary statistics of measured durations, for the report. */
export function summarize(values: readonly number[]): {
  n: number;
  min: number;
  median: number;
  max: number;
} {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { n: sorted.length, min: sorted[0] ?? 0, median: at(0.5), max: sorted[sorted.length - 1] ?? 0 };
}
