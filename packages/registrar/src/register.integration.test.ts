import { decodeEndpoint, encodeEndpoint } from "@etcd-naming/codec";
import { MemberRouter } from "@etcd-naming/etcd";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import type { Etcd3 } from "etcd3";
import { describe, expect, it, vi } from "vitest";
import { RegistrarError } from "./errors.js";
import { type Registration, register } from "./registration.js";
import { leaseTimeToLive } from "./test/etcdctl.js";

const etcd = useTestEtcd();
let serviceCount = 0;
const newService = (name: string) => `${etcd.namespace}/${name}-${serviceCount++}`;
const quiet = { warn: () => undefined };

async function keysUnder(client: Etcd3, service: string): Promise<Record<string, string>> {
  return client.getAll().prefix(`${service}/`).strings();
}

describe("register (behaviour 1)", () => {
  it("puts Go's value with the lease attached, and the keep-alive holds it well past the TTL", async () => {
    const client = etcd.client();
    const service = newService("greeter");
    await using reg = await register({ client, service, addr: "10.0.0.5:50051", metadata: "v1", ttl: 2 });
    expect(reg.key).toBe(`${service}/10.0.0.5:50051`);
    expect(reg.leaseId).toMatch(/^[1-9][0-9]*$/);

    const stored = await client.get(reg.key).string();
    expect(stored).toBe('{"Op":0,"Addr":"10.0.0.5:50051","Metadata":"v1"}');
    expect(stored).toBe(encodeEndpoint({ addr: "10.0.0.5:50051", metadata: "v1" }));

    const first = await leaseTimeToLive(etcd.endpoints, reg.leaseId);
    expect(first.keys).toEqual([reg.key]);
    expect(first.grantedTtl).toBe(2);

    // 2.5 TTLs: without keep-alives the key would be gone twice over.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(await client.get(reg.key).string()).toBe(stored);
    const later = await leaseTimeToLive(etcd.endpoints, reg.leaseId);
    expect(later.keys).toEqual([reg.key]);
    expect(later.ttl).toBeGreaterThan(0);
  }, 15_000);

  it("setMetadata rewrites the value under the same lease", async () => {
    const client = etcd.client();
    const service = newService("meta");
    await using reg = await register({ client, service, addr: "10.0.0.6:1", ttl: 5, logger: quiet });
    expect(await client.get(reg.key).string()).toBe('{"Op":0,"Addr":"10.0.0.6:1","Metadata":null}');
    await reg.setMetadata({ zone: "eu", weight: 3 });
    expect(await client.get(reg.key).string()).toBe(
      '{"Op":0,"Addr":"10.0.0.6:1","Metadata":{"weight":3,"zone":"eu"}}',
    );
    expect((await leaseTimeToLive(etcd.endpoints, reg.leaseId)).keys).toEqual([reg.key]);
  });

  it("warns through the logger when metadata is an object (Go resolvers 3.4, 3.5.0-3.5.26 and 3.6.0-3.6.7 panic on it)", async () => {
    const client = etcd.client();
    const warnings: string[] = [];
    await using reg = await register({
      client,
      service: newService("warn"),
      addr: "10.0.0.7:1",
      metadata: { a: 1 },
      ttl: 5,
      logger: { warn: (_fields, m) => warnings.push(m) },
    });
    expect(warnings.some((w) => w.includes(reg.key) && w.includes("3.5.26"))).toBe(true);
  });

  it("refuses a second registration of the same key on the same lease", async () => {
    const client = etcd.client();
    const service = newService("dup");
    await using _reg = await register({ client, service, addr: "10.0.0.8:1", ttl: 5 });
    await expect(register({ client, service, addr: "10.0.0.8:1", ttl: 5 })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
  });
});

describe("hand-deleted key (behaviour 4)", () => {
  it("is put back while registered, and stays gone after deregister()", async () => {
    const client = etcd.client();
    const other = etcd.client();
    const service = newService("heal");
    const reg = await register({ client, service, addr: "10.0.1.1:80", ttl: 5 });
    const value = (await client.get(reg.key).string()) ?? "";
    expect(value).toContain("10.0.1.1:80");

    for (let round = 0; round < 2; round++) {
      await other.delete().key(reg.key);
      await expect.poll(() => other.get(reg.key).string(), { timeout: 5000, interval: 20 }).toBe(value);
    }
    expect((await leaseTimeToLive(etcd.endpoints, reg.leaseId)).keys).toEqual([reg.key]);

    await reg.deregister();
    await other.put(reg.key).value(value);
    await other.delete().key(reg.key);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await other.get(reg.key).string()).toBeNull();
  }, 20_000);

  it("does not touch a sibling key of the service that it does not own", async () => {
    const client = etcd.client();
    const service = newService("sibling");
    await using _reg = await register({ client, service, addr: "10.0.1.2:80", ttl: 5 });
    await client.put(`${service}/foreign`).value(encodeEndpoint({ addr: "10.9.9.9:1" }));
    await client.delete().key(`${service}/foreign`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await client.get(`${service}/foreign`).string()).toBeNull();
  });
});

