import type { Etcd3, IRequestOp, ITxnResponse } from "etcd3";

export function putOp(key: string, value: string, lease: string | undefined): IRequestOp {
  return {
    request_put: {
      key: Buffer.from(key),
      value: Buffer.from(value),
      ...(lease === undefined ? {} : { lease }),
    },
  };
}

export function deleteOp(key: string): IRequestOp {
  return { request_delete_range: { key: Buffer.from(key) } };
}

/** Splits `items` into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be >= 1, got ${size}`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Applies `ops` in one unconditional transaction (the Go manager's `Txn().Then(ops...)`). */
export function commit(client: Etcd3, ops: IRequestOp[], deadlineMs?: number): Promise<ITxnResponse> {
  return client.kv.txn(
    { success: ops },
    deadlineMs === undefined ? undefined : { deadline: new Date(Date.now() + deadlineMs) },
  );
}
