import { afterEach, describe, expect, it, vi } from "vitest";
import { consoleLogger, redactingLogger } from "./logger.js";

afterEach(() => vi.restoreAllMocks());

describe("consoleLogger", () => {
  it("prints the tag, the message and the fields, behind redaction", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const logger = consoleLogger("[etcd-naming/watcher]");
    logger.warn("stale", { service: "svc", target: "dns:root:pw@h:1" });
    logger.error("listing failed at root:pw@h:1", {});
    expect(warn.mock.calls).toEqual([["[etcd-naming/watcher] stale", { service: "svc", target: "***@h:1" }]]);
    expect(error.mock.calls).toEqual([["[etcd-naming/watcher] listing failed at ***@h:1", {}]]);
  });
});

describe("redactingLogger", () => {
  it("redacts the caller's logger and keeps its shape", () => {
    const lines: unknown[][] = [];
    const logger = redactingLogger({ warn: (...args: unknown[]) => lines.push(args) });
    expect(Object.keys(logger)).toEqual(["warn"]);
    logger.warn?.("at root:pw@h:1", { error: "dns:root:pw@h:1" });
    expect(lines).toEqual([["at ***@h:1", { error: "***@h:1" }]]);
  });

  it("hands back a logger made here as it is, so a message is redacted once", () => {
    const made = redactingLogger({ warn: () => undefined });
    expect(redactingLogger(made)).toBe(made);
    const console_ = consoleLogger("[tag]");
    expect(redactingLogger(console_)).toBe(console_);
    // Twice would also take the address before the masked user info.
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    redactingLogger(console_).warn?.("dial 10.0.0.1:2379 root:pw@h:1");
    expect(warn.mock.calls).toEqual([["[tag] dial 10.0.0.1:2379 ***@h:1"]]);
  });

  it("calls the logger's method of the moment, as pino swaps its level methods", () => {
    const lines: string[] = [];
    const noop = () => undefined;
    const pinoLike: { level: string; debug: (m: string) => void; warn: (m: string) => void } = {
      level: "info",
      debug: noop,
      warn: (m: string) => lines.push(`warn ${m}`),
    };
    const logger = redactingLogger(pinoLike);
    logger.debug?.("before");
    pinoLike.debug = (m: string) => lines.push(`debug ${m}`);
    logger.debug?.("after root:pw@h:1");
    pinoLike.warn = noop;
    logger.warn?.("silenced");
    expect(lines).toEqual(["debug after ***@h:1"]);
  });
});