describe("long TTLs", () => {
  // Node fires a timer longer than 2^31 - 1 ms (24.8 days) after 1 ms: keep-alive deadlines derived
  // from such a TTL made the lease count as lost at once, again and again.
  it.each([
    ["30 days", 2_592_000],
    ["etcd's longest, 9,000,000,000 s", 9_000_000_000],
  ])("registers with a TTL of %s and keeps its one lease, without a timer overflow", async (_, ttl) => {
    const client = etcd.client();
    const overflows: Error[] = [];
    const onWarning = (warning: Error) => {
      if (warning.name === "TimeoutOverflowWarning") overflows.push(warning);
    };
    process.on("warning", onWarning);
    try {
      const grants = vi.spyOn(client.leaseClient, "leaseGrant");
      await using reg = await register({ client, service: newService("long-ttl"), addr: "10.0.2.1:80", ttl });
      const lost: unknown[] = [];
      reg.on("lost", (error) => lost.push(error));
      reg.on("reregistered", (id) => lost.push(id));
      const lease = await leaseTimeToLive(etcd.endpoints, reg.leaseId);
      expect(lease.grantedTtl).toBe(ttl);
      expect(lease.keys).toEqual([reg.key]);
      // A loop of lost leases shows within milliseconds; give it far longer.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(lost).toEqual([]);
      expect(grants).toHaveBeenCalledTimes(1);
      expect(overflows).toEqual([]);
      await reg.deregister();
      expect((await leaseTimeToLive(etcd.endpoints, reg.leaseId)).ttl).toBe(-1);
    } finally {
      process.off("warning", onWarning);
    }
  });
});

describe("large values", () => {
  it("writes registrations made together in transactions etcd accepts, however large their values", async () => {
    const client = etcd.client();
    const service = newService("large");
    // 40 values of 60 KB: 2.4 MB in one transaction, above etcd's --max-request-bytes (1.5 MiB).
    const metadata = "m".repeat(60_000);
    const registrations = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        register({ client, service, addr: `10.3.0.${i}:1`, metadata, ttl: 10, logger: quiet }),
      ),
    );
    expect(Object.keys(await keysUnder(client, service))).toHaveLength(40);
    await Promise.all(registrations.map((r) => r.deregister()));
  });
});

