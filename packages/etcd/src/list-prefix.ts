import type { IKeyValue, IRangeRequest, Namespace } from "etcd3";
import { GRPCResourceExhastedError } from "etcd3";
import { type UnaryOutcome, unaryCall } from "./calls.js";
import { deadlineIn } from "./clock.js";
import { type EtcdPool, etcdPool, namespacePrefix } from "./etcd3-pool.js";
import { prefixRangeEnd } from "./prefix-range.js";

/** Options of {@link PrefixLister}. */
export interface PrefixListerOptions {
  /** Keys per range page (default 1,000; at least 1, since etcd reads a limit of 0 as "no limit"). */
  pageSize?: number;
  /** Deadline of each page, in ms (default: the client's `defaultCallOptions` decide). */
  timeoutMs?: number;
  /** Attempts per page for a transient error (default 1); see `UnaryCallOptions.attempts`. */
  attempts?: number;
  /**
   * Send each page through etcd3's own `kv.range` (its retries and circuit breakers, its auth refresh)
   * instead of straight to a member (default false).
   */
  viaClient?: boolean;
}

/** Options of {@link PrefixLister.list}. */
export interface ListOptions {
  /** Read through the leader (default true); false reads the member's own, possibly stale, view. */
  linearizable?: boolean;
  /** Keys only, without values. */
  keysOnly?: boolean;
}

/** Every key under a prefix at one revision. */
export interface PrefixListing {
  /** The store revision the pages were read at. */
  readonly revision: string;
  /** The keys in key order, each relative to the client's namespace (as etcd3 returns them otherwise). */
  readonly kvs: IKeyValue[];
}

interface RawRangeResponse {
  header: { revision: string };
  kvs: IKeyValue[];
  more: boolean;
}

/**
 * Lists a prefix in pages at the first page's revision, so a large prefix is still one consistent
 * snapshot. A page goes to a member through the pool directly rather than through `kv.range`: etcd3's
 * global retry and per-member circuit breaker count RESOURCE_EXHAUSTED (a page beyond the gRPC receive
 * limit) as a member failure and close the member's channels, so an oversized page would open the
 * breaker, failing the smaller pages and every other call of the client, before the page could shrink.
 * Such a page is taken as the member's answer and the page size halved, for good, for this lister.
 */
export class PrefixLister {
  /** Where pages go: etcd3's pool, or with `viaClient` the client's own `kv.range` (no pool needed). */
  private readonly via: { readonly pool: EtcdPool } | { readonly client: Namespace };
  private readonly namespace: Buffer;
  private limit: number;
  private readonly timeoutMs: number | undefined;
  private readonly attempts: number;

  /**
   * Throws a TypeError if `client` is not an etcd3 client whose pool this layer can drive (with
   * `viaClient`, if it has no `kv.range`).
   */
  constructor(client: Namespace, options: PrefixListerOptions = {}) {
    const via = pagesVia(client, options.viaClient === true);
    if (via === undefined) throw new TypeError("expected an etcd3 client (Etcd3 or Namespace)");
    this.via = via;
    this.namespace = namespacePrefix(client);
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new RangeError(`pageSize must be an integer of at least 1, got ${String(pageSize)}`);
    }
    this.limit = pageSize;
    this.timeoutMs = options.timeoutMs;
    this.attempts = options.attempts ?? 1;
  }

  /** Keys per page now: the page size, halved for good while pages were too large. */
  get pageSize(): number {
    return this.limit;
  }

  /** Every key under `prefix` (relative to the client's namespace). Rejects with etcd3's errors. */
  async list(prefix: Uint8Array | string, options: ListOptions = {}): Promise<PrefixListing> {
    const start = Buffer.concat([this.namespace, typeof prefix === "string" ? Buffer.from(prefix) : prefix]);
    const end = prefixRangeEnd(start);
    const kvs: IKeyValue[] = [];
    let revision: string | undefined;
    let key = start;
    for (;;) {
      const page = await this.page({
        key,
        range_end: end,
        limit: this.limit,
        // Every page reads the first page's revision, so the pages form one snapshot.
        revision: revision ?? "0",
        serializable: options.linearizable === false,
        keys_only: options.keysOnly === true,
      });
      if ("answer" in page) {
        if (this.limit <= 1) throw page.answer;
        this.limit = Math.max(1, Math.floor(this.limit / 2));
        continue;
      }
      const { response } = page;
      revision ??= String(response.header.revision);
      for (const raw of response.kvs) kvs.push({ ...raw, key: raw.key.subarray(this.namespace.length) });
      const last = response.kvs[response.kvs.length - 1];
      if (!response.more || last === undefined) break;
      key = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { revision, kvs };
  }

  private async page(request: IRangeRequest): Promise<UnaryOutcome<RawRangeResponse>> {
    if ("pool" in this.via) {
      return unaryCall<RawRangeResponse>(this.via.pool, "KV", "range", request, {
        ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }),
        attempts: this.attempts,
        isAnswer: tooLarge,
      });
    }
    try {
      const options = this.timeoutMs === undefined ? undefined : { deadline: deadlineIn(this.timeoutMs) };
      return { response: (await this.via.client.kv.range(request, options)) as RawRangeResponse };
    } catch (error) {
      if (error instanceof Error && tooLarge(error)) return { answer: error };
      throw error;
    }
  }
}

/** How `client` can be paged: through its pool, or through its `kv.range`; undefined if it cannot. */
function pagesVia(
  client: Namespace,
  viaClient: boolean,
): { readonly pool: EtcdPool } | { readonly client: Namespace } | undefined {
  if (viaClient) {
    return typeof (client as { kv?: { range?: unknown } }).kv?.range === "function" ? { client } : undefined;
  }
  const pool = etcdPool(client);
  return pool === undefined ? undefined : { pool };
}

/** A page beyond the gRPC receive limit; etcd's own RESOURCE_EXHAUSTED errors (too many requests, no space) are member trouble. */
function tooLarge(error: Error): boolean {
  return error instanceof GRPCResourceExhastedError && !error.message.includes("etcdserver:");
}
