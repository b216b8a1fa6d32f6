import { keyToBytes } from "@etcd-naming/codec";
import type { Etcd3, IRequestOp, ITxnResponse } from "etcd3";
import type { KeepAliveStreams } from "./keepalive-streams.js";

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

/** Splits `items` into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be >= 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Applies `ops` in one unconditional transaction (the Go manager's `Txn().Then(ops...)`). With `streams`
 * it goes through them, which choose the member and abandon a call that outlives `deadlineMs`.
 */
export function commit(
  client: Etcd3,
  ops: IRequestOp[],
  deadlineMs?: number,
  streams?: KeepAliveStreams,
): Promise<ITxnResponse> {
  const request = { success: ops };
  if (deadlineMs !== undefined && streams !== undefined) {
    return streams.call("KV", "txn", request, deadlineMs, (options) => client.kv.txn(request, options));
  }
  return client.kv.txn(
    request,
    deadlineMs === undefined ? undefined : { deadline: new Date(Date.now() + deadlineMs) },
  );
}
