import type { Etcd3 } from "etcd3";
import { vi } from "vitest";

/**
 * Spies on the gRPC `KV.txn` of a one-member etcd3 client: every transaction sent to etcd, through
 * `client.kv.txn` or straight through the connection pool (as the endpoint manager does).
 */
export function spyOnTxn(client: Etcd3) {
  const pool = (client as unknown as { pool: { hosts: { getServiceClient(name: "KV"): object }[] } }).pool;
  if (pool.hosts.length !== 1) throw new Error("spyOnTxn needs a client with exactly one host");
  const kv = pool.hosts[0]!.getServiceClient("KV") as { txn: (...args: unknown[]) => unknown };
  return vi.spyOn(kv, "txn");
}
