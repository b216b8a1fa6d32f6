import { describe, expect, it } from "vitest";
import { LogBuffer } from "./log-buffer.js";

describe("LogBuffer", () => {
  it("keeps everything while under the bound", () => {
    const buffer = new LogBuffer(100);
    buffer.append("a\n");
    buffer.append("b\n");
    expect(buffer.text()).toBe("a\nb\n");
    expect(buffer.tail(1)).toBe("b");
  });

  it("drops the oldest output past the bound and says so", () => {
    const buffer = new LogBuffer(10);
    for (let i = 0; i < 10; i++) buffer.append(`line${i}\n`);
    expect(buffer.text()).toMatch(/^\[earlier output dropped\]\n/);
    expect(buffer.text()).toContain("line9\n");
    expect(buffer.text()).not.toContain("line0");
  });

  it("truncates a single oversized chunk to its end", () => {
    const buffer = new LogBuffer(4);
    buffer.append("abcdefgh");
    expect(buffer.text()).toBe("[earlier output dropped]\nefgh");
  });

  it("excerpts head and tail of long output", () => {
    const buffer = new LogBuffer();
    for (let i = 0; i < 50; i++) buffer.append(`l${i}\n`);
    const excerpt = buffer.excerpt(2, 3).split("\n");
    expect(excerpt).toEqual(["l0", "l1", "[... 45 lines ...]", "l47", "l48", "l49"]);
  });
});
