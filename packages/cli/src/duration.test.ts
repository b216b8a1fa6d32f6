import { describe, expect, it } from "vitest";
import { CliError } from "./cli-error.js";
import { parseDuration } from "./duration.js";

describe("parseDuration", () => {
  it("reads etcdctl's duration spellings and bare seconds", () => {
    expect(parseDuration("--dial-timeout", "500ms")).toBe(500);
    expect(parseDuration("--dial-timeout", "2s")).toBe(2000);
    expect(parseDuration("--dial-timeout", "1m30s")).toBe(90_000);
    expect(parseDuration("--dial-timeout", "1.5s")).toBe(1500);
    expect(parseDuration("--dial-timeout", "1h")).toBe(3_600_000);
    expect(parseDuration("--dial-timeout", "3")).toBe(3000);
  });

  it("accepts up to a day and nothing that rounds to zero", () => {
    expect(parseDuration("--dial-timeout", "24h")).toBe(86_400_000);
    expect(parseDuration("--dial-timeout", "86400")).toBe(86_400_000);
    expect(parseDuration("--dial-timeout", "1ms")).toBe(1);
    for (const [bad, reason] of [
      ["99999999h", 'invalid --dial-timeout "99999999h": must be at most 24h'],
      ["24h1ms", 'invalid --dial-timeout "24h1ms": must be at most 24h'],
      ["86401", 'invalid --dial-timeout "86401": must be at most 24h'],
      ["9".repeat(400), "must be at most 24h"],
      ["0.1ms", 'invalid --dial-timeout "0.1ms": must be at least 1ms'],
    ] as const) {
      expect(() => parseDuration("--dial-timeout", bad), bad).toThrow(reason);
    }
  });

  it("rejects anything else as a usage error naming the flag", () => {
    for (const bad of ["", "soon", "5 s", "-1s", "0s", "2x", "s", "25h", "1e3s", "Infinity", "0x10s"]) {
      let caught: unknown;
      try {
        parseDuration("--command-timeout", bad);
      } catch (error) {
        caught = error;
      }
      expect(caught, bad).toBeInstanceOf(CliError);
      expect((caught as CliError).code).toBe("USAGE");
      expect((caught as CliError).exitCode).toBe(2);
      expect((caught as CliError).message).toContain("--command-timeout");
    }
  });
});
