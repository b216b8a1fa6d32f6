import { encodeEndpoint, keyToBytes, Operation, type Update } from "@etcd-naming/codec";
import type { LogFields } from "@etcd-naming/etcd";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { describe, expect, it, vi } from "vitest";
import { createEndpointManager } from "./endpoint-manager.js";
import type { RegistrarError } from "./errors.js";
import { leaseTimeToLive } from "./test/etcdctl.js";
import { spyOnTxn } from "./test/txn-spy.js";

const etcd = useTestEtcd();
const quiet = { warn: () => undefined };

describe("endpoint manager on etcd", () => {
  it("adds with Go's exact bytes, lists, deletes", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/m1`;
    const manager = createEndpointManager(client, service, { logger: quiet });
    await manager.addEndpoint(`${service}/a`, { addr: "1.2.3.4:1" });
    await manager.addEndpoint(`${service}/b`, { addr: "1.2.3.5:1", metadata: { w: 1, a: "<&>" } });
    expect(await client.get(`${service}/a`).string()).toBe('{"Op":0,"Addr":"1.2.3.4:1","Metadata":null}');
    expect(await client.get(`${service}/b`).string()).toBe(
      '{"Op":0,"Addr":"1.2.3.5:1","Metadata":{"a":"\\u003c\\u0026\\u003e","w":1}}',
    );
    expect(await manager.list()).toEqual(
      new Map([
        [`${service}/a`, { addr: "1.2.3.4:1" }],
        [`${service}/b`, { addr: "1.2.3.5:1", metadata: { w: 1, a: "<&>" } }],
      ]),
    );
    await manager.deleteEndpoint(`${service}/a`);
    expect([...(await manager.list()).keys()]).toEqual([`${service}/b`]);
  });

  it("applies a batch atomically in one transaction, attaching a lease when asked", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/m2`;
    const manager = createEndpointManager(client, service);
    const lease = client.lease(30, { autoKeepAlive: false });
    const leaseId = String(await lease.grant());
    const txn = spyOnTxn(client);
    await manager.update([
      { op: Operation.Add, key: `${service}/x`, endpoint: { addr: "10.0.0.1:1" }, lease: leaseId },
      { op: Operation.Add, key: `${service}/y`, endpoint: { addr: "10.0.0.2:1" } },
      { op: Operation.Delete, key: `${service}/nope` },
    ]);
    expect(txn).toHaveBeenCalledTimes(1);
    expect((await leaseTimeToLive(etcd.endpoints, leaseId)).keys).toEqual([`${service}/x`]);
    expect((await manager.list()).size).toBe(2);
    await lease.revoke();
    expect([...(await manager.list()).keys()]).toEqual([`${service}/y`]);
  });

  it("refuses a lease id beyond etcd's int64 (2^64 would be written as lease 0) and writes nothing", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/lease-range`;
    const manager = createEndpointManager(client, service, { logger: quiet });
    for (const lease of ["18446744073709551616", "9223372036854775808", "18446744073709551617"]) {
      await expect(
        manager.addEndpoint(`${service}/a`, { addr: "10.0.0.1:1" }, { lease }),
      ).rejects.toMatchObject({ code: "INVALID_INPUT" });
    }
    expect((await client.get(`${service}/a`).exec()).kvs).toEqual([]);
    // "0" is no lease, as in Go.
    await manager.addEndpoint(`${service}/a`, { addr: "10.0.0.1:1" }, { lease: "0" });
    expect((await client.get(`${service}/a`).exec()).kvs[0]?.lease).toBe("0");
  });

  it("reports what etcd refused under its own code, with etcd's reason, and the client stays usable", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/refused`;
    const manager = createEndpointManager(client, service, { logger: quiet, maxTxnOps: 1_000 });
    const add = (key: string, metadata?: unknown) => ({
      op: Operation.Add,
      key: `${service}/${key}`,
      endpoint: metadata === undefined ? { addr: "10.0.0.1:1" } : { addr: "10.0.0.1:1", metadata },
    });
    const refusal = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (error: RegistrarError) => ({ code: error.code, message: error.message }),
      );

    // A lease etcd does not know: never granted, or revoked.
    expect(
      await refusal(
        manager.addEndpoint(`${service}/a`, { addr: "10.0.0.1:1" }, { lease: "9223372036854775807" }),
      ),
    ).toEqual({
      code: "LEASE_NOT_FOUND",
      message: expect.stringContaining("etcd refused it: etcdserver: requested lease not found"),
    });
    const lease = client.lease(30, { autoKeepAlive: false });
    const revoked = String(await lease.grant());
    await lease.revoke();
    expect(await refusal(manager.update([{ ...add("a"), lease: revoked }]))).toMatchObject({
      code: "LEASE_NOT_FOUND",
    });

    // One key twice in one transaction.
    expect(await refusal(manager.update([add("a"), { op: Operation.Delete, key: `${service}/a` }]))).toEqual({
      code: "DUPLICATE_KEY",
      message: expect.stringContaining("etcdserver: duplicate key given in txn request"),
    });

    // Above --max-request-bytes (1.5 MiB), and above what etcd's gRPC server reads at all (2 MiB).
    const big = "x".repeat(60_000);
    const many = (n: number) => Array.from({ length: n }, (_, i) => add(`big-${i}`, big));
    expect(await refusal(manager.update(many(30)))).toEqual({
      code: "REQUEST_TOO_LARGE",
      message: expect.stringContaining("etcdserver: request is too large"),
    });
    expect(await refusal(manager.update(many(120)))).toEqual({
      code: "REQUEST_TOO_LARGE",
      message: expect.stringContaining("received message larger than max"),
    });

    // More operations than etcd's --max-txn-ops (128), past our own check.
    const deletes = Array.from({ length: 150 }, (_, i) => ({ op: Operation.Delete, key: `${service}/${i}` }));
    expect(await refusal(manager.update(deletes))).toEqual({
      code: "TXN_TOO_LARGE",
      message: expect.stringContaining("etcdserver: too many operations in txn request"),
    });

    // None of these was taken for a failing member: the client answers at once.
    await manager.addEndpoint(`${service}/ok`, { addr: "10.0.0.2:1" });
    expect([...(await manager.list()).keys()]).toEqual([`${service}/ok`]);
  });

  it("splits above 128 operations only when asked, and then writes them all", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/m3`;
    const manager = createEndpointManager(client, service);
    const updates = Array.from({ length: 300 }, (_, i) => ({
      op: Operation.Add,
      key: `${service}/${i}`,
      endpoint: { addr: `10.2.${i >> 8}.${i & 255}:1` },
    }));
    await expect(manager.update(updates)).rejects.toMatchObject({ code: "TXN_TOO_LARGE" });
    expect((await manager.list()).size).toBe(0);
    const txn = spyOnTxn(client);
    await manager.update(updates, { split: true });
    expect(txn).toHaveBeenCalledTimes(3);
    expect((await manager.list()).size).toBe(300);
  });

  it("keeps keys that differ only in bytes that are not UTF-8 apart, in list, watch and delete", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/bytes`;
    const manager = createEndpointManager(client, service, { logger: quiet });
    const raw = (byte: number) => Buffer.concat([Buffer.from(`${service}/k-`), Buffer.from([byte])]);
    const controller = new AbortController();
    const seen: Update[][] = [];
    await client.put(raw(0xff)).value(encodeEndpoint({ addr: "10.0.0.1:1" }));
    await client.put(raw(0xfe)).value(encodeEndpoint({ addr: "10.0.0.2:1" }));
    const listed = await manager.list();
    expect([...listed.values()].map((e) => e.addr).sort()).toEqual(["10.0.0.1:1", "10.0.0.2:1"]);
    const keyOf = (addr: string) => [...listed].find(([, e]) => e.addr === addr)![0];
    expect(Buffer.from(keyToBytes(keyOf("10.0.0.2:1")))).toEqual(raw(0xfe));

    const done = (async () => {
      for await (const batch of manager.watch({ signal: controller.signal })) seen.push(batch);
    })();
    await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 3000, interval: 10 });
    // Deleting the exact key (as list() gave it) removes that key alone.
    await manager.deleteEndpoint(keyOf("10.0.0.2:1"));
    await vi.waitFor(() => expect(seen).toHaveLength(2), { timeout: 3000, interval: 10 });
    expect(seen[1]).toEqual([{ op: Operation.Delete, key: keyOf("10.0.0.2:1") }]);
    expect([...(await manager.list()).values()]).toEqual([{ addr: "10.0.0.1:1" }]);
    // And an Add to an exact key writes those bytes.
    await manager.addEndpoint(keyOf("10.0.0.2:1"), { addr: "10.0.0.3:1" });
    expect(await client.get(raw(0xfe)).string()).toBe(encodeEndpoint({ addr: "10.0.0.3:1" }));
    controller.abort();
    await done;
  });

  it("skips values that do not decode, with a warning naming the key", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/m4`;
    const warnings: string[] = [];
    const fields: LogFields[] = [];
    const manager = createEndpointManager(client, service, {
      logger: {
        warn: (f, m) => {
          fields.push(f);
          warnings.push(m);
        },
      },
    });
    await client.put(`${service}/junk`).value("not json");
    await manager.addEndpoint(`${service}/ok`, { addr: "10.0.0.1:1" });
    expect([...(await manager.list()).keys()]).toEqual([`${service}/ok`]);
    expect(warnings.some((w) => w.includes(`${service}/junk`))).toBe(true);
    expect(fields).toContainEqual(
      expect.objectContaining({ component: "registrar", service, key: `${service}/junk` }),
    );
  });

  it("watch() yields the current endpoints, then each change, and stops on abort", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/m5`;
    const manager = createEndpointManager(client, service, { logger: quiet });
    await manager.addEndpoint(`${service}/a`, { addr: "10.0.0.1:1", metadata: "m" });
    const controller = new AbortController();
    const seen: Update[][] = [];
    const done = (async () => {
      for await (const batch of manager.watch({ signal: controller.signal })) seen.push(batch);
    })();
    await vi.waitFor(() => expect(seen).toHaveLength(1), { timeout: 3000, interval: 10 });
    expect(seen[0]).toEqual([
      { op: Operation.Add, key: `${service}/a`, endpoint: { addr: "10.0.0.1:1", metadata: "m" } },
    ]);

    await manager.update([
      { op: Operation.Add, key: `${service}/b`, endpoint: { addr: "10.0.0.2:1" } },
      { op: Operation.Delete, key: `${service}/a` },
    ]);
    await client.put(`${service}/junk`).value("{");
    await client.put(`${service}/c`).value(encodeEndpoint({ addr: "10.0.0.3:1" }));
    await vi.waitFor(() => expect(seen.flat()).toHaveLength(4), { timeout: 3000, interval: 10 });
    expect(seen.slice(1)).toEqual([
      [
        { op: Operation.Add, key: `${service}/b`, endpoint: { addr: "10.0.0.2:1" } },
        { op: Operation.Delete, key: `${service}/a` },
      ],
      [{ op: Operation.Add, key: `${service}/c`, endpoint: { addr: "10.0.0.3:1" } }],
    ]);
    controller.abort();
    await done;
  });
});
