import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SpreadMap } from "./spread-set.js";

describe("SpreadMap", () => {
  it("answers as a Map would, small or spread over many parts, across reserves and deletions", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 6 }), fc.integer({ min: 0, max: 9 })), { maxLength: 300 }),
        fc.constantFrom(0, 10, 5_000, 100_000),
        (entries, expected) => {
          const map = new SpreadMap<number>();
          const reference = new Map<string, number>();
          const half = Math.floor(entries.length / 2);
          entries.forEach(([key, value], i) => {
            // Reserved half-way: the entries already in move to their new parts.
            if (i === half) map.reserve(expected);
            expect(map.get(key)).toBe(reference.get(key));
            map.set(key, value);
            reference.set(key, value);
          });
          expect(map.size).toBe(reference.size);
          map.retain((value) => value % 2 === 0);
          for (const [key, value] of reference) if (value % 2 !== 0) reference.delete(key);
          expect(map.size).toBe(reference.size);
          for (const [key] of entries) expect(map.get(key)).toBe(reference.get(key));
        },
      ),
    );
  });

  it("keeps 20,000 addresses apart and finds each again", () => {
    const map = new SpreadMap<number>();
    map.reserve(20_000);
    const addresses = Array.from(
      { length: 20_000 },
      (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:8080`,
    );
    for (const [i, a] of addresses.entries()) map.set(a, i);
    expect(map.size).toBe(20_000);
    expect(addresses.every((a, i) => map.get(a) === i)).toBe(true);
    expect(map.get("10.0.0.0:8081")).toBeUndefined();
  });
});
