import { describe, expect, it } from "vitest";
import { DEFAULT_PROTECTION, RemovalGuard, resolveProtection } from "./protection.js";

const set = (...ids: string[]) => ({
  endpoints: ids.map((id) => ({ addresses: [{ host: id, port: 1 }] })),
  ids,
});
const ten = "abcdefghij".split("");

describe("RemovalGuard", () => {
  it("holds an update that removes more than the share, keeping the removed next to new endpoints", () => {
    const guard = new RemovalGuard({ maxRemovedShare: 0.5, holdMs: 1_000 });
    expect(guard.guard(set(...ten), 0).ids).toEqual(ten);
    // 6 of 10 go and one new arrives: the 6 stay for the hold.
    const held = guard.guard(set("a", "b", "c", "d", "new"), 100);
    expect(held.ids).toEqual(["a", "b", "c", "d", "new", "e", "f", "g", "h", "i", "j"]);
    expect(held.started).toEqual({ removed: 6, total: 10, holdMs: 1_000 });
    expect(held.recheckAt).toBe(1_100);
    // Still removing too many during the hold: kept, without starting a second hold.
    const still = guard.guard(set("a"), 600);
    expect(still.ids).toEqual(["a", ...ten.slice(1)]);
    expect(still.started).toBeUndefined();
    expect(still.recheckAt).toBe(1_100);
    // The hold ends: the registry's set applies, and becomes the new baseline.
    const after = guard.guard(set("a"), 1_100);
    expect(after).toEqual({ ...set("a"), released: "expired" });
    expect(guard.guard(set(), 1_200).ids).toEqual([]);
  });

  it("ends a hold early when the endpoints come back, and lets small removals through", () => {
    const guard = new RemovalGuard({ maxRemovedShare: 0.5, holdMs: 1_000 });
    guard.guard(set(...ten), 0);
    expect(guard.guard(set("a", "b"), 10).started).toBeDefined();
    const back = guard.guard(set(...ten.slice(0, 6)), 20);
    expect(back).toEqual({ ...set(...ten.slice(0, 6)), released: "recovered" });
    // Exactly half is not more than half.
    expect(guard.guard(set("a", "b", "c"), 30)).toEqual(set("a", "b", "c"));
  });

  it("never holds a channel of one endpoint, nor when turned off", () => {
    const one = new RemovalGuard(DEFAULT_PROTECTION);
    one.guard(set("a"), 0);
    expect(one.guard(set(), 1)).toEqual(set());
    const off = new RemovalGuard(null);
    off.guard(set(...ten), 0);
    expect(off.guard(set(), 1)).toEqual(set());
    // Turned off, it hands the set on as it is, with nothing copied or remembered.
    const given = set(...ten);
    expect(off.guard(given, 2)).toBe(given);
  });

  it("starts over after a reset", () => {
    const guard = new RemovalGuard(DEFAULT_PROTECTION);
    guard.guard(set(...ten), 0);
    guard.reset();
    expect(guard.guard(set("a"), 1)).toEqual(set("a"));
  });
});

describe("resolveProtection", () => {
  const invalid = (message: string) => new Error(message);
  it("defaults, turns off and validates", () => {
    expect(resolveProtection(undefined, 100, invalid)).toEqual(DEFAULT_PROTECTION);
    expect(resolveProtection(false, 100, invalid)).toBeNull();
    expect(resolveProtection({ holdMs: 5 }, 100, invalid)).toEqual({ maxRemovedShare: 0.5, holdMs: 5 });
    expect(() => resolveProtection({ maxRemovedShare: 1.5 }, 100, invalid)).toThrow(/from 0 to 1/);
    expect(() => resolveProtection({ holdMs: 101 }, 100, invalid)).toThrow(/from 0 to 100/);
    expect(() => resolveProtection({ holdMs: Number.NaN }, 100, invalid)).toThrow(/holdMs/);
    expect(() => resolveProtection(true as never, 100, invalid)).toThrow(/object or false/);
  });
});
