import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keyFromBytes } from "./key-bytes.js";
import { decodeUtf8, toWellFormed } from "./utf8.js";

const ascii = (length: number, at = (i: number) => 0x20 + (i % 95)) =>
  Uint8Array.from({ length }, (_, i) => at(i));

describe("decodeUtf8", () => {
  it("reads ASCII of any length as its bytes, on both sides of the short-value scan", () => {
    for (const length of [0, 1, 255, 256, 257, 1000]) {
      const raw = ascii(length);
      expect(decodeUtf8(raw)).toBe(Buffer.from(raw).toString("latin1"));
    }
  });

  it("does not take a short value with one byte above ASCII for ASCII, wherever the byte is", () => {
    for (const at of [0, 100, 255]) {
      const raw = ascii(256);
      raw[at] = 0xff;
      const expected = `${Buffer.from(raw.subarray(0, at)).toString("latin1")}\ufffd${Buffer.from(raw.subarray(at + 1)).toString("latin1")}`;
      expect(decodeUtf8(raw)).toBe(expected);
      expect(keyFromBytes(raw)).toBe(expected.replace("\ufffd", "\udcff"));
    }
    // Valid multi-byte text after ASCII is decoded as text.
    expect(decodeUtf8(new TextEncoder().encode(`${"a".repeat(200)}ü😀`))).toBe(`${"a".repeat(200)}ü😀`);
  });

  it("reads the UTF-8 of any string as the string's well-formed text", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: "grapheme", maxLength: 80 })),
        (s) => {
          expect(decodeUtf8(new TextEncoder().encode(s))).toBe(toWellFormed(s));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
