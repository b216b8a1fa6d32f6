import { encodeEndpoint } from "@etcd-naming/codec";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it } from "vitest";
import { createEtcd3Source } from "./etcd3-source.js";

const etcd = useTestEtcd();
const ns = etcd.namespace;

describe("list() pages larger than the gRPC receive limit", () => {
  it("halves the page until it fits, keeps the learned size, and leaves the client usable", async () => {
    const prefix = `${ns}/big/`;
    const seed = etcd.client();
    const padding = "x".repeat(300);
    for (let i = 0; i < 40; i++) {
      const key = `${prefix}${String(i).padStart(2, "0")}`;
      await seed.put(key).value(encodeEndpoint({ addr: `10.0.0.${i}:1`, metadata: padding }));
    }

    // 40 values of ~330 bytes are ~13 kB: only a page of about ten keys fits in 4,000 bytes.
    const client = etcd.client({ grpcOptions: { "grpc.max_receive_message_length": 4000 } });
    const source = createEtcd3Source(client);

    const listing = await source.list(prefix, { linearizable: true });
    expect(listing.kvs).toHaveLength(40);
    expect(listing.kvs[39]?.key).toBe(`${prefix}39`);
    const learned = source.stats().pageSize;
    expect(learned).toBeLessThan(1000);
    expect(learned).toBeGreaterThan(0);

    const again = await source.list(prefix, { linearizable: false });
    expect(again.kvs.map((kv) => kv.key)).toEqual(listing.kvs.map((kv) => kv.key));
    expect(source.stats().pageSize).toBe(learned);

    // etcd3's retry and circuit breaker never saw the oversized pages: its other calls still work.
    expect(await client.get(`${prefix}00`).string()).toContain("10.0.0.0:1");
  }, 30_000);
});
