// What a hostile registry entry can do to a client: nothing beyond being skipped with a warning. Written
// straight into etcd (bypassing every encoder), then read by the watcher and a grpc-js channel.
import { decodeEndpoint, endpointKey, NamingError, validateService } from "@etcd-naming/codec";
import { callGreeterOnce, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { RegistrarError, register } from "@etcd-naming/registrar";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";

const etcd = useTestEtcd();
const ns = etcd.namespace;
const poll = { timeout: 10_000, interval: 50 };
const warnings: string[] = [];
const logger = { warn: (_fields: Record<string, unknown>, message: string) => warnings.push(message) };

const nested = (depth: number): string => `${"[".repeat(depth)}1${"]".repeat(depth)}`;
// The hostile entries that decode keep their address, so the channel dials them: loopback ports where
// nothing listens refuse at once. (An address off the machine may reach whatever the network puts there,
// a proxy answering HTTP 404, say, and the calls balanced onto it would fail.)
const hostile: Record<string, string> = {
  huge: JSON.stringify({ Op: 0, Addr: "127.0.0.1:1", Metadata: "x".repeat(70_000) }),
  deep: `{"Op":0,"Addr":"127.0.0.1:2","Metadata":${nested(10_000)}}`,
  proto:
    '{"Op":0,"Addr":"127.0.0.1:3","Metadata":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
  protoTop: '{"__proto__":{"polluted":true},"Op":0,"Addr":"127.0.0.1:4"}',
  nan: '{"Op":0,"Addr":"127.0.0.1:5","Metadata":NaN}',
  bigNumber: '{"Op":0,"Addr":"127.0.0.1:6","Metadata":1e400}',
  controlChars: '{"Op":0,"Addr":"127.0.0.1:7\\u0000\\n"}',
  opNotNumber: '{"Op":"0","Addr":"127.0.0.1:8"}',
  notJson: "\u0000\u00ff{",
  emptyAddr: '{"Op":0,"Addr":"   "}',
};

afterAll(() => {
  expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
});

describe("a malicious registry entry", () => {
  it("is skipped with a warning naming its key; the valid endpoint still serves calls", {
    timeout: 20_000,
  }, async () => {
    const client = etcd.client();
    const service = `${ns}/victim`;
    const greeter = await startGreeter("honest");
    await client.put(`${service}/honest`).value(JSON.stringify({ Op: 0, Addr: greeter.addr }));
    for (const [name, value] of Object.entries(hostile)) await client.put(`${service}/${name}`).value(value);

    const watcher = watchService(createEtcd3Source(client), service, { logger });
    const handle = registerEtcdResolver({ client, scheme: "etcd-hostile", logger });
    try {
      const named = () =>
        watcher
          .snapshot()
          .endpoints.map((e) => e.key.slice(service.length + 1))
          .sort();
      // Like Go's resolver, the watcher keeps any address it can decode; the grpc-js resolver drops the
      // undiallable ones (control characters, blanks) before grpc-js sees them.
      await expect.poll(named, poll).toEqual(["controlChars", "emptyAddr", "honest", "proto", "protoTop"]);
      const skipped = watcher
        .snapshot()
        .skipped.map((s) => s.key.slice(service.length + 1))
        .sort();
      expect(skipped).toEqual(["bigNumber", "deep", "huge", "nan", "notJson", "opNotNumber"]);
      for (const name of skipped) {
        expect(skipped).toContain(name);
        expect(warnings.some((w) => w.includes(`${service}/${name}`))).toBe(true);
      }
      for (let i = 0; i < 6; i++)
        expect(await callGreeterOnce(`etcd-hostile:///${service}`, { deadlineMs: 3_000 })).toBe("honest");
      expect(warnings.some((w) => w.includes(`${service}/controlChars`))).toBe(true);
      for (const endpoint of watcher.snapshot().endpoints) {
        expect(Object.getPrototypeOf(endpoint)).toBe(Object.prototype);
        expect(Object.isFrozen(endpoint)).toBe(true);
      }
      const proto = watcher.snapshot().endpoints.find((e) => e.key.endsWith("/proto"))!;
      const metadata = proto.metadata as Record<string, unknown>;
      // "__proto__" is kept as plain data, an own key: it never became the object's prototype.
      expect(Object.hasOwn(metadata, "__proto__")).toBe(true);
      expect(metadata["polluted"]).toBeUndefined();
      expect([null, Object.prototype]).toContain(Object.getPrototypeOf(metadata));
      expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
      expect((Object.prototype as Record<string, unknown>)["polluted"]).toBeUndefined();
    } finally {
      await watcher.close();
      await handle.close();
      greeter.close();
    }
  });

  it("fuzz: no value makes decodeEndpoint throw or pollute a prototype", () => {
    const fragments = fc.oneof(
      fc.string(),
      fc.json(),
      fc.constantFrom(
        '"__proto__"',
        '"constructor"',
        '"prototype"',
        "NaN",
        "1e999",
        "-0",
        nested(40),
        "\u0000",
      ),
    );
    fc.assert(
      fc.property(fc.array(fragments, { maxLength: 6 }), fc.string(), (parts, addr) => {
        const value = `{"Op":0,"Addr":${JSON.stringify(addr)},"Metadata":{${parts.map((p, i) => `${i === 0 ? '"__proto__"' : JSON.stringify(p)}:${p}`).join(",")}}}`;
        const result = decodeEndpoint(value);
        if (result.ok) {
          const metadata = result.endpoint.metadata as Record<string, unknown> | null;
          if (metadata !== null && typeof metadata === "object" && !Array.isArray(metadata)) {
            expect(
              Object.getPrototypeOf(metadata) === null ||
                Object.getPrototypeOf(metadata) === Object.prototype,
            ).toBe(true);
          }
        }
        expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });
});

describe("service names cannot escape or overlap their prefix", () => {
  const bad = ["svc/..", "../x", "svc/", "/svc", "svc//a", "a/./b", "svc\u0000x", "svc\nx", "", " "];

  it.each(bad)("validateService rejects %j", (name) => {
    expect(() => validateService(name)).toThrow(NamingError);
  });

  it("the registrar refuses them before writing anything", async () => {
    const client = etcd.client();
    for (const service of ["../x", "svc/..", "svc/", "a\nb"]) {
      const error = await register({ client, service, addr: "10.0.0.1:1", logger }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RegistrarError);
      expect((error as RegistrarError).code).toBe("INVALID_INPUT");
    }
  });

  it("a service never sees the keys of a sibling whose name it prefixes", { timeout: 15_000 }, async () => {
    const client = etcd.client();
    await client.put(endpointKey(`${ns}/svc`, "a")).value(JSON.stringify({ Op: 0, Addr: "10.0.0.1:1" }));
    await client.put(endpointKey(`${ns}/svc-2`, "b")).value(JSON.stringify({ Op: 0, Addr: "10.0.0.2:1" }));
    await client
      .put(endpointKey(`${ns}/svc/inner`, "c"))
      .value(JSON.stringify({ Op: 0, Addr: "10.0.0.3:1" }));
    // "*" means nothing to etcd (ranges are byte prefixes, not globs): "svc*" is a distinct service.
    await client.put(endpointKey(`${ns}/svc*`, "d")).value(JSON.stringify({ Op: 0, Addr: "10.0.0.4:1" }));
    const source = createEtcd3Source(client);
    const watchers = [`${ns}/svc`, `${ns}/svc-2`, `${ns}/svc*`].map((s) =>
      watchService(source, s, { logger }),
    );
    try {
      const addrs = (i: number) => () => watchers[i]!.snapshot().endpoints.map((e) => e.addr);
      // A nested service lives under its parent's prefix, so the parent lists it too, exactly as Go's
      // resolver does (SECURITY.md: do not nest services under another service's name).
      await expect.poll(addrs(0), poll).toEqual(["10.0.0.1:1", "10.0.0.3:1"]);
      await expect.poll(addrs(1), poll).toEqual(["10.0.0.2:1"]);
      await expect.poll(addrs(2), poll).toEqual(["10.0.0.4:1"]);
    } finally {
      await Promise.all(watchers.map((w) => w.close()));
    }
  });
});
