import { describe, expect, it, vi } from "vitest";
import { AddressCache } from "./address-cache.js";
import { matchesFilters, type RegisteredEndpoint, selectEndpoints } from "./select.js";
import { RendezvousSubset } from "./subset.js";

const none = Object.create(null) as Record<string, string>;

function filters(values: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, values);
}

describe("matchesFilters", () => {
  it("keeps everything when there is no filter, whatever the metadata", () => {
    for (const metadata of [null, "text", 3, [1], { zone: "a" }])
      expect(matchesFilters(metadata, none)).toBe(true);
  });

  it("compares own properties of object metadata as text", () => {
    const zoneA = filters({ zone: "a" });
    expect(matchesFilters({ zone: "a", other: 1 }, zoneA)).toBe(true);
    expect(matchesFilters({ zone: "b" }, zoneA)).toBe(false);
    expect(matchesFilters({}, zoneA)).toBe(false);
    expect(matchesFilters({ weight: 3 }, filters({ weight: "3" }))).toBe(true);
    expect(matchesFilters({ canary: true }, filters({ canary: "true" }))).toBe(true);
    expect(matchesFilters({ zone: { nested: "a" } }, zoneA)).toBe(false);
    expect(matchesFilters({ zone: null }, filters({ zone: "null" }))).toBe(false);
  });

  it("matches the attribute string form like an object's fields", () => {
    const zoneA = filters({ zone: "a" });
    expect(matchesFilters("zone=a", zoneA)).toBe(true);
    expect(matchesFilters("weight=3;zone=a", filters({ zone: "a", weight: "3" }))).toBe(true);
    expect(matchesFilters("zone=b", zoneA)).toBe(false);
    expect(matchesFilters("note=a%3Bb", filters({ note: "a;b" }))).toBe(true);
    expect(matchesFilters("__proto__=x", filters({ __proto__: "x" }))).toBe(true);
    expect(matchesFilters("zone=a", filters({ toString: "x" }))).toBe(false);
  });

  it("never matches array or absent metadata, nor a string that is not an attribute string", () => {
    const zoneA = filters({ zone: "a" });
    for (const metadata of [null, undefined, "a", "zone=a;zone=a", "zone=a b", ["zone=a"], 7]) {
      expect(matchesFilters(metadata, zoneA)).toBe(false);
    }
  });

  it("requires every filter", () => {
    const both = filters({ zone: "a", tier: "gold" });
    expect(matchesFilters({ zone: "a", tier: "gold" }, both)).toBe(true);
    expect(matchesFilters({ zone: "a", tier: "silver" }, both)).toBe(false);
  });

  it("ignores inherited properties, including Object.prototype's", () => {
    expect(matchesFilters({}, filters({ toString: "x" }))).toBe(false);
    expect(matchesFilters({}, filters({ constructor: "function Object() { [native code] }" }))).toBe(false);
    const parsed = JSON.parse('{"__proto__": {"zone": "a"}}') as unknown;
    expect(matchesFilters(parsed, filters({ zone: "a" }))).toBe(false);
    expect(matchesFilters(parsed, filters({ __proto__: "[object Object]" }))).toBe(true);
  });
});