describe("keys as bytes", () => {
  it("does not mistake the delete of a key differing only in bytes that are not UTF-8 for its own", async () => {
    const client = etcd.client();
    const service = newService("bytes");
    // A key holding U+FFFD, and a foreign key whose last byte is not UTF-8: a lossy decode makes them equal.
    await using own = await register({
      client,
      service,
      addr: "10.0.1.3:80",
      key: `${service}/k-\ufffd`,
      ttl: 5,
    });
    await using witness = await register({ client, service, addr: "10.0.1.4:80", ttl: 5 });
    const before = (await client.get(own.key).exec()).kvs[0]!.mod_revision;
    const foreign = Buffer.concat([Buffer.from(`${service}/k-`), Buffer.from([0xff])]);
    await client.put(foreign).value(encodeEndpoint({ addr: "10.9.9.9:1" }));
    await client.delete().key(foreign);
    // The witness's key is put back through the same delete watch, after the foreign delete was seen.
    const witnessValue = await client.get(witness.key).string();
    await client.delete().key(witness.key);
    await expect
      .poll(() => client.get(witness.key).string(), { timeout: 5000, interval: 20 })
      .toBe(witnessValue);
    expect((await client.get(own.key).exec()).kvs[0]!.mod_revision).toBe(before);
    expect(await client.get(foreign).string()).toBeNull();
  });
});

describe("deregister (behaviour 5)", () => {
  it("deletes the key at once: a watcher sees the delete, then the lease is revoked", async () => {
    const client = etcd.client();
    const observer = etcd.client();
    const service = newService("bye");
    const reg = await register({ client, service, addr: "10.0.2.1:80", ttl: 10 });
    const watcher = await observer.watch().key(reg.key).create();
    let seenAt: number | undefined;
    watcher.on("delete", () => {
      seenAt ??= performance.now();
    });
    const started = performance.now();
    await reg.deregister();
    await vi.waitFor(() => expect(seenAt).toBeDefined(), { timeout: 2000, interval: 5 });
    const latency = (seenAt ?? 0) - started;
    console.info(`[registrar] deregister -> watcher delete: ${latency.toFixed(1)} ms`);
    await watcher.cancel();

    expect(await observer.get(reg.key).string()).toBeNull();
    expect((await leaseTimeToLive(etcd.endpoints, reg.leaseId)).ttl).toBe(-1);
    // Idempotent, and silent afterwards.
    await reg.deregister();
    await expect(reg.setMetadata("x")).rejects.toMatchObject({ code: "DEREGISTERED" });
  });

  it("keeps the shared lease while other registrations remain", async () => {
    const client = etcd.client();
    const service = newService("share");
    const a = await register({ client, service, addr: "10.0.2.2:80", ttl: 7 });
    const b = await register({ client, service, addr: "10.0.2.3:80", ttl: 7 });
    expect(b.leaseId).toBe(a.leaseId);
    await a.deregister();
    const ttl = await leaseTimeToLive(etcd.endpoints, b.leaseId);
    expect(ttl.keys).toEqual([b.key]);
    expect(ttl.ttl).toBeGreaterThan(0);
    await b.deregister();
    expect((await leaseTimeToLive(etcd.endpoints, b.leaseId)).ttl).toBe(-1);
    expect(await keysUnder(client, service)).toEqual({});
  });
});

describe("many registrations (behaviour 6)", () => {
  it("registers 1,000 endpoints on one lease in batched transactions with one keep-alive stream", async () => {
    const client = etcd.client();
    const grant = vi.spyOn(client.leaseClient, "leaseGrant");
    const keepAlive = vi.spyOn(MemberRouter.prototype, "openKeepAlive");
    const txn = vi.spyOn(client.kv, "txn");
    const service = newService("fleet");

    const started = performance.now();
    const regs: Registration[] = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        register({ client, service, addr: `10.1.${i >> 8}.${i & 255}:8080`, ttl: 3 }),
      ),
    );
    const registerMs = performance.now() - started;
    console.info(
      `[registrar] 1,000 registrations: ${registerMs.toFixed(0)} ms, ${txn.mock.calls.length} txns`,
    );

    expect(grant).toHaveBeenCalledTimes(1);
    expect(new Set(regs.map((r) => r.leaseId)).size).toBe(1);
    expect(txn.mock.calls.length).toBe(Math.ceil(1000 / 128));
    for (const [request] of txn.mock.calls) expect(request.success?.length).toBeLessThanOrEqual(128);
    const leaseId = regs[0]!.leaseId;
    expect((await leaseTimeToLive(etcd.endpoints, leaseId)).keys).toHaveLength(1000);
    expect(Object.keys(await keysUnder(client, service))).toHaveLength(1000);

    // Past the TTL: several keep-alives went out, all on one stream.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(
      keepAlive.mock.contexts.filter((streams) => (streams as MemberRouter).client === client),
    ).toHaveLength(1);
    expect((await leaseTimeToLive(etcd.endpoints, leaseId)).keys).toHaveLength(1000);

    const deregisterStarted = performance.now();
    await Promise.all(regs.map((r) => r.deregister()));
    console.info(
      `[registrar] 1,000 deregistrations: ${(performance.now() - deregisterStarted).toFixed(0)} ms`,
    );
    expect(await keysUnder(client, service)).toEqual({});
    expect((await leaseTimeToLive(etcd.endpoints, leaseId)).ttl).toBe(-1);
  }, 30_000);
});

