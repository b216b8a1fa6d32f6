import { describe, expect, it } from "vitest";
import { chunk, deleteOp, putOp } from "./txn.js";

describe("chunk", () => {
  it("splits into batches of at most the limit", () => {
    const items = Array.from({ length: 300 }, (_, i) => i);
    const batches = chunk(items, 128);
    expect(batches.map((b) => b.length)).toEqual([128, 128, 44]);
    expect(batches.flat()).toEqual(items);
  });

  it("keeps a batch of exactly the limit whole and empties empty", () => {
    expect(chunk([1, 2, 3], 3)).toEqual([[1, 2, 3]]);
    expect(chunk([], 128)).toEqual([]);
  });

  it("refuses a size below one", () => {
    expect(() => chunk([1], 0)).toThrow(RangeError);
  });

  it("also bounds the bytes of a chunk, giving an oversized item a chunk of its own", () => {
    const sizes = [400, 400, 400, 1500, 100, 100];
    expect(chunk(sizes, 128, 1000, (n) => n)).toEqual([[400, 400], [400], [1500], [100, 100]]);
    expect(chunk(sizes, 2, 10_000, (n) => n)).toEqual([
      [400, 400],
      [400, 1500],
      [100, 100],
    ]);
  });

  it("counts each item as the operations it becomes, when told", () => {
    // Each number is an item that becomes that many operations; bytes do not limit here.
    const byOps = (items: number[], maxOps: number) =>
      chunk(
        items,
        maxOps,
        Number.POSITIVE_INFINITY,
        () => 0,
        (n) => n,
      );
    const ops = [1, 2, 2, 1, 2];
    expect(byOps(ops, 3)).toEqual([[1, 2], [2, 1], [2]]);
    expect(byOps(ops, 4)).toEqual([[1, 2], [2, 1], [2]]);
    expect(byOps([2, 2], 1)).toEqual([[2], [2]]);
  });
});

describe("ops", () => {
  it("attaches the lease only when given", () => {
    expect(putOp("a/b", "v", "42").request_put?.lease).toBe("42");
    expect(putOp("a/b", "v", undefined).request_put).not.toHaveProperty("lease");
    expect(deleteOp("a/b").request_delete_range?.key?.toString()).toBe("a/b");
  });
});
