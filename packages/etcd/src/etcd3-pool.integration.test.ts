import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { EtcdLeaseInvalidError, GRPCResourceExhastedError } from "etcd3";
import { describe, expect, it } from "vitest";
import { only, openStream, unaryCall } from "./calls.js";
import { decodeWatchResponse, type RawWatchResponse } from "./etcd-wire.js";
import { etcdPool } from "./etcd3-pool.js";
import { PrefixLister } from "./list-prefix.js";
import { MemberRouter } from "./member-router.js";
import { prefixRangeEnd } from "./prefix-range.js";
import { ResumableWatch, type WatchEvent } from "./resumable-watch.js";

// The adapter against a real etcd: what it does through etcd3's pool reaches the server and comes back.
const etcd = useTestEtcd();
const poll = { timeout: 10_000, interval: 20 };

describe("calls through the pool adapter", () => {
  it("watches and lists with the layer's decoder and etcd3's encoder: 64-bit lease ids exact", async () => {
    const client = etcd.client();
    const pool = etcdPool(client)!;
    const decoded: RawWatchResponse[] = [];
    let decodedHere = 0;
    const { stream } = await openStream<{
      write(message: object): boolean;
      cancel(): void;
      on(event: "error", listener: (error: Error) => void): unknown;
      on(event: "data", listener: (response: RawWatchResponse) => void): unknown;
    }>(pool, "Watch", "watch", {
      deserialize: (bytes) => {
        decodedHere++;
        return decodeWatchResponse(bytes);
      },
    });
    stream.on("error", () => {}); // the cancellation at the end
    stream.on("data", (response) => decoded.push(response));
    const lease = client.lease(30, { autoKeepAlive: false });
    try {
      const key = Buffer.from(`${etcd.namespace}/wire/`);
      stream.write({ create_request: { key, range_end: prefixRangeEnd(key) } });
      await expect.poll(() => decoded.some((response) => response.created), poll).toBe(true);
      const id = await lease.grant();
      const put = await lease.put(`${etcd.namespace}/wire/a`).value("v").exec();
      await expect.poll(() => decoded.flatMap((response) => response.events).length, poll).toBe(1);
      const { type, kv } = decoded.flatMap((response) => response.events)[0]!;
      expect([type, kv.key.toString(), kv.value.toString(), kv.lease]).toEqual([
        "Put",
        `${etcd.namespace}/wire/a`,
        "v",
        id,
      ]);
      expect(kv.mod_revision).toBe(put.header.revision);
      expect(decodedHere).toBe(decoded.length);
      // A listing reads the same key, lease id and revision.
      const listing = await new PrefixLister(client).list(`${etcd.namespace}/wire/`);
      expect(listing.kvs.map((listed) => [listed.key.toString(), listed.lease, listed.mod_revision])).toEqual(
        [[`${etcd.namespace}/wire/a`, id, put.header.revision]],
      );
      expect(listing.revision).toBe(put.header.revision);
    } finally {
      stream.cancel();
      await lease.revoke();
    }
  });

  it("makes a unary call on a chosen member, with a deadline, and casts etcd's errors", async () => {
    const client = etcd.client();
    const pool = etcdPool(client)!;
    await client.put(`${etcd.namespace}/call/a`).value("1");
    const outcome = await unaryCall<{ kvs: { value: Buffer }[] }>(
      pool,
      "KV",
      "range",
      { key: Buffer.from(`${etcd.namespace}/call/a`) },
      { order: only(pool.members[0]!), timeoutMs: 5_000 },
    );
    expect("response" in outcome && outcome.response.kvs[0]!.value.toString()).toBe("1");
    await expect(
      unaryCall(pool, "Lease", "leaseRevoke", { ID: "12345" }, { timeoutMs: 5_000 }),
    ).rejects.toThrow(EtcdLeaseInvalidError);
    // An error the caller takes as etcd's answer comes back as a value.
    const answered = await unaryCall(
      pool,
      "Lease",
      "leaseRevoke",
      { ID: "12345" },
      {
        isAnswer: (error) => error instanceof EtcdLeaseInvalidError,
      },
    );
    expect("answer" in answered && answered.answer).toBeInstanceOf(EtcdLeaseInvalidError);
  });

  it("routes calls to members and asks each for the status and a lease's TTL", async () => {
    const client = etcd.client();
    const router = new MemberRouter(client);
    const granted = await router.call("Lease", "leaseGrant", { TTL: 30 }, 5_000, (options) =>
      client.leaseClient.leaseGrant({ TTL: 30 }, options),
    );
    expect(Number(granted.TTL)).toBe(30);
    expect(await router.allMembersAnswer(2_000)).toBe(true);
    const { stream, host } = await router.openKeepAlive();
    const answer = new Promise<{ TTL: string }>((resolve) => stream.on("data", resolve));
    stream.write({ ID: granted.ID });
    expect(Number((await answer).TTL)).toBeGreaterThan(0);
    expect(host?.host).toBe(etcd.endpoints[0]);
    stream.end();
    // The only member is the one to leave out: nobody else to ask.
    expect(await router.timeToLive(granted.ID, host, 1_000)).toBeUndefined();
    await client.leaseClient.leaseRevoke({ ID: granted.ID });
  });
});

