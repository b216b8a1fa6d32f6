import { keyToBytes } from "@etcd-naming/codec";
import { deadlineIn, etcdPool, type MemberRouter, unaryCall } from "@etcd-naming/etcd";
import type { Etcd3, IRequestOp, ITxnResponse } from "etcd3";
import { etcdRefusal } from "./errors.js";

/** Keys are key strings (see `keyFromBytes` in the codec): written as the exact bytes they stand for. */
export function putOp(key: string, value: string, lease: string | undefined): IRequestOp {
  return {
    request_put: {
      key: Buffer.from(keyToBytes(key)),
      value: Buffer.from(value),
      ...(lease === undefined ? {} : { lease }),
    },
  };
}

export function deleteOp(key: string): IRequestOp {
  return { request_delete_range: { key: Buffer.from(keyToBytes(key)) } };
}

/**
 * Splits `items` into consecutive chunks of at most `size` (counting each item as `count(item)`, 1 by
 * default: the operations it becomes), and, given `bytes`, of at most `maxBytes` bytes in all (an item
 * larger than that alone gets a chunk of its own).
 */
export function chunk<T>(
  items: readonly T[],
  size: number,
  maxBytes: number = Number.POSITIVE_INFINITY,
  bytes: (item: T) => number = () => 0,
  count: (item: T) => number = () => 1,
): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be >= 1, got ${size}`);
  const out: T[][] = [];
  let current: T[] = [];
  let total = 0;
  let ops = 0;
  for (const item of items) {
    const weight = bytes(item);
    const n = count(item);
    if (current.length > 0 && (ops + n > size || total + weight > maxBytes)) {
      out.push(current);
      current = [];
      total = 0;
      ops = 0;
    }
    current.push(item);
    total += weight;
    ops += n;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/**
 * The most key and value bytes the lease keeper puts in one transaction: well under etcd's default
 * `--max-request-bytes` (1.5 MiB), which refuses the whole transaction. A value is at most 64 KiB.
 */
export const MAX_TXN_BYTES: number = 1024 * 1024;

/**
 * Applies `ops` in one unconditional transaction (the Go manager's `Txn().Then(ops...)`). With a `router`
 * it goes through it, which chooses the member and abandons a call that outlives `deadlineMs`.
 */
export function commit(
  client: Etcd3,
  ops: IRequestOp[],
  deadlineMs?: number,
  router?: MemberRouter,
): Promise<ITxnResponse> {
  const request = { success: ops };
  if (deadlineMs !== undefined && router !== undefined) {
    return router.call("KV", "txn", request, deadlineMs, (options) => client.kv.txn(request, options));
  }
  return client.kv.txn(request, deadlineMs === undefined ? undefined : { deadline: deadlineIn(deadlineMs) });
}

/** etcd3's global retry makes three attempts; so does `commitOnce` for a member that did not answer. */
const ATTEMPTS = 3;

/**
 * Applies `ops` in one unconditional transaction, as `commit` does without a deadline, but takes an
 * error etcd answered with (see `etcdRefusal`) as the member's answer rather than its failure. Through
 * etcd3's own call, RESOURCE_EXHAUSTED (etcd's answer to a request beyond its size limit) counts as a
 * failure of the member: the request is sent three times, the member's channels are closed and its
 * circuit breaker opens, so one oversized update would fail every call of the client for seconds.
 * Rejects with etcd's error: the caller maps it to a `RegistrarError`.
 */
export async function commitOnce(client: Etcd3, ops: IRequestOp[]): Promise<ITxnResponse> {
  const members = etcdPool(client);
  if (members === undefined) return commit(client, ops);
  const outcome = await unaryCall<ITxnResponse>(
    members,
    "KV",
    "txn",
    { success: ops },
    {
      attempts: ATTEMPTS,
      isAnswer: (error) => etcdRefusal(error, "") !== undefined,
    },
  );
  if ("answer" in outcome) throw outcome.answer;
  return outcome.response;
}
