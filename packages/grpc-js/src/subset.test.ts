import { describe, expect, it } from "vitest";
import { RendezvousSubset } from "./subset.js";

const keys = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => `svc/10.0.${(i + from) >> 8}.${(i + from) & 255}`);

describe("RendezvousSubset", () => {
  it("returns every key when the service is smaller than the subset", () => {
    expect(new RendezvousSubset("s").select(keys(3), 10)).toEqual(keys(3));
  });

  it("is deterministic for a seed and independent of input order", () => {
    const all = keys(500);
    const a = new RendezvousSubset("client-1").select(all, 32);
    const b = new RendezvousSubset("client-1").select([...all].reverse(), 32);
    expect(a).toHaveLength(32);
    expect(new Set(b)).toEqual(new Set(a));
  });

  it("changes at most one member when one endpoint is added or removed", () => {
    const subset = new RendezvousSubset("client-7");
    let current = keys(300);
    let chosen = new Set(subset.select(current, 32));
    for (let step = 0; step < 100; step++) {
      current = step % 3 === 2 ? current.slice(1) : [...current, `svc/new-${step}`];
      const next = new Set(subset.select(current, 32));
      const left = [...chosen].filter((key) => !next.has(key) && current.includes(key));
      expect(left.length).toBeLessThanOrEqual(1);
      expect([...next].filter((key) => !chosen.has(key)).length).toBeLessThanOrEqual(1);
      chosen = next;
    }
  });

  it("gives different clients different subsets that together cover the service", () => {
    const all = keys(1000);
    const covered = new Set<string>();
    const first = new RendezvousSubset("client-0").select(all, 20);
    let identical = 0;
    for (let client = 0; client < 200; client++) {
      const chosen = new RendezvousSubset(`client-${client}`).select(all, 20);
      if (chosen.join() === first.join()) identical++;
      for (const key of chosen) covered.add(key);
    }
    expect(identical).toBe(1);
    // 200 clients × 20 picks from 1000 keys leave about e^-4 ≈ 2% of keys unpicked with uniform weights.
    expect(covered.size).toBeGreaterThan(950);
  });

  it("spreads load evenly across endpoints", () => {
    const all = keys(100);
    const hits = new Map<string, number>(all.map((key) => [key, 0]));
    for (let client = 0; client < 2000; client++) {
      for (const key of new RendezvousSubset(`c${client}`).select(all, 10)) hits.set(key, hits.get(key)! + 1);
    }
    // Expect 200 picks per key; a uniform hash stays well within ±50%.
    for (const count of hits.values()) {
      expect(count).toBeGreaterThan(100);
      expect(count).toBeLessThan(300);
    }
  });
});
