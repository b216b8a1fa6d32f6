import { describe, expect, it } from "vitest";
import { decodeEndpoint } from "./decode-endpoint.js";
import { NamingError } from "./naming-error.js";
import { goDecodeCases } from "./test-go-cases.js";

describe("decodeEndpoint reads what Go reads", () => {
  it.each(goDecodeCases)("%s", (_name, value, expected) => {
    const result = decodeEndpoint(value);
    if (typeof expected === "string") {
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error).toBeInstanceOf(NamingError);
        expect(result.error.code).toBe(expected);
      }
    } else {
      expect(result).toEqual({
        ok: true,
        endpoint: { op: expected.op ?? 0, addr: expected.addr, metadata: expected.metadata ?? null },
      });
    }
  });
});

describe("decodeEndpoint messages", () => {
  it("reports Go's syntax error text", () => {
    const r = decodeEndpoint('{"Addr":"h:8"} x');
    expect(!r.ok && r.error.message).toMatch(/invalid character 'x' after top-level value/);
    const e = decodeEndpoint("");
    expect(!e.ok && e.error.message).toMatch(/unexpected end of JSON input/);
  });

  it("names the bad field", () => {
    const r = decodeEndpoint('{"Op":256,"Addr":"a"}');
    expect(!r.ok && r.error.message).toMatch(/Op must be an integer in 0\.\.255.*256/);
  });
});

describe("decodeEndpoint limits", () => {
  const nested = (levels: number) => `{"Addr":"a","Metadata":${"[".repeat(levels)}${"]".repeat(levels)}}`;

  it("accepts metadata nested up to maxDepth and rejects one more", () => {
    expect(decodeEndpoint(nested(32)).ok).toBe(true);
    const r = decodeEndpoint(nested(33));
    expect(!r.ok && r.error.code).toBe("INVALID_METADATA");
    expect(decodeEndpoint(nested(3), { maxDepth: 3 }).ok).toBe(true);
    const s = decodeEndpoint(nested(4), { maxDepth: 3 });
    expect(!s.ok && s.error.code).toBe("INVALID_METADATA");
    expect(decodeEndpoint('{"Addr":"a","Metadata":"flat"}', { maxDepth: 0 }).ok).toBe(true);
  });

  it("applies Go's 10000-level nesting limit to ignored fields, without exhausting the stack", () => {
    const at = (levels: number) => `{"Addr":"a","Extra":${"[".repeat(levels)}${"]".repeat(levels)}}`;
    expect(decodeEndpoint(at(9999), { maxBytes: Infinity }).ok).toBe(true);
    const r = decodeEndpoint(at(10000), { maxBytes: Infinity });
    expect(!r.ok && r.error.code).toBe("INVALID_JSON");
    expect(!r.ok && r.error.message).toMatch(/exceeded max depth/);
    const deep = decodeEndpoint(nested(9999), { maxBytes: Infinity, maxDepth: 20000 });
    expect(deep.ok).toBe(true);
  });

  it("measures maxBytes in UTF-8 bytes for strings and bytes alike", () => {
    const value = '{"Addr":"東京"}'; // 17 bytes, 13 UTF-16 units
    expect(decodeEndpoint(value, { maxBytes: 17 }).ok).toBe(true);
    const r = decodeEndpoint(value, { maxBytes: 16 });
    expect(!r.ok && r.error.code).toBe("VALUE_TOO_LARGE");
    const b = decodeEndpoint(new TextEncoder().encode(value), { maxBytes: 16 });
    expect(!b.ok && b.error.code).toBe("VALUE_TOO_LARGE");
  });

  it("defaults to 64 KiB", () => {
    const fill = (n: number) => `{"Addr":"a","Metadata":"${"x".repeat(n)}"}`;
    const base = fill(0).length;
    expect(decodeEndpoint(fill(65536 - base)).ok).toBe(true);
    const r = decodeEndpoint(fill(65537 - base));
    expect(!r.ok && r.error.code).toBe("VALUE_TOO_LARGE");
  });

  it("throws RangeError for invalid options only", () => {
    expect(() => decodeEndpoint("{}", { maxBytes: -1 })).toThrow(RangeError);
    expect(() => decodeEndpoint("{}", { maxDepth: 1.5 })).toThrow(RangeError);
    expect(() => decodeEndpoint("{}", { maxDepth: Number.NaN })).toThrow(RangeError);
  });
});

describe("decodeEndpoint input kinds", () => {
  it("reads a Buffer", () => {
    const r = decodeEndpoint(Buffer.from('{"Addr":"h:1"}'));
    expect(r.ok && r.endpoint.addr).toBe("h:1");
  });

  it("returns an error for a value that is neither string nor bytes", () => {
    for (const v of [undefined, null, 42, {}, ["x"]]) {
      const r = decodeEndpoint(v as unknown as string);
      expect(!r.ok && r.error.code).toBe("INVALID_VALUE");
    }
  });

  it("builds metadata as plain objects with own data properties", () => {
    const r = decodeEndpoint(
      '{"Addr":"a","Metadata":{"__proto__":{"polluted":true},"a":[{"constructor":1}]}}',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const meta = r.endpoint.metadata as Record<string, unknown>;
    expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(meta, "__proto__")?.value).toEqual({ polluted: true });
    expect((meta as { polluted?: unknown }).polluted).toBeUndefined();
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.hasOwn((meta["a"] as object[])[0]!, "constructor")).toBe(true);
  });
});
