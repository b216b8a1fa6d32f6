import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import type { Etcd3, IRangeRequest, Namespace } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { etcdPool } from "./etcd3-pool.js";
import { PAGE_BYTES, PrefixLister } from "./list-prefix.js";

// How many pages a listing takes, and how large each is, against a real etcd.
const etcd = useTestEtcd();

/** Puts `count` keys `<prefix>NNNNN` with `valueBytes`-byte values, 128 at a time. */
async function fill(client: Namespace, prefix: string, count: number, valueBytes: number): Promise<void> {
  for (let from = 0; from < count; from += 128) {
    const puts: Promise<unknown>[] = [];
    for (let i = from; i < Math.min(count, from + 128); i++) {
      puts.push(
        client
          .put(`${prefix}${String(i).padStart(5, "0")}`)
          .value("v".repeat(valueBytes))
          .exec(),
      );
    }
    await Promise.all(puts);
  }
}

/** The range requests `client` sends through its pool from now on. */
function recordRanges(client: Etcd3): IRangeRequest[] {
  const pool = etcdPool(client)!;
  const requests: IRangeRequest[] = [];
  for (const member of pool.members) {
    const kv = pool.serviceClient(member, "KV") as {
      range: (request: IRangeRequest, ...rest: unknown[]) => unknown;
      makeUnaryRequest: (path: string, ...rest: unknown[]) => unknown;
    };
    // etcd3's own calls use the generated method; the layer's pages (with its decoder) makeUnaryRequest.
    const range = kv.range.bind(kv);
    vi.spyOn(kv, "range").mockImplementation((request, ...rest) => {
      requests.push(request);
      return range(request, ...rest);
    });
    const unary = kv.makeUnaryRequest.bind(kv);
    vi.spyOn(kv, "makeUnaryRequest").mockImplementation((path, ...rest) => {
      if (path === "/etcdserverpb.KV/Range") requests.push(rest[2] as IRangeRequest);
      return unary(path, ...rest);
    });
  }
  return requests;
}

describe("PrefixLister page sizes", () => {
  it("by default grows the pages after the first to about a megabyte, at the first page's revision", async () => {
    const client = etcd.client();
    const ns = client.namespace(`${etcd.namespace}/grow/`);
    await fill(ns, "small/", 2_500, 40);
    await fill(ns, "large/", 3_000, 700);
    // A first call opens the member's KV client, which the recorder then wraps.
    await client.get("warm-up").string();
    const requests = recordRanges(client);

    const lister = new PrefixLister(ns);
    const small = await lister.list("small/");
    expect(small.kvs.map((kv) => kv.key.toString())).toEqual(
      Array.from({ length: 2_500 }, (_, i) => `small/${String(i).padStart(5, "0")}`),
    );
    // 1,000 keys, then all the rest in one page: far below a megabyte at these sizes.
    expect(requests.map((r) => Number(r.limit))[0]).toBe(1_000);
    expect(requests).toHaveLength(2);
    expect(Number(requests[1]!.limit)).toBeGreaterThan(1_500);
    expect(String(requests[1]!.revision)).toBe(small.revision);

    requests.length = 0;
    const large = await lister.list("large/");
    expect(large.kvs).toHaveLength(3_000);
    expect(new Set(large.kvs.map((kv) => kv.key.toString())).size).toBe(3_000);
    // About 760 bytes a key (700 of value, the key, the per-key overhead): 1 MiB is ~1,380 keys.
    const limits = requests.map((r) => Number(r.limit));
    expect(limits[0]).toBe(1_000);
    expect(limits[1]).toBeGreaterThan(1_000);
    expect(limits[1]! * 700).toBeLessThan(PAGE_BYTES);
    expect(limits).toHaveLength(3);
    expect(requests.slice(1).map((r) => String(r.revision))).toEqual([large.revision, large.revision]);
    expect(lister.pageSize).toBe(1_000);
  }, 60_000);

  it("keeps an explicit page size, and through the client's kv.range never grows", async () => {
    const client = etcd.client();
    const ns = client.namespace(`${etcd.namespace}/fixed/`);
    await fill(ns, "svc/", 2_100, 10);
    await client.get("warm-up").string();
    const requests = recordRanges(client);
    expect((await new PrefixLister(ns, { pageSize: 1_000 }).list("svc/")).kvs).toHaveLength(2_100);
    expect(requests.map((r) => Number(r.limit))).toEqual([1_000, 1_000, 1_000]);
    const viaClient = await new PrefixLister(ns, { viaClient: true }).list("svc/");
    expect(viaClient.kvs).toHaveLength(2_100);
  }, 60_000);

  it("stops growing for good once a grown page exceeds the receive limit, and still lists everything", async () => {
    const seed = etcd.client();
    const ns = seed.namespace(`${etcd.namespace}/limit/`);
    await fill(ns, "svc/", 2_500, 60);
    // A first page of 1,000 such keys is about 100 kB; a grown one (the other 1,500) does not fit.
    const client = etcd.client({ grpcOptions: { "grpc.max_receive_message_length": 130_000 } });
    await client.get("warm-up").string();
    const requests = recordRanges(client);
    const lister = new PrefixLister(client.namespace(`${etcd.namespace}/limit/`));
    const listing = await lister.list("svc/");
    expect(listing.kvs.map((kv) => kv.key.toString())).toEqual(
      Array.from({ length: 2_500 }, (_, i) => `svc/${String(i).padStart(5, "0")}`),
    );
    const limits = requests.map((r) => Number(r.limit));
    expect(limits[0]).toBe(1_000);
    expect(limits[1]).toBeGreaterThan(1_500);
    expect(limits.slice(2)).toEqual([1_000, 1_000]);
    expect(new Set(requests.slice(1).map((r) => String(r.revision)))).toEqual(new Set([listing.revision]));
    expect(lister.pageSize).toBe(1_000);

    requests.length = 0;
    expect((await lister.list("svc/")).kvs).toHaveLength(2_500);
    expect(requests.map((r) => Number(r.limit))).toEqual([1_000, 1_000, 1_000]);
    // etcd3's retry and circuit breaker never saw the oversized page: its own calls still work.
    expect(await client.get(`${etcd.namespace}/limit/svc/00000`).string()).toBe("v".repeat(60));
  }, 60_000);
});
