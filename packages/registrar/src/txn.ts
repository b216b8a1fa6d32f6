import { keyToBytes } from "@etcd-naming/codec";
import type { Etcd3, IRequestOp, ITxnResponse } from "etcd3";
import { castGrpcError, EtcdInvalidAuthTokenError, isRecoverableError } from "etcd3";
import { etcdRefusal } from "./errors.js";
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

/**
 * Splits `items` into consecutive chunks of at most `size`, and, given `bytes`, of at most `maxBytes`
 * bytes in all (an item larger than that alone gets a chunk of its own).
 */
export function chunk<T>(
  items: readonly T[],
  size: number,
  maxBytes: number = Number.POSITIVE_INFINITY,
  bytes: (item: T) => number = () => 0,
): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size must be >= 1, got ${size}`);
  const out: T[][] = [];
  let current: T[] = [];
  let total = 0;
  for (const item of items) {
    const weight = bytes(item);
    if (current.length > 0 && (current.length >= size || total + weight > maxBytes)) {
      out.push(current);
      current = [];
      total = 0;
    }
    current.push(item);
    total += weight;
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

// The parts of etcd3's connection pool `commitOnce` uses; not public API (etcd3 ^1.1.2), so described here.
interface KvPool {
  readonly callOptionsFactory?: object | ((context: object) => object);
  readonly authenticator?: { invalidateMetadata?(): void };
  withConnection<T>(
    service: "KV",
    fn: (args: { client: Partial<Record<"txn", UnaryCall>>; metadata: unknown }) => Promise<T>,
  ): Promise<T>;
}
type UnaryCall = (
  request: object,
  metadata: unknown,
  options: object,
  callback: (error: Error | null, response?: ITxnResponse) => void,
) => void;

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
  const pool = (client as unknown as { pool?: KvPool }).pool;
  if (typeof pool?.withConnection !== "function") return commit(client, ops);
  const request = { success: ops };
  let lastError: unknown;
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let outcome: { response: ITxnResponse } | { refused: Error };
    try {
      outcome = await pool.withConnection("KV", ({ client: kv, metadata }) => {
        const txn = kv.txn;
        if (txn === undefined) throw new TypeError("etcd3 has no KV.txn");
        const factory = pool.callOptionsFactory;
        const options =
          typeof factory === "function"
            ? factory({ service: "KV", method: "txn", params: request, isStream: false })
            : (factory ?? {});
        return new Promise((resolve, reject) => {
          txn.call(kv, request, metadata, options, (error, response) => {
            if (error === null) {
              resolve({ response: response! });
              return;
            }
            const cast = castGrpcError(error);
            if (etcdRefusal(cast, "") === undefined) reject(cast);
            else resolve({ refused: cast });
          });
        });
      });
    } catch (error) {
      if (error instanceof EtcdInvalidAuthTokenError) {
        pool.authenticator?.invalidateMetadata?.();
      } else if (!(error instanceof Error) || !(isRecoverableError(error) || isBrokenCircuit(error))) {
        throw error;
      }
      lastError = error;
      continue;
    }
    if ("refused" in outcome) throw outcome.refused;
    return outcome.response;
  }
  throw lastError;
}

/** Blocked by a member's open circuit breaker (cockatiel's BrokenCircuitError, not re-exported by etcd3). */
function isBrokenCircuit(error: unknown): boolean {
  return (error as { isBrokenCircuitError?: unknown } | null)?.isBrokenCircuitError === true;
}