describe("PrefixLister", () => {
  it("lists a prefix in pages at one revision, relative to the namespace", async () => {
    const client = etcd.client();
    const ns = client.namespace(`${etcd.namespace}/list/`);
    for (let i = 0; i < 7; i++) await ns.put(`svc/${i}`).value(String(i));
    await ns.put("svc0").value("outside");
    const lister = new PrefixLister(ns, { pageSize: 2, timeoutMs: 5_000 });
    const listing = await lister.list("svc/");
    expect(listing.kvs.map((kv) => kv.key.toString())).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `svc/${i}`));
    expect(new Set(listing.kvs.map((kv) => kv.mod_revision)).size).toBe(7);
    expect(BigInt(listing.revision)).toBeGreaterThanOrEqual(BigInt(listing.kvs[6]!.mod_revision));
    const viaClient = await new PrefixLister(ns, { pageSize: 3, viaClient: true }).list("svc/");
    expect(viaClient.kvs.map((kv) => kv.key.toString())).toEqual(listing.kvs.map((kv) => kv.key.toString()));
    const keys = await lister.list("svc/", { keysOnly: true, linearizable: false });
    expect(keys.kvs.map((kv) => kv.value.length)).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(lister.pageSize).toBe(2);
  });

  it("halves a page that exceeds the client's receive limit instead of failing the member", async () => {
    const client = etcd.client();
    const ns = client.namespace(`${etcd.namespace}/big/`);
    for (let i = 0; i < 4; i++) await ns.put(`k${i}`).value("x".repeat(300_000));
    const small = etcd.client({ grpcOptions: { "grpc.max_receive_message_length": 700_000 } });
    const lister = new PrefixLister(small.namespace(`${etcd.namespace}/big/`), { pageSize: 4 });
    expect((await lister.list("k")).kvs).toHaveLength(4);
    expect(lister.pageSize).toBe(2);
    const one = new PrefixLister(small.namespace(`${etcd.namespace}/big/`), { pageSize: 1 });
    await ns.put("huge").value("y".repeat(800_000));
    await expect(one.list("huge")).rejects.toBeInstanceOf(GRPCResourceExhastedError);
  });

  it("refuses a client it cannot drive and a page size etcd would read as 'no limit'", () => {
    expect(() => new PrefixLister({} as never)).toThrow(TypeError);
    expect(() => new PrefixLister(etcd.client(), { pageSize: 0 })).toThrow(RangeError);
  });
});

describe("prefixRangeEnd", () => {
  it("is the prefix with its last byte below 0xff incremented, or \\0 for none", () => {
    expect(prefixRangeEnd("svc/")).toEqual(Buffer.from("svc0"));
    expect(prefixRangeEnd(Buffer.from([0x61, 0xff, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixRangeEnd(Buffer.from([0xff, 0xff]))).toEqual(Buffer.from([0]));
    expect(prefixRangeEnd("")).toEqual(Buffer.from([0]));
    const input = Buffer.from("a/");
    prefixRangeEnd(input);
    expect(input).toEqual(Buffer.from("a/"));
  });
});

describe("ResumableWatch", () => {
  it("delivers puts and deletes from a revision on, and nothing once closed", async () => {
    const client = etcd.client();
    const prefix = `${etcd.namespace}/watch/`;
    const start = BigInt((await client.put(`${prefix}a`).value("1").exec()).header.revision);
    await client.delete().key(`${prefix}a`);
    const seen: WatchEvent[] = [];
    const errors: unknown[] = [];
    const watch = new ResumableWatch(client, prefix, start, {
      onEvents: (events) => seen.push(...events),
      onError: (error) => errors.push(error),
    });
    await expect
      .poll(() => seen.map((e) => `${e.type} ${e.kv.key.toString()}`))
      .toEqual([`put ${prefix}a`, `delete ${prefix}a`]);
    expect(watch.nextRevision).toBe(seen[1]!.revision + 1n);
    await watch.close();
    await client.put(`${prefix}b`).value("2");
    const deletes: WatchEvent[] = [];
    const onlyDeletes = new ResumableWatch(client, prefix, start, {
      deletesOnly: true,
      onEvents: (events) => deletes.push(...events),
      onError: (error) => errors.push(error),
    });
    await expect.poll(() => deletes.map((e) => e.type)).toEqual(["delete"]);
    await onlyDeletes.close();
    expect(seen).toHaveLength(2);
    expect(errors).toEqual([]);
  });
});
