import { etcdPool } from "@etcd-naming/etcd";
import type { Etcd3 } from "etcd3";
import { vi } from "vitest";

/**
 * Spies on the gRPC `KV.txn` of a one-member etcd3 client: every transaction sent to etcd, through
 * `client.kv.txn` or straight to the member (as the endpoint manager does).
 */
export function spyOnTxn(client: Etcd3) {
  const members = etcdPool(client);
  if (members?.members.length !== 1) throw new Error("spyOnTxn needs a client with exactly one host");
  const kv = members.serviceClient(members.members[0]!, "KV") as { txn: (...args: unknown[]) => unknown };
  return vi.spyOn(kv, "txn");
}
