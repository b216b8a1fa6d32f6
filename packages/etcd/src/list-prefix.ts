import type { IKeyValue, IRangeRequest, Namespace } from "etcd3";
import { GRPCResourceExhastedError } from "etcd3";
import { type UnaryOutcome, unaryCall } from "./calls.js";
import { deadlineIn } from "./clock.js";
import { decodeRangeResponse, type RawRangeResponse } from "./etcd-wire.js";
import { type EtcdPool, etcdPool, namespacePrefix } from "./etcd3-pool.js";
import { prefixRangeEnd } from "./prefix-range.js";

/** Options of {@link PrefixLister}. */
export interface PrefixListerOptions {
  /**
   * Keys per range page (at least 1, since etcd reads a limit of 0 as "no limit"). By default the first
   * page of a listing has 1,000 keys and, through the pool, each later one as many as fit in about 1 MiB
   * at the sizes the listing has seen so far.
   */
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

/**
 * What a page grown from the sizes seen is aimed at: a quarter of grpc-js's default receive limit
 * (4 MiB), leaving room for values larger than those seen so far.
 */
export const PAGE_BYTES: number = 1024 * 1024;

/** Counted for each key on top of its key and value bytes: the revisions, version and lease. */
const KEY_OVERHEAD = 32;

const DEFAULT_PAGE_SIZE = 1000;

/**
 * Lists a prefix in pages at the first page's revision, so a large prefix is still one consistent
 * snapshot. A page goes to a member through the pool directly rather than through `kv.range`: etcd3's
 * global retry and per-member circuit breaker count RESOURCE_EXHAUSTED (a page beyond the gRPC receive
 * limit) as a member failure and close the member's channels, so an oversized page would open the
 * breaker, failing the smaller pages and every other call of the client, before the page could shrink.
 * Such a page is taken as the member's answer and the page size halved, for good, for this lister.
 *
 * The page size bounds what a page can cost etcd and the client before anything about the values is
 * known. Without an explicit `pageSize` (and not `viaClient`), the first page of a listing still has
 * 1,000 keys, and each later page as many as fit in {@link PAGE_BYTES} at the average size of the keys
 * listed so far (never fewer than the page size): 10,000 endpoints of about 100 bytes then take two
 * round trips instead of ten, all still at the first page's revision. A grown page too large even so
 * ends the growing, for good, and the page size becomes at most half of that page.
 */
export class PrefixLister {
  /** Where pages go: etcd3's pool, or with `viaClient` the client's own `kv.range` (no pool needed). */
  private readonly via: { readonly pool: EtcdPool } | { readonly client: Namespace };
  private readonly namespace: Buffer;
  private limit: number;
  /** Whether later pages grow to {@link PAGE_BYTES}: no explicit page size, no page found too large. */
  private grow: boolean;
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
    const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new RangeError(`pageSize must be an integer of at least 1, got ${String(pageSize)}`);
    }
    this.limit = pageSize;
    // Only through the pool: there an oversized page is just an answer, never a member failure.
    this.grow = options.pageSize === undefined && "pool" in via;
    this.timeoutMs = options.timeoutMs;
    this.attempts = options.attempts ?? 1;
  }

  /**
   * Keys per page now: the page size (of a listing's first page when later ones grow), halved for good
   * while pages were too large.
   */
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
    let limit = this.limit;
    let bytes = 0;
    for (;;) {
      const page = await this.page({
        key,
        range_end: end,
        limit,
        // Every page reads the first page's revision, so the pages form one snapshot.
        revision: revision ?? "0",
        serializable: options.linearizable === false,
        keys_only: options.keysOnly === true,
      });
      if ("answer" in page) {
        if (limit <= 1) throw page.answer;
        this.limit = Math.max(1, Math.min(this.limit, Math.floor(limit / 2)));
        this.grow = false;
        limit = this.limit;
        continue;
      }
      const { response } = page;
      revision ??= String(response.header.revision);
      const cut = this.namespace.length;
      for (const raw of response.kvs) {
        bytes += raw.key.length + (raw.value?.length ?? 0) + KEY_OVERHEAD;
        kvs.push(cut === 0 ? raw : { ...raw, key: raw.key.subarray(cut) });
      }
      const last = response.kvs[response.kvs.length - 1];
      if (!response.more || last === undefined) break;
      limit = this.grow ? Math.max(this.limit, Math.floor((PAGE_BYTES * kvs.length) / bytes)) : this.limit;
      key = Buffer.concat([last.key, Buffer.from([0])]);
    }
    return { revision, kvs };
  }

  private async page(request: IRangeRequest): Promise<UnaryOutcome<RawRangeResponse>> {
    if ("pool" in this.via) {
      return unaryCall<RawRangeResponse>(this.via.pool, "KV", "range", request, {
        ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }),
        // Decoded by etcd-wire.ts, into the shape etcd3's decoder gives.
        deserialize: decodeRangeResponse,
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
