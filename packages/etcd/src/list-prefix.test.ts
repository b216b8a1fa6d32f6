import type { IRangeRequest, Namespace } from "etcd3";
import { describe, expect, it } from "vitest";
import { PrefixLister } from "./list-prefix.js";

// A client with etcd3's public `kv.range` and none of its connection pool: what `viaClient` needs.
function rangeOnlyClient(keys: string[]): { client: Namespace; requests: IRangeRequest[] } {
  const requests: IRangeRequest[] = [];
  const kv = {
    range: async (request: IRangeRequest) => {
      requests.push(request);
      const from = Buffer.from(request.key as Buffer).toString();
      const limit = Number(request.limit ?? 0);
      const after = keys.filter((k) => k >= from);
      const page = limit > 0 ? after.slice(0, limit) : after;
      return {
        header: { revision: "7" },
        more: page.length < after.length,
        kvs: page.map((k) => ({ key: Buffer.from(k), value: Buffer.from("v") })),
      };
    },
  };
  return { client: { kv } as unknown as Namespace, requests };
}

describe("PrefixLister", () => {
  it("with viaClient needs only the client's kv.range, not etcd3's pool", async () => {
    const { client, requests } = rangeOnlyClient(["svc/a", "svc/b", "svc/c"]);
    const listing = await new PrefixLister(client, { pageSize: 2, viaClient: true }).list("svc/");
    expect(listing.kvs.map((kv) => kv.key.toString())).toEqual(["svc/a", "svc/b", "svc/c"]);
    expect(listing.revision).toBe("7");
    // The second page is read at the first page's revision.
    expect(requests.map((r) => String(r.revision ?? "0"))).toEqual(["0", "7"]);
  });

  it("refuses a client it cannot list with", () => {
    const { client } = rangeOnlyClient([]);
    expect(() => new PrefixLister(client)).toThrow(TypeError);
    expect(() => new PrefixLister({} as Namespace, { viaClient: true })).toThrow(TypeError);
  });
});
