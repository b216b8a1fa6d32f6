import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EMPTY_ATTRIBUTES,
  formatAttributes,
  isAttributeKey,
  MAX_ATTRIBUTES,
  MAX_ATTRIBUTES_LENGTH,
  metadataAttributes,
  parseAttributes,
} from "./attributes.js";
import { decodeEndpoint } from "./decode-endpoint.js";
import { encodeEndpoint } from "./encode-endpoint.js";
import { thrown } from "./test-support.js";

const keyChar = fc.constantFrom(..."abcXYZ019_-.".split(""));
const attrKey = fc.string({ unit: keyChar, minLength: 1, maxLength: 12 });
// Any well-formed text: every code point, so controls, "%", ";", "=", spaces and emoji included.
const attrValue = fc.string({ unit: "grapheme-composite", maxLength: 20 });
const attrs = fc.dictionary(attrKey, attrValue, { maxKeys: 8 });

const plain = (a: Readonly<Record<string, string>>) => ({ ...a });

describe("parseAttributes", () => {
  it("reads keys and values, in any order", () => {
    expect(plain(parseAttributes("zone=a;weight=3"))).toEqual({ zone: "a", weight: "3" });
    expect(plain(parseAttributes("weight=3;zone=a"))).toEqual({ zone: "a", weight: "3" });
    expect(plain(parseAttributes("x="))).toEqual({ x: "" });
    expect(plain(parseAttributes("a.b-c_D9=http://h:1/p?q&r,s+t~!"))).toEqual({
      "a.b-c_D9": "http://h:1/p?q&r,s+t~!",
    });
  });

  it("reads the empty string as no attributes", () => {
    expect(parseAttributes("")).toBe(EMPTY_ATTRIBUTES);
    expect(Object.keys(parseAttributes(""))).toEqual([]);
  });

  it("percent-decodes values as UTF-8, in either hex case", () => {
    expect(parseAttributes("note=a%3Bb%3Dc%25d%20e")["note"]).toBe("a;b=c%d e");
    expect(parseAttributes("city=%E6%9D%B1%e4%ba%ac")["city"]).toBe("東京");
    expect(parseAttributes("e=%F0%9F%98%80")["e"]).toBe("😀");
    expect(parseAttributes("nl=a%0Ab")["nl"]).toBe("a\nb");
  });

  it("returns a frozen object with a null prototype", () => {
    const a = parseAttributes("zone=a");
    expect(Object.getPrototypeOf(a)).toBe(null);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it("keeps prototype names as ordinary keys and never touches Object.prototype", () => {
    const a = parseAttributes("__proto__=x;constructor=y;toString=z;hasOwnProperty=w;prototype=v");
    expect(Object.getPrototypeOf(a)).toBe(null);
    expect(Object.keys(a).sort()).toEqual([
      "__proto__",
      "constructor",
      "hasOwnProperty",
      "prototype",
      "toString",
    ]);
    expect(Object.getOwnPropertyDescriptor(a, "__proto__")?.value).toBe("x");
    expect(a["constructor"]).toBe("y");
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, "x")).toBe(false);
    expect(typeof ({} as { toString: unknown }).toString).toBe("function");
  });

  it.each([
    ["a=1;;b=2", /empty attribute at index 4/],
    ["a=1;", /empty attribute at index 4/],
    [";a=1", /empty attribute at index 0/],
    [";", /empty attribute at index 0/],
    ["zone", /attribute "zone" at index 0 has no "="/],
    ["a=1;b", /attribute "b" at index 4 has no "="/],
    ["=a", /an attribute key is empty/],
    ["a b=1", /key "a b" has U\+0020 at index 1/],
    ["zöne=1", /key "zöne" has U\+00F6 at index 1/],
    ["a/b=1", /key "a\/b" has "\/" \(U\+002F\) at index 1/],
    [`${"k".repeat(65)}=1`, /longer than 64 characters/],
    ["a=1;a=2", /key "a" is given twice/],
    ["a=1=2", /the value of "a" has "=" \(U\+003D\) at index 3; write "=" in a value as %3D/],
    ["a=x y", /the value of "a" has U\+0020 at index 3; percent-encode it/],
    ["a=x\ty", /U\+0009 at index 3/],
    [" a=1", /key " a" has U\+0020/],
    ["a=1 ", /U\+0020 at index 3/],
    ["a=東京", /U\+6771 at index 2; percent-encode non-ASCII text as UTF-8 bytes/],
    ["a=%", /"%" not followed by two hex digits/],
    ["a=%4", /"%" not followed by two hex digits/],
    ["a=%G0", /"%" not followed by two hex digits/],
    ["a=%FF", /percent-decodes to bytes that are not UTF-8/],
    ["a=%ED%A0%80", /not UTF-8/], // an encoded surrogate
    ["a=%C0%80", /not UTF-8/], // an overlong NUL
    ["a=\u0000", /U\+0000 at index 2/],
    ["a=\ud800", /U\+D800 at index 2/],
  ])("refuses %j", (text, message) => {
    const error = thrown(() => parseAttributes(text));
    expect(error.code).toBe("INVALID_ATTRIBUTES");
    expect(error.message).toMatch(message);
    expect(error.message).toContain("attributes ");
  });

  it("refuses input that is not a string", () => {
    for (const input of [null, undefined, 1, {}, ["a=1"]]) {
      expect(thrown(() => parseAttributes(input as unknown as string)).code).toBe("INVALID_ATTRIBUTES");
    }
  });

  it("bounds the number of attributes and the length, and says so", () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => `k${i}=v`).join(";");
    expect(Object.keys(parseAttributes(many(MAX_ATTRIBUTES)))).toHaveLength(MAX_ATTRIBUTES);
    expect(thrown(() => parseAttributes(many(MAX_ATTRIBUTES + 1))).message).toMatch(
      /more than 64 attributes/,
    );
    const long = `a=${"x".repeat(MAX_ATTRIBUTES_LENGTH - 2)}`;
    expect(parseAttributes(long)["a"]).toHaveLength(MAX_ATTRIBUTES_LENGTH - 2);
    expect(thrown(() => parseAttributes(`${long}x`)).message).toMatch(
      /8193 characters, over the limit of 8192/,
    );
  });

  it("shows long input shortened in messages", () => {
    const error = thrown(() => parseAttributes(`${"a=1;".repeat(30)}bad`));
    expect(error.message.length).toBeLessThan(300);
    expect(error.message).toContain("…");
  });
});