describe("bad input (behaviour 7)", () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ["an empty address", { addr: "" }, "INVALID_INPUT"],
    ["an address with whitespace", { addr: "10.0.0.1 :80" }, "INVALID_INPUT"],
    ["an address with a control character", { addr: "10.0.0.1:80\n" }, "INVALID_INPUT"],
    ["a non-string address", { addr: 8080 }, "INVALID_INPUT"],
    ["nested metadata with a function", { metadata: { a: { f: () => 1 } } }, "INVALID_INPUT"],
    ["nested metadata with a bigint", { metadata: { a: [1n] } }, "INVALID_INPUT"],
    ["cyclic metadata", { metadata: cyclic() }, "INVALID_INPUT"],
    ["NaN metadata", { metadata: { n: Number.NaN } }, "INVALID_INPUT"],
    ["a TTL below etcd's minimum", { ttl: 1 }, "INVALID_INPUT"],
    ["a fractional TTL", { ttl: 2.5 }, "INVALID_INPUT"],
    ["an invalid service", { service: "a//b" }, "INVALID_INPUT"],
    ["a key outside the service", { key: "elsewhere/x" }, "KEY_OUTSIDE_SERVICE"],
  ];

  it.each(cases)("refuses %s before anything is written", async (_, override, code) => {
    const client = etcd.client();
    const grant = vi.spyOn(client.leaseClient, "leaseGrant");
    const txn = vi.spyOn(client.kv, "txn");
    const service = newService("bad");
    const options = { client, service, addr: "10.0.3.1:80", ttl: 5, ...override } as Parameters<
      typeof register
    >[0];
    const error = await register(options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RegistrarError);
    expect((error as RegistrarError).code).toBe(code);
    expect((error as RegistrarError).message.length).toBeGreaterThan(10);
    expect(grant).not.toHaveBeenCalled();
    expect(txn).not.toHaveBeenCalled();
    expect(await client.getAll().prefix(`${etcd.namespace}/bad`).keys()).toEqual([]);
  });

  it("names Go's message for a key outside the service", async () => {
    const client = etcd.client();
    await expect(
      register({ client, service: "svc", addr: "10.0.3.2:80", key: "other/10.0.3.2:80" }),
    ).rejects.toThrow("register: endpoint key should be prefixed with 'svc/' got: 'other/10.0.3.2:80'");
  });

  it("keeps a valid explicit key under the service", async () => {
    const client = etcd.client();
    const service = newService("explicit");
    await using reg = await register({
      client,
      service,
      addr: "10.0.3.3:80",
      key: `${service}/pod-7`,
      ttl: 5,
    });
    const decoded = decodeEndpoint((await client.get(`${service}/pod-7`).buffer()) ?? "");
    expect(decoded.ok && decoded.endpoint.addr).toBe("10.0.3.3:80");
    expect(reg.key).toBe(`${service}/pod-7`);
  });
});

function cyclic(): unknown {
  const a: Record<string, unknown> = {};
  a["self"] = { a };
  return a;
}