describe("selectEndpoints", () => {
  const registered: RegisteredEndpoint[] = [
    { key: "svc/c", addr: "10.0.0.3:80", metadata: { zone: "b" } },
    { key: "svc/a", addr: "10.0.0.1:80", metadata: { zone: "a" } },
    { key: "svc/b", addr: "10.0.0.2:80", metadata: "zone=a" },
    { key: "svc/d", addr: "unix:///tmp/d.sock", metadata: null },
  ];

  it("returns grpc-js endpoints in key order", () => {
    const { keys, endpoints } = selectEndpoints(registered, { filters: none });
    expect(keys).toEqual(["svc/a", "svc/b", "svc/c", "svc/d"]);
    expect(endpoints).toEqual([
      { addresses: [{ host: "10.0.0.1", port: 80 }] },
      { addresses: [{ host: "10.0.0.2", port: 80 }] },
      { addresses: [{ host: "10.0.0.3", port: 80 }] },
      { addresses: [{ path: "/tmp/d.sock" }] },
    ]);
  });

  it("keeps the three lists aligned in one pass, and each address's grpc-js endpoint across selections", () => {
    const addresses = new AddressCache();
    const sorted = [...registered].sort((a, b) => (a.key < b.key ? -1 : 1));
    const first = selectEndpoints(sorted, {
      filters: none,
      addresses,
      inKeyOrder: true,
      withAttributes: true,
    });
    expect(first.ids).toEqual(["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "unix:/tmp/d.sock"]);
    expect(first.attributes).toHaveLength(4);
    const again = selectEndpoints(sorted, { filters: filters({ zone: "a" }), addresses, inKeyOrder: true });
    expect(again.keys).toEqual(["svc/a", "svc/b"]);
    expect(again.ids).toEqual(["10.0.0.1:80", "10.0.0.2:80"]);
    // The same address text gives the same endpoint object: nothing is built again per update.
    expect(again.endpoints[0]).toBe(first.endpoints[0]);
    expect(again.endpoints[1]).toBe(first.endpoints[1]);
  });

  it("sorts endpoints that are out of key order unless the caller vouches for the order", () => {
    expect(selectEndpoints(registered, { filters: none }).keys).toEqual(["svc/a", "svc/b", "svc/c", "svc/d"]);
    // inKeyOrder is the watcher's promise; given, the order is taken as it is.
    expect(selectEndpoints(registered, { filters: none, inKeyOrder: true }).keys).toEqual([
      "svc/c",
      "svc/a",
      "svc/b",
      "svc/d",
    ]);
  });

  it("filters on attributes, from object metadata and from the attribute string alike", () => {
    expect(selectEndpoints(registered, { filters: filters({ zone: "a" }) }).keys).toEqual(["svc/a", "svc/b"]);
    expect(selectEndpoints(registered, { filters: filters({ zone: "b" }) }).keys).toEqual(["svc/c"]);
  });

  it("uses the attributes the watcher read when an endpoint carries them", () => {
    const read = Object.freeze(Object.assign(Object.create(null) as Record<string, string>, { zone: "z" }));
    const withAttributes = [{ key: "svc/e", addr: "10.0.0.5:80", metadata: "zone=a", attributes: read }];
    expect(selectEndpoints(withAttributes, { filters: filters({ zone: "z" }) }).keys).toEqual(["svc/e"]);
    expect(selectEndpoints(withAttributes, { filters: filters({ zone: "a" }) }).keys).toEqual([]);
  });

  it("skips undiallable addresses and names their keys", () => {
    const onInvalidAddress = vi.fn();
    const { keys } = selectEndpoints([...registered, { key: "svc/bad", addr: "nope:port", metadata: null }], {
      filters: none,
      onInvalidAddress,
    });
    expect(keys).not.toContain("svc/bad");
    expect(onInvalidAddress).toHaveBeenCalledExactlyOnceWith("svc/bad", "nope:port");
  });

  it("drops a second key for the same address", () => {
    const { keys } = selectEndpoints(
      [
        { key: "svc/y", addr: "10.0.0.9:80", metadata: null },
        { key: "svc/x", addr: " 10.0.0.9:80", metadata: null },
      ],
      { filters: none },
    );
    expect(keys).toEqual(["svc/x"]);
  });

  it("applies the subset after the filters", () => {
    const many = Array.from({ length: 50 }, (_, i) => ({
      key: `svc/${i}`,
      addr: `10.0.1.${i}:80`,
      metadata: { zone: i % 2 === 0 ? "a" : "b" },
    }));
    const { keys } = selectEndpoints(many, {
      filters: filters({ zone: "a" }),
      subset: new RendezvousSubset("seed"),
      subsetSize: 5,
    });
    expect(keys).toHaveLength(5);
    for (const key of keys) expect(Number(key.slice(4)) % 2).toBe(0);
  });
});

describe("selectEndpoints' parsed addresses", () => {
  it("parses a frozen endpoint once and follows a mutable one's changes", () => {
    const a = Object.freeze({ key: "svc/a", addr: "10.0.0.1:1", metadata: null });
    const first = selectEndpoints([a], { filters: none }).endpoints[0]!.addresses[0];
    const again = selectEndpoints([a], { filters: none }).endpoints[0]!.addresses[0];
    expect(again).toBe(first);
    expect(again).toEqual({ host: "10.0.0.1", port: 1 });

    // A new version of the key is a new object: parsed afresh.
    const changed = Object.freeze({ ...a, addr: "10.0.0.1:2" });
    expect(selectEndpoints([changed], { filters: none }).endpoints[0]!.addresses[0]).toEqual({
      host: "10.0.0.1",
      port: 2,
    });

    // An object that can change is never cached.
    const mutable = { key: "svc/m", addr: "10.0.0.9:1", metadata: null };
    selectEndpoints([mutable], { filters: none });
    mutable.addr = "10.0.0.9:2";
    expect(selectEndpoints([mutable], { filters: none }).endpoints[0]!.addresses[0]).toEqual({
      host: "10.0.0.9",
      port: 2,
    });

    // An undiallable address is remembered as such, and still reported on every selection.
    const bad = Object.freeze({ key: "svc/bad", addr: "not an address", metadata: null });
    const invalid = vi.fn();
    selectEndpoints([bad], { filters: none, onInvalidAddress: invalid });
    selectEndpoints([bad], { filters: none, onInvalidAddress: invalid });
    expect(invalid).toHaveBeenCalledTimes(2);
  });
});

describe("selectEndpoints with a depth", () => {
  const endpoint = (key: string, port: number) => ({ key, addr: `10.0.0.1:${port}`, metadata: null });
  const all = [
    endpoint("team/a", 1),
    endpoint("team/greeter/b", 2),
    endpoint("team/greeter/deep/c", 3),
    endpoint("team/z", 4),
  ];
  const keysAt = (levels: number | undefined) =>
    selectEndpoints(all, {
      filters: none,
      depth: levels === undefined ? undefined : { prefix: "team/", levels },
    }).keys;

  it("keeps the keys at most that many levels below the service", () => {
    expect(keysAt(undefined)).toEqual(["team/a", "team/greeter/b", "team/greeter/deep/c", "team/z"]);
    expect(keysAt(1)).toEqual(["team/a", "team/z"]);
    expect(keysAt(2)).toEqual(["team/a", "team/greeter/b", "team/z"]);
    expect(keysAt(3)).toEqual(["team/a", "team/greeter/b", "team/greeter/deep/c", "team/z"]);
  });
});