describe("formatAttributes", () => {
  it("writes keys in sorted order and encodes what the grammar asks", () => {
    expect(formatAttributes({ zone: "a", weight: "3" })).toBe("weight=3;zone=a");
    expect(formatAttributes({ note: "a;b=c%d e" })).toBe("note=a%3Bb%3Dc%25d%20e");
    expect(formatAttributes({ city: "東京", e: "😀" })).toBe("city=%E6%9D%B1%E4%BA%AC;e=%F0%9F%98%80");
    expect(formatAttributes({ u: 'http://h:1/p?q&r,s+t~!"\\' })).toBe('u=http://h:1/p?q&r,s+t~!"\\');
    expect(formatAttributes({})).toBe("");
    expect(
      formatAttributes(
        new Map([
          ["b", "2"],
          ["a", "1"],
        ]),
      ),
    ).toBe("a=1;b=2");
  });

  it("takes own keys only, and an own __proto__ key as an ordinary key", () => {
    const inherited = Object.create({ zone: "x" }) as Record<string, string>;
    inherited["weight"] = "1";
    expect(formatAttributes(inherited)).toBe("weight=1");
    const proto = JSON.parse('{"__proto__":"p","a":"1"}') as Record<string, string>;
    expect(formatAttributes(proto)).toBe("__proto__=p;a=1");
  });

  it.each([
    [{ "a b": "1" }, /key "a b" has U\+0020/],
    [{ "": "1" }, /key is empty/],
    [{ weight: 3 }, /attribute "weight" must be a string, got number \(write "3"\)/],
    [{ a: null }, /must be a string, got null/],
    [{ a: "\ud800" }, /lone surrogate/],
    [{ [`${"k".repeat(65)}`]: "1" }, /longer than 64 characters/],
  ])("refuses %j", (input, message) => {
    const error = thrown(() => formatAttributes(input as unknown as Record<string, string>));
    expect(error.code).toBe("INVALID_ATTRIBUTES");
    expect(error.message).toMatch(message);
  });

  it("refuses what is not an object of strings, and results over the limits", () => {
    for (const input of [null, "a=1", [["a", "1"]], 3]) {
      expect(thrown(() => formatAttributes(input as unknown as Record<string, string>)).code).toBe(
        "INVALID_ATTRIBUTES",
      );
    }
    const many = Object.fromEntries(Array.from({ length: MAX_ATTRIBUTES + 1 }, (_, i) => [`k${i}`, "v"]));
    expect(thrown(() => formatAttributes(many)).message).toMatch(
      /65 attributes are more than the limit of 64/,
    );
    expect(thrown(() => formatAttributes({ a: "é".repeat(3000) })).message).toMatch(/over the limit of 8192/);
  });

  it("round-trips any attributes: parse(format(a)) equals a", () => {
    fc.assert(
      fc.property(attrs, (a) => {
        const text = formatAttributes(a);
        expect(plain(parseAttributes(text))).toEqual(a);
        // The string is ASCII, so Go and JSON carry it unchanged.
        expect(/^[\x21-\x7e]*$/.test(text)).toBe(true);
        expect(formatAttributes(parseAttributes(text))).toBe(text);
      }),
    );
  });

  it("survives a round trip through the endpoint value as a JSON string", () => {
    fc.assert(
      fc.property(attrs, (a) => {
        const metadata = formatAttributes(a);
        const decoded = decodeEndpoint(encodeEndpoint({ addr: "10.0.0.1:1", metadata }));
        expect(decoded.ok && plain(metadataAttributes(decoded.endpoint.metadata).attributes)).toEqual(a);
      }),
    );
  });
});

