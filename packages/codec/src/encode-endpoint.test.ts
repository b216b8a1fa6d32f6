import { describe, expect, it } from "vitest";
import { decodeEndpoint } from "./decode-endpoint.js";
import { encodeEndpoint } from "./encode-endpoint.js";
import { isObjectMetadata, validateMetadata } from "./metadata.js";
import { NamingError } from "./naming-error.js";
import { goEncodeCases } from "./test-go-cases.js";

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (error) {
    return error instanceof NamingError ? error.code : `not a NamingError: ${String(error)}`;
  }
  return undefined;
};

describe("encodeEndpoint writes Go's bytes", () => {
  it.each(goEncodeCases)("%s", (_name, metadata, value) => {
    expect(encodeEndpoint({ addr: "h:1", metadata })).toBe(value);
  });

  it("writes null when there is no metadata", () => {
    expect(encodeEndpoint({ addr: "h:1" })).toBe('{"Op":0,"Addr":"h:1","Metadata":null}');
    expect(encodeEndpoint({ addr: "h:1", metadata: null })).toBe('{"Op":0,"Addr":"h:1","Metadata":null}');
  });

  it("writes negative zero as -0, as Go does", () => {
    expect(encodeEndpoint({ addr: "h:1", metadata: -0 })).toBe('{"Op":0,"Addr":"h:1","Metadata":-0}');
  });

  it("escapes the address too", () => {
    expect(encodeEndpoint({ addr: "a<b>&c" })).toBe(
      '{"Op":0,"Addr":"a\\u003cb\\u003e\\u0026c","Metadata":null}',
    );
  });

  it("writes a lone surrogate as \\ufffd, Go's spelling for text that is not UTF-8", () => {
    expect(encodeEndpoint({ addr: "h:1", metadata: "a\ud800b\udc00" })).toBe(
      '{"Op":0,"Addr":"h:1","Metadata":"a\\ufffdb\\ufffd"}',
    );
  });

  it("keeps a __proto__ own key and accepts null-prototype objects", () => {
    const meta = JSON.parse('{"__proto__":{"x":1},"a":2}');
    expect(encodeEndpoint({ addr: "h:1", metadata: meta })).toBe(
      '{"Op":0,"Addr":"h:1","Metadata":{"__proto__":{"x":1},"a":2}}',
    );
    const bare = Object.assign(Object.create(null), { b: 1, a: 2 });
    expect(encodeEndpoint({ addr: "h:1", metadata: bare })).toBe(
      '{"Op":0,"Addr":"h:1","Metadata":{"a":2,"b":1}}',
    );
  });

  it("accepts the same object twice when it is not a cycle", () => {
    const shared = { z: 1 };
    expect(encodeEndpoint({ addr: "h:1", metadata: [shared, { s: shared }] })).toBe(
      '{"Op":0,"Addr":"h:1","Metadata":[{"z":1},{"s":{"z":1}}]}',
    );
  });

  it("round-trips through decodeEndpoint", () => {
    for (const [, metadata, value] of goEncodeCases) {
      const r = decodeEndpoint(value);
      expect(r).toEqual({ ok: true, endpoint: { op: 0, addr: "h:1", metadata } });
    }
  });
});

