// The direct reader of the common shapes must give exactly what the general parser gives, or nothing.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readCommonEnvelope, readCommonEnvelopeBytes } from "./common-envelope.js";
import { decodeEndpoint } from "./decode-endpoint.js";
import { encodeEndpoint } from "./encode-endpoint.js";
import { parseGoEnvelope } from "./go-json-decode.js";
import { findBadCharacter } from "./keys.js";
import { goDecodeCases } from "./test-go-cases.js";
import { asciiText, decodeUtf8, toWellFormed } from "./utf8.js";

/** Holds the direct reader to the parser on `text`; returns whether the direct reader answered. */
function agrees(text: string): boolean {
  const direct = readCommonEnvelope(text);
  if (direct === undefined) return false;
  const parsed = parseGoEnvelope(text, 32);
  expect(parsed).toEqual({ ok: true, envelope: direct });
  // Strings compare with Object.is, so "" against "" and the exact code units count.
  if (parsed.ok) {
    expect(Object.is(parsed.envelope.addr, direct.addr)).toBe(true);
    expect(Object.is(parsed.envelope.metadata, direct.metadata)).toBe(true);
    expect(parsed.envelope.addr).not.toBe("");
  }
  return true;
}

/** No quote, backslash or control character: a string the common shapes hold as it is. */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

// Every UTF-16 code unit, lone surrogates included: the parser takes text as it is.
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
// Units that matter to the shapes: quotes, backslashes, escapes, controls, braces, digits, non-ASCII.
const trickyUnit = fc.oneof(
  fc.constantFrom('"', "\\", "\\u0041", '\\"', "\\n", "\n", "\t", "\u0000", "\u001f", " ", "}", "{", ","),
  fc.constantFrom("0", "1", "9", "\u007f", "\u0080", "é", "\u2028", "\ufeff", "\ud800", "\udc00", "😀"),
  fc.constantFrom("a", "Z", ":", ".", "[", "]", "/", "%"),
  anyUnit,
);
const tricky = (maxLength: number) => fc.array(trickyUnit, { maxLength }).map((units) => units.join(""));
const plain = (minLength: number) =>
  fc
    .string({ unit: "binary", minLength, maxLength: 40 })
    .map(toWellFormed)
    .filter((s) => s.length >= minLength && isPlain(s));

/** The piece a common shape has, most of the time, or one of the near misses. */
const mostly = <T>(common: fc.Arbitrary<T>, ...misses: fc.Arbitrary<T>[]): fc.Arbitrary<T> =>
  fc.oneof({ arbitrary: common, weight: 4 }, ...misses.map((arbitrary) => ({ arbitrary, weight: 1 })));

const opText = mostly(
  fc.integer({ min: 0, max: 9 }).map(String),
  fc.constantFrom(
    "01",
    "-0",
    "-1",
    "10",
    "255",
    "256",
    "0.5",
    "1e0",
    "null",
    '"0"',
    " 0",
    "0 ",
    "true",
    "",
    ":",
    "/",
    "A",
  ),
);
const opening = mostly(
  fc.constant('{"Op":'),
  fc.constantFrom('{"op":', '{"OP":', '{ "Op":', '{"Op" :', ' {"Op":', '{"Addr":"', "{", ""),
);
const addrField = mostly(
  fc.constant(',"Addr":"'),
  fc.constantFrom(',"addr":"', ', "Addr":"', ',"Addr": "', ',"Address":"', ',"Addr":', ',"Metadata":"'),
);
const addrText = mostly(plain(0), tricky(8));
const addrClose = mostly(fc.constant('"'), fc.constantFrom("", '\\"', "'", '""'));
const ending = mostly(
  fc.constantFrom("}", ',"Metadata":null}'),
  fc.constantFrom(',"metadata":null}', ',"Metadata":nul}', ',"Metadata":null}x', ',"Metadata":Null}'),
  fc.constantFrom("} ", " }", "}}", "", ",}", ',"Metadata":{}}', ',"Metadata":[]}', ',"Metadata":1}'),
  fc.constantFrom(',"Metadata":null,"Addr":"b"}', ',"Metadata":"a","Metadata":null}', ',"Op":1}', ',"x":1}'),
  fc.constantFrom(',"Metadata":null }', ',"Metadata": null}', ',"Metadata":"', ',"Metadata":"m'),
  fc
    .tuple(
      mostly(plain(0), tricky(6)),
      mostly(fc.constant('"}'), fc.constantFrom('" }', '"}}', '"', '"}x', '","Addr":"b"}', "}")),
    )
    .map(([m, end]) => `,"Metadata":"${m}${end}`),
);

/** Texts near the common shapes: each part is mostly the common one, sometimes a near miss. */
const nearShape = fc
  .tuple(opening, opText, addrField, addrText, addrClose, ending)
  .map((parts) => parts.join(""));

/** One exact common shape: no Metadata field (undefined), `"Metadata":null`, or a string. */
function commonShape(op: number, addr: string, metadata: string | null | undefined): string {
  const tail =
    metadata === undefined ? "}" : metadata === null ? ',"Metadata":null}' : `,"Metadata":"${metadata}"}`;
  return `{"Op":${op},"Addr":"${addr}"${tail}`;
}

