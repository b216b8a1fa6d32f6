import { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { etcdPool, namespacePrefix, poolShapeProblems } from "./etcd3-pool.js";

// The layer drives parts of etcd3 that are not public API. This runs against the etcd3 that is installed
// (no server needed: a client connects lazily), so a release that reshapes its pool fails here, with the
// missing part named, instead of somewhere deep in a fail-over test.
const client = new Etcd3({ hosts: ["127.0.0.1:1", "127.0.0.1:2"] });
afterAll(() => client.close());

function expectShape(subject: unknown): void {
  const problems = poolShapeProblems(subject);
  if (problems.length > 0) {
    throw new Error(
      `the installed etcd3 no longer has the shape this layer drives:\n- ${problems.join("\n- ")}`,
    );
  }
}

describe("etcd3's connection pool, as the installed release has it", () => {
  it("has every part the pool adapter drives, on a client and on a namespace", () => {
    expectShape(client);
    expectShape(client.namespace("a/"));
    expect(etcdPool(client)?.members.map((m) => m.host)).toEqual(["127.0.0.1:1", "127.0.0.1:2"]);
    expect(namespacePrefix(client.namespace("a/").namespace("b/"))).toEqual(Buffer.from("a/b/"));
  });

  it("hands every service's generated client and the configured call options through", () => {
    const withOptions = new Etcd3({
      hosts: "127.0.0.1:1",
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: 42 }),
    });
    try {
      const pool = etcdPool(withOptions)!;
      const member = pool.members[0]!;
      for (const [service, method] of [
        ["KV", "range"],
        ["KV", "txn"],
        ["Lease", "leaseGrant"],
        ["Lease", "leaseKeepAlive"],
        ["Lease", "leaseTimeToLive"],
        ["Watch", "watch"],
        ["Maintenance", "status"],
      ] as const) {
        expect(
          typeof (pool.serviceClient(member, service) as Record<string, unknown>)[method],
          `${service}.${method}`,
        ).toBe("function");
      }
      // The Watch stream and range reads run with the layer's decoder through grpc-js's public client
      // API, from the path and encoder the generated method carries (calls.ts keeps etcd3's decoder
      // without them).
      for (const [service, method, path, maker] of [
        ["Watch", "watch", "/etcdserverpb.Watch/Watch", "makeBidiStreamRequest"],
        ["KV", "range", "/etcdserverpb.KV/Range", "makeUnaryRequest"],
      ] as const) {
        const generated = pool.serviceClient(member, service) as Record<string, unknown>;
        const parts = generated[method] as { path?: unknown; requestSerialize?: unknown };
        expect(parts.path, `${service}.${method}.path`).toBe(path);
        expect(typeof parts.requestSerialize, `${service}.${method}.requestSerialize`).toBe("function");
        expect(typeof generated[maker], `${service} client's ${maker}`).toBe("function");
      }
      expect(pool.callOptions({ service: "KV", method: "range", isStream: false })).toEqual({ deadline: 42 });
      expect(pool.callOptions({ service: "Watch", method: "watch", isStream: true })).toEqual({});
      expect(etcdPool(client)!.callOptions({ service: "KV", method: "range", isStream: false })).toEqual({});
      expect(() => pool.invalidateAuthToken()).not.toThrow();
    } finally {
      withOptions.close();
    }
  });

  it("names the part that is missing when a client does not have it", () => {
    expect(poolShapeProblems({})).toContain("client.pool (etcd3's connection pool) is missing");
    const pool = { hosts: [{ host: "h:1", getServiceClient: () => ({}) }], withConnection: () => undefined };
    expect(poolShapeProblems({ pool, prefix: Buffer.alloc(0) })).toEqual(["pool.markFailed() is missing"]);
    expect(
      poolShapeProblems({ pool: { ...pool, markFailed: () => undefined }, prefix: Buffer.alloc(0) }),
    ).toEqual(["pool.callOptionsFactory is missing", "pool.authenticator.invalidateMetadata() is missing"]);
    expect(etcdPool({ pool: { hosts: [] } } as never)).toBeUndefined();
    expect(() => expectShape({})).toThrow(/no longer has the shape.*\n- client\.pool/);
  });
});
