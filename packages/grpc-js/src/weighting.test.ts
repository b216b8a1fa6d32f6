import { parseAttributes } from "@etcd-naming/codec";
import { describe, expect, it } from "vitest";
import { parseWeight, parseWeightedConfig, weightedConfig, weightingOf } from "./weighting.js";

describe("weights", () => {
  it.each([
    ["1", 1],
    ["3", 3],
    ["1000000", 1_000_000],
    ["0", null],
    ["-1", null],
    ["+2", null],
    ["02", null],
    ["2.5", null],
    ["1e3", null],
    [" 2", null],
    ["1000001", null],
    ["99999999", null],
    ["", null],
  ])("reads %j as %j", (text, weight) => {
    expect(parseWeight(text)).toBe(weight);
  });

  it("weighs an endpoint by its attributes, 1 without a weight or with an invalid one (reported)", () => {
    const invalid: string[] = [];
    const report = (value: string) => invalid.push(value);
    const prefer = { attribute: "zone", value: "a" };
    expect(weightingOf(parseAttributes("zone=a;weight=3"), prefer, report)).toEqual({
      weight: 3,
      preferred: true,
    });
    expect(weightingOf(parseAttributes("zone=b"), prefer, report)).toEqual({ weight: 1, preferred: false });
    expect(weightingOf(parseAttributes("weight=x"), undefined, report)).toEqual({
      weight: 1,
      preferred: false,
    });
    expect(invalid).toEqual(["x"]);
  });

  it("lists in the policy's config only the endpoints with something to say, and reads it back", () => {
    const config = weightedConfig(
      ["a:1", "b:1", "c:1"],
      [
        { weight: 1, preferred: false },
        { weight: 4, preferred: false },
        { weight: 1, preferred: true },
      ],
    );
    expect(config).toEqual({
      endpoints: [
        { address: "b:1", weight: 4 },
        { address: "c:1", preferred: true },
      ],
    });
    expect(parseWeightedConfig(config)).toEqual(
      new Map([
        ["b:1", { weight: 4, preferred: false }],
        ["c:1", { weight: 1, preferred: true }],
      ]),
    );
    expect(parseWeightedConfig(undefined)).toEqual(new Map());
    expect(() => parseWeightedConfig({ endpoints: [{ address: "a:1", preferred: "yes" }] })).toThrow(
      "preferred of a:1 must be a boolean",
    );
  });
});
