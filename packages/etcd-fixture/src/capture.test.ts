import { describe, expect, it } from "vitest";
import { captureOutput } from "./capture.js";

describe("captureOutput", () => {
  it("returns the exit code and everything written to each sink", async () => {
    const run = await captureOutput(async ({ stdout, stderr }) => {
      stdout.write("a");
      stderr.write("warn\n");
      stdout.write("b\n");
      return 3;
    });
    expect(run).toEqual({ code: 3, stdout: "ab\n", stderr: "warn\n" });
  });
});
