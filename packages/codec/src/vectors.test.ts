// Runs every shared vector (produced by etcd's own Go code) against the codec.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeEndpoint } from "./decode-endpoint.js";
import { encodeEndpoint } from "./encode-endpoint.js";
import { NamingError } from "./naming-error.js";

interface EncodeVector {
  name: string;
  addr: string;
  metadata: unknown;
  value: string;
}
type DecodeVector = { name: string; value: string } & (
  | { accept: true; addr: string; metadata: unknown }
  | { accept: false; why: string }
);

// JSON.parse, not a JSON import: a bundler may turn the "__proto__" key of a vector into a prototype.
const vectors = JSON.parse(
  readFileSync(new URL("../test-data/naming-values.json", import.meta.url), "utf8"),
) as {
  encode: EncodeVector[];
  decode: DecodeVector[];
};

describe("shared vectors: encode", () => {
  it("has vectors", () => expect(vectors.encode.length).toBeGreaterThan(0));

  it.each(vectors.encode.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    expect(encodeEndpoint({ addr: v.addr, metadata: v.metadata })).toBe(v.value);
    expect(decodeEndpoint(v.value)).toEqual({
      ok: true,
      endpoint: { op: 0, addr: v.addr, metadata: v.metadata },
    });
  });
});

describe("shared vectors: decode", () => {
  it("has vectors", () => expect(vectors.decode.length).toBeGreaterThan(0));

  it.each(vectors.decode.map((v) => [v.name, v] as const))("%s", (_name, v) => {
    const before = Object.getOwnPropertyNames(Object.prototype);
    for (const input of [v.value, new TextEncoder().encode(v.value)]) {
      const result = decodeEndpoint(input);
      if (v.accept) {
        expect(result.ok).toBe(true);
        if (result.ok) {
          expect(result.endpoint.addr).toBe(v.addr);
          expect(result.endpoint.metadata).toEqual(v.metadata);
        }
      } else {
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.error).toBeInstanceOf(NamingError);
          expect(result.error.message).not.toBe("");
        }
      }
    }
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(before);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  });
});
