import { describe, expect, it } from "vitest";
import { parseWeight, WeightedPicker } from "./weights.js";

describe("WeightedPicker", () => {
  it("picks each origin its weight's times in every window of the weights' sum, spread out", () => {
    const picker = new WeightedPicker(
      new Map([
        ["a", 1],
        ["b", 1],
        ["c", 2],
      ]),
    );
    const picks = Array.from({ length: 8 }, () => picker.pick());
    expect(picks.filter((p) => p === "c")).toHaveLength(4);
    expect(picks.filter((p) => p === "a")).toHaveLength(2);
    expect(picks.filter((p) => p === "b")).toHaveLength(2);
    // Spread: c never three times in a row.
    expect(picks.join("")).not.toContain("ccc");
  });

  it("skips origins that are not usable, and answers undefined when none is", () => {
    const picker = new WeightedPicker(
      new Map([
        ["a", 5],
        ["b", 1],
      ]),
    );
    expect(Array.from({ length: 3 }, () => picker.pick((o) => o !== "a"))).toEqual(["b", "b", "b"]);
    expect(picker.pick(() => false)).toBeUndefined();
  });
});

describe("parseWeight", () => {
  it("takes whole numbers from 1 to 1,000,000 only", () => {
    expect(["1", "3", "1000000"].map(parseWeight)).toEqual([1, 3, 1_000_000]);
    expect(["0", "-1", "1.5", "01", "1000001", "", " 2", "x"].map(parseWeight)).toEqual(Array(8).fill(null));
  });
});