/** Bytes `a` as the address and, with metadata, `b` as the Metadata string, else `b` after the value. */
function aroundBytes(a: Uint8Array, b: Uint8Array, withMetadata: boolean): Uint8Array {
  const encoder = new TextEncoder();
  const head = encoder.encode('{"Op":0,"Addr":"');
  const tail = encoder.encode(withMetadata ? '","Metadata":"' : '"}');
  return Uint8Array.from([...head, ...a, ...tail, ...b, ...(withMetadata ? [0x22, 0x7d] : [])]);
}

describe("readCommonEnvelope", () => {
  it("reads every exact common shape, to the parser's result", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        plain(1),
        fc.option(fc.option(plain(0), { nil: null }), { nil: undefined }),
        (op, addr, metadata) => {
          const text = commonShape(op, addr, metadata);
          expect(agrees(text)).toBe(true);
          expect(readCommonEnvelope(text)).toEqual({ op, addr, metadata: metadata ?? null });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("agrees with the parser on texts built near the common shapes, or leaves them to it", () => {
    let answered = 0;
    fc.assert(
      fc.property(nearShape, (text) => {
        if (agrees(text)) answered++;
      }),
      { numRuns: 20000 },
    );
    // The generator reaches the accepted shapes, not only the rejected ones.
    expect(answered).toBeGreaterThan(1000);
  });

  it("agrees with the parser on arbitrary text and on every encoded endpoint", () => {
    fc.assert(fc.property(fc.string({ unit: anyUnit, maxLength: 60 }), (text) => void agrees(text)));
    fc.assert(
      fc.property(
        fc
          .string({ unit: "binary", minLength: 1, maxLength: 30 })
          .filter((s) => findBadCharacter(s) === undefined),
        fc.option(fc.jsonValue({ maxDepth: 2, stringUnit: "binary" }), { nil: undefined }),
        (addr, metadata) => {
          const text = encodeEndpoint(metadata === undefined ? { addr } : { addr, metadata });
          // Without escapes (encodeEndpoint writes them as Go does), a string or no metadata is read directly.
          const common = (metadata == null || typeof metadata === "string") && !text.includes("\\");
          expect(agrees(text)).toBe(common);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("agrees with the parser on bytes as decodeEndpoint reads them, invalid UTF-8 included", () => {
    const bytes = fc.uint8Array({ maxLength: 12 });
    fc.assert(
      fc.property(bytes, bytes, fc.boolean(), (a, b, withMetadata) => {
        agrees(decodeUtf8(aroundBytes(a, b, withMetadata)));
      }),
    );
  });

  it("agrees with the parser on Go's decode cases and the shared vectors", () => {
    const vectors = JSON.parse(
      readFileSync(new URL("../test-data/naming-values.json", import.meta.url), "utf8"),
    ) as { encode: { value: string }[]; decode: { value: string }[] };
    const texts = [
      ...goDecodeCases.map(([, value]) =>
        typeof value === "string" ? toWellFormed(value) : decodeUtf8(value),
      ),
      ...vectors.encode.map((v) => v.value),
      ...vectors.decode.map((v) => v.value),
    ];
    const answered = texts.filter((text) => agrees(text)).length;
    expect(answered).toBeGreaterThan(0);
  });

  it("leaves an empty address, whitespace and other field orders to the parser", () => {
    for (const text of [
      '{"Op":0,"Addr":""}',
      '{"Op":0,"Addr":"","Metadata":null}',
      '{"Op":0, "Addr":"a"}',
      '{"Addr":"a","Op":0}',
      '{"Op":0,"Addr":"a","Metadata":"m"} ',
      '{"Op":0,"Addr":"a\\u0062"}',
      '{"Op":10,"Addr":"a"}',
    ]) {
      expect(readCommonEnvelope(text)).toBeUndefined();
    }
    expect(decodeEndpoint('{"Op":0,"Addr":""}')).toMatchObject({
      ok: false,
      error: { code: "EMPTY_ADDRESS" },
    });
    expect(decodeEndpoint('{"Op":1,"Addr":"h:1","Metadata":"m"}')).toEqual({
      ok: true,
      endpoint: { op: 1, addr: "h:1", metadata: "m" },
    });
    expect(decodeEndpoint('{"Op":7,"Addr":"h:1"}')).toEqual({
      ok: true,
      endpoint: { op: 0, addr: "h:1", metadata: null },
    });
  });
});

const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Holds the bytes reader to the text reader (and so to the parser) on `bytes`; returns whether it answered. */
function bytesAgree(bytes: Uint8Array): boolean {
  const direct = readCommonEnvelopeBytes(bytes);
  // A Buffer (etcd3's values) and a plain Uint8Array are read alike.
  expect(readCommonEnvelopeBytes(Buffer.from(bytes))).toEqual(direct);
  const text = decodeUtf8(bytes);
  expect(decodeEndpoint(bytes)).toEqual(decodeEndpoint(text));
  expect(decodeEndpoint(Buffer.from(bytes))).toEqual(decodeEndpoint(text));
  if (direct === undefined) return false;
  expect(readCommonEnvelope(text)).toEqual(direct);
  expect(agrees(text)).toBe(true);
  return true;
}

describe("readCommonEnvelopeBytes", () => {
  it("reads every common shape in ASCII, to the text reader's result", () => {
    const ascii = fc
      .string({
        unit: fc.integer({ min: 0x20, max: 0x7f }).map((c) => String.fromCharCode(c)),
        maxLength: 30,
      })
      .filter(isPlain);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        ascii.filter((s) => s.length > 0),
        fc.option(fc.option(ascii, { nil: null }), { nil: undefined }),
        (op, addr, metadata) => {
          const bytes = latin1(commonShape(op, addr, metadata));
          expect(bytesAgree(bytes)).toBe(true);
          expect(readCommonEnvelopeBytes(bytes)).toEqual({ op, addr, metadata: metadata ?? null });
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("agrees with the text reader on values built near the common shapes, or leaves them to it", () => {
    let answered = 0;
    fc.assert(
      fc.property(nearShape, (text) => {
        if (bytesAgree(utf8(text))) answered++;
      }),
      { numRuns: 10000 },
    );
    // Most generated addresses are not ASCII (those go to the text path); enough of them are.
    expect(answered).toBeGreaterThan(20);
  });

  it("leaves invalid UTF-8, any byte above ASCII and arbitrary bytes to the text path", () => {
    const bytes = fc.uint8Array({ maxLength: 12 });
    fc.assert(
      fc.property(bytes, bytes, fc.boolean(), (a, b, withMetadata) => {
        bytesAgree(aroundBytes(a, b, withMetadata));
      }),
    );
    fc.assert(fc.property(fc.uint8Array({ maxLength: 60 }), (value) => void bytesAgree(value)));
    for (const text of [
      '{"Op":0,"Addr":"h\u00e9:1"}',
      '{"Op":0,"Addr":"hé:1"}',
      '{"Op":0,"Addr":"h:1","Metadata":"é"}',
    ]) {
      expect(readCommonEnvelopeBytes(utf8(text))).toBeUndefined();
      expect(decodeEndpoint(utf8(text))).toEqual(decodeEndpoint(text));
    }
    // Bytes that are not UTF-8 in the address: Go's U+FFFD per byte, through the text path.
    const invalid = Uint8Array.from([...utf8('{"Op":0,"Addr":"h'), 0xff, ...utf8(':1"}')]);
    expect(readCommonEnvelopeBytes(invalid)).toBeUndefined();
    expect(decodeEndpoint(invalid)).toEqual({
      ok: true,
      endpoint: { op: 0, addr: "h\ufffd:1", metadata: null },
    });
  });

  it("rejects malformed values as the parser does, whatever the fast path saw", () => {
    const cases: [string, string][] = [
      ['{"Op":0,"Addr":""}', "EMPTY_ADDRESS"],
      ['{"Op":0,"Addr":"","Metadata":null}', "EMPTY_ADDRESS"],
      ['{"Op":0,"Addr":"h:1"', "INVALID_JSON"],
      ['{"Op":0,"Addr":"h:1","Metadata":nul}', "INVALID_JSON"],
      ['{"Op":0,"Addr":"h\u0000:1"}x', "INVALID_JSON"],
      ['{"Op":"0","Addr":"h:1"}', "INVALID_VALUE"],
      ['{"Op":0,"Addr":1}', "INVALID_VALUE"],
      ['{"Op":0,"Addr":"h:1","Metadata":{"__proto__":{"x":1}},"Metadata":[[[]]]', "INVALID_JSON"],
    ];
    for (const [text, code] of cases) {
      expect(readCommonEnvelopeBytes(utf8(text))).toBeUndefined();
      expect(decodeEndpoint(utf8(text))).toMatchObject({ ok: false, error: { code } });
    }
    // A value over the size limit is refused before any reading.
    expect(decodeEndpoint(utf8('{"Op":0,"Addr":"h:1"}'), { maxBytes: 10 })).toMatchObject({
      ok: false,
      error: { code: "VALUE_TOO_LARGE" },
    });
  });

  it("gives object metadata plain own properties through the parser, never touching Object.prototype", () => {
    const result = decodeEndpoint(utf8('{"Op":0,"Addr":"h:1","Metadata":{"__proto__":{"polluted":1}}}'));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const metadata = result.endpoint.metadata as Record<string, unknown>;
    expect(Object.hasOwn(metadata, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(metadata)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("asciiText", () => {
  it("gives the same text for a Buffer and a plain Uint8Array, for any range", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.nat(), fc.nat(), (raw, x, y) => {
        const bytes = raw.map((b) => b & 0x7f);
        const start = bytes.length === 0 ? 0 : x % (bytes.length + 1);
        const end = start + (bytes.length - start === 0 ? 0 : y % (bytes.length - start + 1));
        const expected = String.fromCharCode(...bytes.subarray(start, end));
        expect(asciiText(bytes, start, end)).toBe(expected);
        expect(asciiText(Buffer.from(bytes), start, end)).toBe(expected);
      }),
    );
  });
});
