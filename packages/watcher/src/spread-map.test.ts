import { describe, expect, it } from "vitest";
import { SpreadMap } from "./spread-map.js";

describe("SpreadMap", () => {
  it("behaves as a Map of strings through growth, reservation, overwrites and deletes", () => {
    const spread = new SpreadMap<number>();
    const plain = new Map<string, number>();
    const check = () => {
      expect(spread.size).toBe(plain.size);
      expect([...spread.keys()].sort()).toEqual([...plain.keys()].sort());
      for (const [key, value] of plain) {
        expect(spread.has(key)).toBe(true);
        expect(spread.get(key)).toBe(value);
      }
    };
    for (let i = 0; i < 5000; i++) {
      spread.set(`svc/e${i}`, i);
      plain.set(`svc/e${i}`, i);
    }
    check();
    spread.reserve(20_000);
    check();
    for (let i = 0; i < 5000; i += 3) {
      spread.set(`svc/e${i}`, -i);
      plain.set(`svc/e${i}`, -i);
      expect(spread.delete(`svc/e${i + 1}`)).toBe(plain.delete(`svc/e${i + 1}`));
    }
    expect(spread.set("svc/e0", 0)).toBe(false);
    plain.set("svc/e0", 0);
    expect(spread.set("svc/new", 1)).toBe(true);
    plain.set("svc/new", 1);
    expect(spread.delete("svc/absent")).toBe(false);
    expect(spread.get("svc/absent")).toBeUndefined();
    expect(spread.has("__proto__")).toBe(false);
    spread.set("__proto__", 1);
    plain.set("__proto__", 1);
    check();
    expect(({} as Record<string, unknown>)[1]).toBeUndefined();
  });
});
