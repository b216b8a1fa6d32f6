import { formatTarget, parseTarget } from "@etcd-naming/codec";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ResolverError } from "./errors.js";
import { parseEtcdTarget, RESERVED_PARAMS } from "./target.js";

// grpc-js's own URI split, reproduced for the forms users type.
function uri(text: string) {
  const match = /^(?:([A-Za-z0-9+.-]+):)?(?:\/\/([^/]*)\/)?(.+)$/.exec(text)!;
  return { scheme: match[1], authority: match[2], path: match[3]! };
}

function failure(text: string): ResolverError {
  try {
    parseEtcdTarget(uri(text), "etcd");
  } catch (error) {
    expect(error).toBeInstanceOf(ResolverError);
    expect((error as ResolverError).code).toBe("INVALID_TARGET");
    return error as ResolverError;
  }
  throw new Error(`${text} was accepted`);
}

describe("parseEtcdTarget", () => {
  it("reads flat and nested services", () => {
    expect(parseEtcdTarget(uri("etcd:///my-service"), "etcd")).toEqual({
      service: "my-service",
      filters: {},
    });
    expect(parseEtcdTarget(uri("etcd:///foo/bar/svc"), "etcd").service).toBe("foo/bar/svc");
  });

  it("turns query parameters into metadata filters, except the reserved ones", () => {
    const target = parseEtcdTarget(
      uri("etcd:///svc?zone=us-east-1a&tier=gold&lb=pick_first&subset=32&depth=1"),
      "etcd",
    );
    expect(target.service).toBe("svc");
    expect({ ...target.filters }).toEqual({ zone: "us-east-1a", tier: "gold" });
    expect(Object.getPrototypeOf(target.filters)).toBeNull();
    expect(target.policy).toBe("pick_first");
    expect(target.subset).toBe(32);
    expect(target.depth).toBe(1);
    expect(parseEtcdTarget(uri("etcd:///svc?outlier=on"), "etcd").outlier).toBe(true);
    expect(parseEtcdTarget(uri("etcd:///svc?outlier=off"), "etcd").outlier).toBe(false);
    expect(parseEtcdTarget(uri("etcd:///svc"), "etcd").depth).toBeUndefined();
  });

  it("decodes percent-encoded filter values", () => {
    expect(parseEtcdTarget(uri("etcd:///svc?zone=a%20b"), "etcd").filters["zone"]).toBe("a b");
  });

  it("keeps + as + in the query and the service, like the codec's parseTarget", () => {
    expect({ ...parseEtcdTarget(uri("etcd:///svc?zone=a+b"), "etcd").filters }).toEqual({ zone: "a+b" });
    expect(parseEtcdTarget(uri("etcd:///svc?zone=a%2Bb"), "etcd").filters["zone"]).toBe("a+b");
    expect(parseEtcdTarget(uri("etcd:///my%2Dservice"), "etcd").service).toBe("my-service");
  });

  it("reads every target exactly as the codec's parseTarget does", () => {
    const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 });
    const segment = text.filter((s) => s !== "." && s !== ".." && !/[\s\p{Cc}/]/u.test(s));
    fc.assert(
      fc.property(
        fc.array(segment, { minLength: 1, maxLength: 3 }),
        fc.dictionary(
          text.filter((k) => !RESERVED_PARAMS.includes(k)),
          fc.string({ maxLength: 8 }),
          {
            maxKeys: 4,
          },
        ),
        (segments, params) => {
          const target = formatTarget(segments.join("/"), params);
          const codec = parseTarget(target);
          const resolver = parseEtcdTarget(uri(target), "etcd");
          expect(resolver.service).toBe(codec.service);
          expect({ ...resolver.filters }).toEqual({ ...codec.params });
        },
      ),
      { seed: 14, numRuns: 300 },
    );
    for (const raw of ["etcd:///s?a=1+2&b=%2B&c=x%20y&d", "etcd:///a+b/c%2Fd?k+1=v=w"]) {
      const codec = parseTarget(raw);
      const resolver = parseEtcdTarget(uri(raw), "etcd");
      expect(resolver.service).toBe(codec.service);
      expect({ ...resolver.filters }).toEqual({ ...codec.params });
    }
  });

  it("keeps __proto__ as an ordinary filter name", () => {
    const target = parseEtcdTarget(uri("etcd:///svc?__proto__=x"), "etcd");
    expect(Object.keys(target.filters)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
  });

  it("reads ?lb=weighted and ?prefer=<attribute>:<value> (the value is everything after the first colon)", () => {
    expect(parseEtcdTarget(uri("etcd:///svc?lb=weighted"), "etcd").policy).toBe("weighted");
    const target = parseEtcdTarget(uri("etcd:///svc?prefer=zone:us-east-1a&tier=gold"), "etcd");
    expect(target.prefer).toEqual({ attribute: "zone", value: "us-east-1a" });
    expect({ ...target.filters }).toEqual({ tier: "gold" });
    expect(target.policy).toBeUndefined();
    expect(
      parseEtcdTarget(uri("etcd:///svc?prefer=url:http%3A%2F%2Fa:1&lb=weighted"), "etcd").prefer,
    ).toEqual({
      attribute: "url",
      value: "http://a:1",
    });
    expect(parseEtcdTarget(uri("etcd:///svc?prefer=canary:"), "etcd").prefer).toEqual({
      attribute: "canary",
      value: "",
    });
  });

  it("rejects etcd://svc with a message showing the right form", () => {
    expect(failure("etcd://svc").message).toContain('"etcd:///svc"');
    expect(failure("etcd://foo/bar").message).toContain('"etcd:///foo/bar"');
    expect(failure("etcd:svc").message).toContain('"etcd:///svc"');
  });

  it("rejects an authority, naming the form without it", () => {
    const error = failure("etcd://host/svc");
    expect(error.message).toContain("takes no authority");
    expect(error.message).toContain('"etcd:///host/svc"');
  });

  it("uses the registered scheme in its hints", () => {
    expect(() => parseEtcdTarget(uri("naming://svc"), "naming")).toThrow('"naming:///svc"');
  });

  it.each([
    ["etcd:///svc?lb=random", "lb must be one of round_robin, pick_first, weighted"],
    ["etcd:///svc?subset=0", "subset must be a whole number"],
    ["etcd:///svc?subset=-3", "subset must be a whole number"],
    ["etcd:///svc?subset=2.5", "subset must be a whole number"],
    ["etcd:///svc?depth=0", "depth must be a whole number from 1 to 64"],
    ["etcd:///svc?depth=65", "depth must be a whole number from 1 to 64"],
    ["etcd:///svc?depth=one", "depth must be a whole number from 1 to 64"],
    ["etcd:///svc?outlier=yes", 'outlier must be "on" or "off"'],
    ["etcd:///svc?prefer=zone", "prefer must be <attribute>:<value>"],
    ["etcd:///svc?prefer=:a", "prefer must be <attribute>:<value>"],
    ["etcd:///svc?prefer=zo%20ne:a", "prefer must be <attribute>:<value>"],
    ["etcd:///svc?prefer=zone:a&lb=round_robin", "prefer needs the weighted policy: drop lb=round_robin"],
    ["etcd:///svc?lb=pick_first&prefer=zone:a", "or write lb=weighted"],
    // The codec's wording since both parse with its grammar.
    ["etcd:///svc?zone=a&zone=b", 'repeats the parameter "zone"'],
    ["etcd:///svc?=a", "has a parameter without a name"],
    ["etcd:///svc?zone=%zz", "malformed percent-encoding"],
    ["etcd:///svc#frag", "fragment"],
    ["etcd:///svc/?zone=a", "bad service name"],
    ["etcd:////svc", "bad service name"],
    ["etcd:///?zone=a", "bad service name"],
  ])("rejects %s", (text, reason) => {
    expect(failure(text).message).toContain(reason);
  });
});