describe("encodeEndpoint rejections", () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic["self"] = { back: cyclic };
  const sparse: number[] = [1];
  sparse[2] = 3;
  class Point {
    x = 1;
  }
  const bad: [string, unknown][] = [
    ["a function", { f: () => 1 }],
    ["a bigint", [1n]],
    ["a symbol", Symbol("s")],
    ["NaN", Number.NaN],
    ["Infinity", { n: Infinity }],
    ["-Infinity", [-Infinity]],
    ["a nested undefined value", { a: undefined }],
    ["undefined in an array", [undefined]],
    ["a sparse array", sparse],
    ["a cycle", cyclic],
    ["a Date", new Date(0)],
    ["a Map", new Map([["a", 1]])],
    ["a class instance", new Point()],
    ["a boxed string", new String("x")],
    ["keys equal after lone-surrogate replacement", { "\ud800": 1, "\udc00": 2 }],
    [
      "a throwing getter",
      Object.defineProperty({}, "g", {
        enumerable: true,
        get: () => {
          throw new Error("boom");
        },
      }),
    ],
  ];

  it.each(bad)("rejects %s with INVALID_METADATA", (_name, metadata) => {
    expect(codeOf(() => encodeEndpoint({ addr: "h:1", metadata }))).toBe("INVALID_METADATA");
    expect(codeOf(() => validateMetadata(metadata))).toBe("INVALID_METADATA");
  });

  it("names the path of the bad value", () => {
    expect(() => validateMetadata({ labels: [1, { when: 2n }] })).toThrow(
      /metadata\["labels"\]\[1\]\["when"\] is a bigint/,
    );
    expect(() => validateMetadata(cyclic)).toThrow(/metadata\["self"\]\["back"\] refers back to itself/);
  });

  it("limits nesting to maxDepth containers (default 32)", () => {
    const nest = (n: number): unknown => (n === 0 ? "leaf" : [nest(n - 1)]);
    expect(() => validateMetadata(nest(32))).not.toThrow();
    expect(codeOf(() => validateMetadata(nest(33)))).toBe("INVALID_METADATA");
    expect(() => validateMetadata(nest(3), { maxDepth: 3 })).not.toThrow();
    expect(codeOf(() => validateMetadata(nest(4), { maxDepth: 3 }))).toBe("INVALID_METADATA");
    expect(codeOf(() => encodeEndpoint({ addr: "h:1", metadata: nest(2) }, { maxDepth: 1 }))).toBe(
      "INVALID_METADATA",
    );
  });

  it("turns a stack overflow on absurd nesting into INVALID_METADATA", () => {
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(codeOf(() => validateMetadata(deep, { maxDepth: Infinity }))).toBe("INVALID_METADATA");
  });

  it("accepts undefined at the top as 'no metadata'", () => {
    expect(() => validateMetadata(undefined)).not.toThrow();
  });

  it.each([
    ["empty", ""],
    ["a space", "1.2.3.4 :80"],
    ["a newline", "h:1\n"],
    ["a NUL", "h\u0000:1"],
    ["a DEL", "h\u007f:1"],
    ["a C1 control", "h\u0085:1"],
    ["a no-break space", "h\u00a0:1"],
    ["a line separator", "h\u2028:1"],
    ["a lone surrogate", "h\ud800:1"],
  ])("rejects an address with %s (INVALID_ADDRESS)", (_name, addr) => {
    expect(codeOf(() => encodeEndpoint({ addr }))).toBe("INVALID_ADDRESS");
  });

  it("rejects a non-string address and a non-object endpoint", () => {
    expect(codeOf(() => encodeEndpoint({ addr: 5 as unknown as string }))).toBe("INVALID_ADDRESS");
    expect(codeOf(() => encodeEndpoint(null as unknown as { addr: string }))).toBe("INVALID_ADDRESS");
  });

  it("rejects values over maxBytes (default 64 KiB) with VALUE_TOO_LARGE", () => {
    const base = encodeEndpoint({ addr: "h:1", metadata: "" }).length;
    expect(() => encodeEndpoint({ addr: "h:1", metadata: "x".repeat(65536 - base) })).not.toThrow();
    expect(codeOf(() => encodeEndpoint({ addr: "h:1", metadata: "x".repeat(65537 - base) }))).toBe(
      "VALUE_TOO_LARGE",
    );
    // "é" is one UTF-16 unit but two UTF-8 bytes.
    expect(
      codeOf(() => encodeEndpoint({ addr: "h:1", metadata: "é".repeat(20) }, { maxBytes: base + 39 })),
    ).toBe("VALUE_TOO_LARGE");
    expect(() =>
      encodeEndpoint({ addr: "h:1", metadata: "é".repeat(20) }, { maxBytes: base + 40 }),
    ).not.toThrow();
  });
});

describe("isObjectMetadata", () => {
  it("flags objects and arrays, the metadata older Go resolvers panic on", () => {
    expect(isObjectMetadata({ zone: "a" })).toBe(true);
    expect(isObjectMetadata([1])).toBe(true);
    expect(isObjectMetadata(Object.create(null))).toBe(true);
    for (const scalar of ["zone=a", 1, true, null, undefined]) expect(isObjectMetadata(scalar)).toBe(false);
  });
});
