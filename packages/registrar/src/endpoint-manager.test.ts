import { Operation } from "@etcd-naming/codec";
import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it, vi } from "vitest";
import { createEndpointManager, type EndpointUpdate } from "./endpoint-manager.js";
import { RegistrarError } from "./errors.js";
import { spyOnTxn } from "./test/txn-spy.js";

// Nothing listens here: every test must fail before the client is used.
const client = new Etcd3({ hosts: "127.0.0.1:1" });
const txn = vi.spyOn(client.kv, "txn");
const sent = spyOnTxn(client);
afterAll(() => client.close());

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistrarError);
  return (error as RegistrarError).code;
}

describe("createEndpointManager input checks", () => {
  const manager = createEndpointManager(client, "foo/bar/svc");

  it("refuses keys outside <service>/ with Go's message", async () => {
    await expect(manager.addEndpoint("foo/bar/svc2/x", { addr: "1.2.3.4:1" })).rejects.toThrow(
      "endpoints: endpoint key should be prefixed with 'foo/bar/svc/' got: 'foo/bar/svc2/x'",
    );
    expect(await codeOf(manager.deleteEndpoint("foo/bar/svc"))).toBe("KEY_OUTSIDE_SERVICE");
    expect(await codeOf(manager.deleteEndpoint("foo/bar/svc/"))).toBe("KEY_OUTSIDE_SERVICE");
  });

  it("refuses a bad op, a missing endpoint, bad addresses, bad metadata and bad lease ids", async () => {
    const bad: EndpointUpdate[] = [
      { op: 7 as Operation, key: "foo/bar/svc/a" },
      { op: Operation.Add, key: "foo/bar/svc/a" },
      { op: Operation.Add, key: "foo/bar/svc/a", endpoint: { addr: "" } },
      { op: Operation.Add, key: "foo/bar/svc/a", endpoint: { addr: "1.2.3.4:1", metadata: { f: () => 1 } } },
      { op: Operation.Add, key: "foo/bar/svc/a", endpoint: { addr: "1.2.3.4:1" }, lease: "0x1f" },
      // 2^64 and 2^63 do not fit etcd's int64 lease field (2^64 would be written as 0: no lease).
      {
        op: Operation.Add,
        key: "foo/bar/svc/a",
        endpoint: { addr: "1.2.3.4:1" },
        lease: "18446744073709551616",
      },
      {
        op: Operation.Add,
        key: "foo/bar/svc/a",
        endpoint: { addr: "1.2.3.4:1" },
        lease: "9223372036854775808",
      },
    ];
    for (const update of bad) expect(await codeOf(manager.update([update]))).toBe("INVALID_INPUT");
    await expect(manager.update([bad[0]!])).rejects.toThrow("endpoints: bad update op");
  });

  it("checks every update before writing any: one bad update refuses the whole batch", async () => {
    const updates: EndpointUpdate[] = [
      { op: Operation.Add, key: "foo/bar/svc/a", endpoint: { addr: "1.2.3.4:1" } },
      { op: Operation.Delete, key: "elsewhere/b" },
    ];
    expect(await codeOf(manager.update(updates))).toBe("KEY_OUTSIDE_SERVICE");
  });

  it("refuses more than maxTxnOps operations unless asked to split", async () => {
    const updates = Array.from({ length: 129 }, (_, i) => ({
      op: Operation.Delete,
      key: `foo/bar/svc/${i}`,
    }));
    const error = await manager.update(updates).catch((e: unknown) => e);
    expect((error as RegistrarError).code).toBe("TXN_TOO_LARGE");
    expect((error as RegistrarError).message).toContain("129 updates exceed etcd's limit of 128");
    const small = createEndpointManager(client, "svc", { maxTxnOps: 2 });
    expect(
      await codeOf(small.update([1, 2, 3].map((i) => ({ op: Operation.Delete, key: `svc/${i}` })))),
    ).toBe("TXN_TOO_LARGE");
  });

  it("refuses an invalid service or maxTxnOps up front", () => {
    expect(() => createEndpointManager(client, "")).toThrow(RegistrarError);
    expect(() => createEndpointManager(client, "/svc")).toThrow(RegistrarError);
    expect(() => createEndpointManager(client, "svc", { maxTxnOps: 0 })).toThrow(RegistrarError);
  });

  it("never reached etcd", () => {
    expect(txn).not.toHaveBeenCalled();
    expect(sent).not.toHaveBeenCalled();
  });
});
