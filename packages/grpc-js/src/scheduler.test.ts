import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EdfScheduler } from "./scheduler.js";

function counts<T>(scheduler: EdfScheduler<T>, picks: number): Map<T, number> {
  const seen = new Map<T, number>();
  for (let i = 0; i < picks; i++) {
    const value = scheduler.next();
    seen.set(value, (seen.get(value) ?? 0) + 1);
  }
  return seen;
}

describe("EdfScheduler", () => {
  it("gives each entry its weight's share: 1/1/2 over 4,000 picks is 1,000/1,000/2,000", () => {
    const scheduler = new EdfScheduler([
      { value: "a", weight: 1 },
      { value: "b", weight: 1 },
      { value: "c", weight: 2 },
    ]);
    expect(counts(scheduler, 4_000)).toEqual(
      new Map([
        ["a", 1_000],
        ["b", 1_000],
        ["c", 2_000],
      ]),
    );
  });

  it("spreads the turns evenly rather than in bursts", () => {
    const scheduler = new EdfScheduler(
      [
        { value: "a", weight: 1 },
        { value: "b", weight: 3 },
      ],
      () => 0.5,
    );
    const order = Array.from({ length: 12 }, () => scheduler.next()).join("");
    expect(order).toBe("babbbabbbabb");
    // Every window of 4 consecutive picks holds exactly one "a".
    for (let i = 0; i + 4 <= order.length; i++) expect(order.slice(i, i + 4).split("a").length - 1).toBe(1);
  });

  it("breaks ties by the order of the entries, and starts at a random point of each period", () => {
    const zero = new EdfScheduler(
      [
        { value: "a", weight: 1 },
        { value: "b", weight: 1 },
      ],
      () => 0,
    );
    expect([zero.next(), zero.next(), zero.next(), zero.next()]).toEqual(["a", "b", "a", "b"]);
    const randoms = [0.9, 0.1];
    const shifted = new EdfScheduler(
      [
        { value: "a", weight: 1 },
        { value: "b", weight: 1 },
      ],
      () => randoms.shift()!,
    );
    expect([shifted.next(), shifted.next(), shifted.next()]).toEqual(["b", "a", "b"]);
  });

  it("holds the shares exactly for any weights, over whole rounds", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 20 }),
        fc.double({ min: 0, max: 0.999, noNaN: true }),
        (weights, rounds, offset) => {
          const scheduler = new EdfScheduler(
            weights.map((weight, value) => ({ value, weight })),
            () => offset,
          );
          const total = weights.reduce((sum, w) => sum + w, 0);
          const seen = counts(scheduler, total * rounds);
          // Within one pick of the exact share: where the rounds start depends on the random offsets.
          weights.forEach((weight, value) => {
            expect(Math.abs((seen.get(value) ?? 0) - weight * rounds)).toBeLessThanOrEqual(1);
          });
        },
      ),
    );
  });

  it("stays exact over millions of picks (virtual time is brought back near zero every 1,024 units)", () => {
    const scheduler = new EdfScheduler(
      [
        { value: "a", weight: 1 },
        { value: "b", weight: 2 },
      ],
      () => 0,
    );
    expect(counts(scheduler, 3_300_000)).toEqual(
      new Map([
        ["a", 1_100_000],
        ["b", 2_200_000],
      ]),
    );
  });

  it("stays exact with the largest weights", () => {
    const scheduler = new EdfScheduler(
      [
        { value: "a", weight: 1_000_000 },
        { value: "b", weight: 999_999 },
        { value: "c", weight: 1 },
      ],
      () => 0.25,
    );
    const seen = counts(scheduler, 4 * 2_000_000);
    expect(seen).toEqual(
      new Map([
        ["a", 4_000_000],
        ["b", 3_999_996],
        ["c", 4],
      ]),
    );
  });

  it("returns the only entry every time, and refuses no entries or a weight that is not a whole number from 1", () => {
    const one = new EdfScheduler([{ value: "x", weight: 7 }]);
    expect(counts(one, 5)).toEqual(new Map([["x", 5]]));
    expect(one.size).toBe(1);
    expect(() => new EdfScheduler([])).toThrow("at least one entry");
    expect(() => new EdfScheduler([{ value: "x", weight: 0 }])).toThrow("a whole number from 1, got 0");
    expect(() => new EdfScheduler([{ value: "x", weight: 1.5 }])).toThrow("got 1.5");
    expect(() => new EdfScheduler([{ value: "x", weight: Number.POSITIVE_INFINITY }])).toThrow(
      "got Infinity",
    );
  });
});
