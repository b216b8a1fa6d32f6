import { describe, expect, it } from "vitest";
import { AddressCache } from "./address-cache.js";

describe("AddressCache", () => {
  it("parses a text once and hands the same parse to later passes", () => {
    const cache = new AddressCache();
    cache.begin(1);
    const first = cache.lookup("10.0.0.1:1");
    cache.end();
    cache.begin(1);
    expect(cache.lookup("10.0.0.1:1")).toBe(first);
    cache.end();
    expect(first.address).toEqual({ host: "10.0.0.1", port: 1 });
    expect(first.id).toBe("10.0.0.1:1");
  });

  it("remembers an undiallable text as such", () => {
    const cache = new AddressCache();
    cache.begin(1);
    expect(cache.lookup("not an address").address).toBeNull();
    expect(cache.lookup("not an address").address).toBeNull();
    cache.end();
  });

  it.each([
    ["10.0.0.1:80", "10.0.0.1:080"],
    ["10.0.0.1:080", "10.0.0.1:80"],
    ["10.0.0.1:080", "10.0.0.1:0080"],
  ])("keeps one of %s and %s (one address) per pass, whichever comes first", (a, b) => {
    const cache = new AddressCache();
    for (let pass = 0; pass < 3; pass++) {
      cache.begin(2);
      expect(cache.keep(cache.lookup(a))).toBe(true);
      expect(cache.keep(cache.lookup(b))).toBe(false);
      expect(cache.keep(cache.lookup(a))).toBe(false);
      cache.end();
    }
    // Either order in a later pass: the first one seen wins.
    cache.begin(2);
    expect(cache.keep(cache.lookup(b))).toBe(true);
    expect(cache.keep(cache.lookup(a))).toBe(false);
    cache.end();
  });

  it("marks passes apart when several selections share it", () => {
    const cache = new AddressCache();
    cache.begin(1);
    expect(cache.keep(cache.lookup("10.0.0.1:1"))).toBe(true);
    cache.end();
    const other = new AddressCache();
    other.begin(1);
    other.lookup("10.0.0.2:1");
    other.end();
    cache.begin(1);
    expect(cache.keep(cache.lookup("10.0.0.1:1"))).toBe(true);
    cache.end();
  });

  it("drops the texts no longer looked up once they are many, and parses them afresh", () => {
    const cache = new AddressCache();
    const texts = Array.from({ length: 3_000 }, (_, i) => `10.0.${i >> 8}.${i & 255}:1`);
    cache.begin(texts.length);
    const before = texts.map((text) => cache.lookup(text));
    cache.end();
    // A pass that looks up only the first text: the other 2,999 are dropped.
    cache.begin(1);
    expect(cache.lookup(texts[0]!)).toBe(before[0]);
    cache.end();
    cache.begin(texts.length);
    expect(cache.lookup(texts[0]!)).toBe(before[0]);
    const again = cache.lookup(texts[1]!);
    expect(again).not.toBe(before[1]);
    expect(again.address).toEqual(before[1]!.address);
    expect(again.id).toBe(before[1]!.id);
    cache.end();
  });

  it("keeps every text while the passes look most of them up", () => {
    const cache = new AddressCache();
    const texts = Array.from({ length: 3_000 }, (_, i) => `10.0.${i >> 8}.${i & 255}:1`);
    cache.begin(texts.length);
    const before = texts.map((text) => cache.lookup(text));
    cache.end();
    cache.begin(texts.length);
    for (let i = 0; i < 2_000; i++) cache.lookup(texts[i]!);
    cache.end();
    cache.begin(texts.length);
    expect(texts.every((text, i) => cache.lookup(text) === before[i])).toBe(true);
    cache.end();
  });
});
