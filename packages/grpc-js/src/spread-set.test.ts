import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SpreadSet } from "./spread-set.js";

describe("SpreadSet", () => {
  it("answers as a Set would, small or spread over many parts", () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 6 }), { maxLength: 300 }),
        fc.constantFrom(0, 10, 5_000, 100_000),
        (values, expected) => {
          const set = new SpreadSet(expected);
          const reference = new Set<string>();
          for (const value of values) {
            expect(set.add(value)).toBe(!reference.has(value));
            reference.add(value);
          }
        },
      ),
    );
  });

  it("keeps 20,000 addresses apart and finds each again", () => {
    const set = new SpreadSet(20_000);
    const addresses = Array.from(
      { length: 20_000 },
      (_, i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:8080`,
    );
    expect(addresses.every((a) => set.add(a))).toBe(true);
    expect(addresses.some((a) => set.add(a))).toBe(false);
    expect(set.add("10.0.0.0:8081")).toBe(true);
  });
});
