import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeEndpoint } from "./decode-endpoint.js";
import { encodeEndpoint } from "./encode-endpoint.js";
import { findBadCharacter } from "./keys.js";
import { NamingError } from "./naming-error.js";

const address = fc.oneof(
  fc.tuple(fc.ipV4(), fc.integer({ min: 1, max: 65535 })).map(([ip, port]) => `${ip}:${port}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 1, max: 65535 })).map(([ip, port]) => `[${ip}]:${port}`),
  fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).filter((s) => findBadCharacter(s) === undefined),
);
const metadata = fc.jsonValue({ maxDepth: 6, stringUnit: "binary" });
// Every UTF-16 code unit, lone surrogates included.
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));

function expectNamingResult(result: ReturnType<typeof decodeEndpoint>): void {
  if (result.ok) {
    expect(typeof result.endpoint.addr).toBe("string");
    expect(result.endpoint.addr).not.toBe("");
  } else {
    expect(result.error).toBeInstanceOf(NamingError);
  }
}

describe("round trip", () => {
  it("decode(encode(x)) deep-equals x for any address and JSON metadata", () => {
    fc.assert(
      fc.property(address, fc.option(metadata, { nil: undefined }), (addr, meta) => {
        const value = encodeEndpoint(meta === undefined ? { addr } : { addr, metadata: meta });
        const expected = { ok: true, endpoint: { op: 0, addr, metadata: meta ?? null } };
        expect(decodeEndpoint(value)).toEqual(expected);
        expect(decodeEndpoint(new TextEncoder().encode(value))).toEqual(expected);
      }),
    );
  });

  it("encodes to JSON that JSON.parse reads as the same endpoint, with object keys in code point order", () => {
    fc.assert(
      fc.property(address, metadata, (addr, meta) => {
        const value = encodeEndpoint({ addr, metadata: meta });
        expect(JSON.parse(value)).toEqual({ Op: 0, Addr: addr, Metadata: meta });
        const keysInOrder = (text: string): string[][] => {
          const orders: string[][] = [];
          JSON.parse(text, function (this: unknown, _key, v) {
            if (v !== null && typeof v === "object" && !Array.isArray(v)) orders.push(Object.keys(v));
            return v;
          });
          return orders;
        };
        for (const keys of keysInOrder(value).slice(0, -1)) {
          const sorted = [...keys].sort((a, b) => {
            const x = [...a].map((c) => c.codePointAt(0)!);
            const y = [...b].map((c) => c.codePointAt(0)!);
            for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
            return x.length - y.length;
          });
          // Integer-like keys are reordered by JSON.parse itself, so compare as sets for those.
          if (keys.every((k) => !/^(0|[1-9][0-9]*)$/.test(k))) expect(keys).toEqual(sorted);
        }
      }),
    );
  });

  it("reads any JSON metadata as JSON.parse does", () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 8 }), (text) => {
        const result = decodeEndpoint(`{"Addr":"a","Metadata":${text}}`);
        expect(result).toEqual({ ok: true, endpoint: { op: 0, addr: "a", metadata: JSON.parse(text) } });
      }),
    );
  });
});

describe("decodeEndpoint never throws", () => {
  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: anyUnit, maxLength: 200 }), (s) => expectNamingResult(decodeEndpoint(s))),
      { numRuns: 500 },
    );
  });

  it("on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => expectNamingResult(decodeEndpoint(b))),
      { numRuns: 500 },
    );
  });

  it("on damaged endpoint values", () => {
    const value = fc
      .tuple(address, metadata)
      .map(([addr, meta]) => new TextEncoder().encode(encodeEndpoint({ addr, metadata: meta })));
    const damage = fc.tuple(
      value,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: -1, max: 255 })), { maxLength: 4 }),
    );
    fc.assert(
      fc.property(damage, ([bytes, edits]) => {
        const out = Array.from(bytes);
        for (const [at, byte] of edits) {
          if (byte < 0) out.splice(at % (out.length + 1), 1);
          else out.splice(at % (out.length + 1), 0, byte);
        }
        expectNamingResult(decodeEndpoint(Uint8Array.from(out)));
        expectNamingResult(decodeEndpoint(new TextDecoder().decode(Uint8Array.from(out))));
      }),
      { numRuns: 300 },
    );
  });
});

describe("metadata never reaches Object.prototype", () => {
  const dangerous = fc.constantFrom(
    "__proto__",
    "constructor",
    "prototype",
    "polluted",
    "toString",
    "hasOwnProperty",
  );
  // JSON text, so "__proto__" appears as a literal key exactly as an attacker would store it.
  const { node } = fc.letrec<{ node: string }>((tie) => ({
    node: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constantFrom("true", "1", '"x"', "null", '{"polluted":true}'),
      fc
        .array(fc.tuple(dangerous, tie("node")), { maxLength: 4 })
        .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`),
      fc.array(tie("node"), { maxLength: 3 }).map((items) => `[${items.join(",")}]`),
    ),
  }));

  it("when decoding, re-encoding and spreading hostile metadata", () => {
    const snapshot = () =>
      Object.getOwnPropertyNames(Object.prototype).map((name) => [
        name,
        Object.getOwnPropertyDescriptor(Object.prototype, name),
      ]);
    const before = snapshot();
    fc.assert(
      fc.property(node, (text) => {
        const result = decodeEndpoint(`{"Addr":"a","Metadata":${text},"__proto__":{"polluted":true}}`);
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        const meta = result.endpoint.metadata;
        expect(meta).toEqual(JSON.parse(text));
        const again = decodeEndpoint(encodeEndpoint({ addr: "a", metadata: meta }));
        expect(again.ok && again.endpoint.metadata).toEqual(meta);
        const walk = (v: unknown): void => {
          if (v === null || typeof v !== "object") return;
          if (!Array.isArray(v)) expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
          for (const child of Object.values(v)) walk(child);
          void { ...v };
        };
        walk(meta);
        expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
        expect(snapshot()).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });
});