describe("parseAttributes on hostile input", () => {
  it("never throws anything but INVALID_ATTRIBUTES, and never returns an inherited key", () => {
    const unit = fc.constantFrom(
      ..."a=;%_.-zA09 \t\u0000é😀\ud800".split(""),
      "%2",
      "%41",
      "%ZZ",
      "__proto__",
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 40 }), (text) => {
        try {
          const a = parseAttributes(text);
          expect(Object.getPrototypeOf(a)).toBe(null);
          for (const key of Object.keys(a)) expect(isAttributeKey(key)).toBe(true);
        } catch (error) {
          expect((error as { code?: unknown }).code).toBe("INVALID_ATTRIBUTES");
        }
        expect(({} as Record<string, unknown>)["a"]).toBeUndefined();
      }),
    );
  });
});

describe("metadataAttributes", () => {
  it("reads the string form", () => {
    const r = metadataAttributes("zone=a;weight=3");
    expect(r.ok).toBe(true);
    expect(plain(r.attributes)).toEqual({ zone: "a", weight: "3" });
  });

  it("reads an object's string, number and boolean fields as text, leaving the rest out", () => {
    const r = metadataAttributes({
      zone: "a",
      weight: 3,
      canary: true,
      tags: ["x"],
      nested: { a: 1 },
      nil: null,
    });
    expect(r.ok).toBe(true);
    expect(plain(r.attributes)).toEqual({ zone: "a", weight: "3", canary: "true" });
    expect(Object.getPrototypeOf(r.attributes)).toBe(null);
    expect(Object.isFrozen(r.attributes)).toBe(true);
  });

  it("keeps any object key, __proto__ included, without touching prototypes or calling getters", () => {
    const metadata = JSON.parse('{"__proto__":"p","my zone":"b"}') as object;
    const r = metadataAttributes(metadata);
    expect(Object.getOwnPropertyDescriptor(r.attributes, "__proto__")?.value).toBe("p");
    expect(r.attributes["my zone"]).toBe("b");
    let called = false;
    const withGetter = Object.defineProperty({}, "zone", {
      enumerable: true,
      get() {
        called = true;
        return "a";
      },
    });
    expect(plain(metadataAttributes(withGetter).attributes)).toEqual({});
    expect(called).toBe(false);
    expect(plain(metadataAttributes(Object.create({ zone: "a" })).attributes)).toEqual({});
  });

  it("has no attributes for null, numbers, booleans and arrays", () => {
    for (const metadata of [null, undefined, 3, true, ["zone=a"]]) {
      expect(metadataAttributes(metadata)).toEqual({ ok: true, attributes: EMPTY_ATTRIBUTES });
    }
  });

  it("reports a malformed string with empty attributes instead of throwing", () => {
    const r = metadataAttributes("zone-a");
    expect(r.ok).toBe(false);
    expect(r.attributes).toBe(EMPTY_ATTRIBUTES);
    expect(!r.ok && r.error.code).toBe("INVALID_ATTRIBUTES");
    expect(!r.ok && r.error.message).toMatch(/has no "="/);
  });
});

describe("isAttributeKey", () => {
  it("accepts the key grammar only", () => {
    expect(isAttributeKey("zone")).toBe(true);
    expect(isAttributeKey("a.b-c_9")).toBe(true);
    for (const bad of ["", "a b", "a=b", "a;b", "é", "k".repeat(65)]) expect(isAttributeKey(bad)).toBe(false);
  });
});
