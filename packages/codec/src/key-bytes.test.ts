import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keyFromBytes, keyToBytes, printableKey } from "./key-bytes.js";

const bytes = (...values: number[]) => Uint8Array.from(values);
const text = (s: string) => new TextEncoder().encode(s);

describe("keyFromBytes and keyToBytes", () => {
  it("keep keys that differ only in bytes that are not UTF-8 apart", () => {
    const ff = keyFromBytes(bytes(...text("svc/k-"), 0xff));
    const fe = keyFromBytes(bytes(...text("svc/k-"), 0xfe));
    expect(ff).not.toBe(fe);
    expect(ff).toBe("svc/k-\udcff");
    expect(fe).toBe("svc/k-\udcfe");
    expect(keyToBytes(ff)).toEqual(bytes(...text("svc/k-"), 0xff));
    // A key holding U+FFFD itself is a third key.
    expect(keyFromBytes(text("svc/k-\ufffd"))).toBe("svc/k-\ufffd");
  });

  it("read valid UTF-8 as its text, astral characters and U+FFFD included", () => {
    for (const s of ["svc/10.0.0.1:80", "svc/ünïcödé", "svc/😀", "svc/\ufffd", "svc/\u0000"]) {
      expect(keyFromBytes(text(s))).toBe(s);
      expect(keyToBytes(s)).toEqual(text(s));
    }
  });

  it("escape every byte of a truncated or overlong sequence on its own", () => {
    // E2 82 is a truncated 3-byte sequence; C0 80 an overlong NUL; ED A0 80 an encoded surrogate.
    const raw = bytes(0x61, 0xe2, 0x82, 0x62, 0xc0, 0x80, 0xed, 0xa0, 0x80);
    const key = keyFromBytes(raw);
    expect(key).toBe("a\udce2\udc82b\udcc0\udc80\udced\udca0\udc80");
    expect(keyToBytes(key)).toEqual(raw);
  });

  it("round-trip any bytes, so different bytes never share a key string", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (raw) => {
        expect(keyToBytes(keyFromBytes(raw))).toEqual(raw);
      }),
      { numRuns: 2000 },
    );
  });

  it("write a lone surrogate no key string holds as U+FFFD, as etcd stores a JS string", () => {
    expect(keyToBytes("a\ud800")).toEqual(text("a\ufffd"));
    expect(keyToBytes("a\udc00")).toEqual(text("a\ufffd"));
  });
});

describe("printableKey", () => {
  it("shows bytes that are not UTF-8 and control characters as escapes, on one line", () => {
    expect(printableKey("svc/k-\udcff")).toBe("svc/k-\\xff");
    expect(printableKey("svc/a\nb\u0085\\")).toBe("svc/a\\x0ab\\u{0085}\\\\");
    expect(printableKey("svc/😀ü")).toBe("svc/😀ü");
    expect(printableKey("svc/\ud800")).toBe("svc/\\u{d800}");
  });
});
