import { afterEach, describe, expect, it, vi } from "vitest";
import { consoleLogger, type LogFields, redactingLogger } from "./logger.js";

afterEach(() => vi.restoreAllMocks());

describe("consoleLogger", () => {
  it("prints the component's tag, the message and the other fields, behind redaction", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const error = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const logger = consoleLogger();
    logger.warn({ component: "watcher", service: "svc", target: "dns:root:pw@h:1" }, "stale");
    logger.error({ component: "watcher" }, "listing failed at root:pw@h:1");
    logger.warn({}, "untagged");
    logger.warn({ component: "registrar", lease: "694da20c8de24042", member: undefined }, "looked lost");
    logger.warn({ component: "registrar", member: undefined }, "only undefined");
    expect(warn.mock.calls).toEqual([
      ["[etcd-naming/watcher] stale", { service: "svc", target: "***@h:1" }],
      ["[etcd-naming] untagged"],
      ["[etcd-naming/registrar] looked lost", { lease: "694da20c8de24042" }],
      ["[etcd-naming/registrar] only undefined"],
    ]);
    expect(error.mock.calls).toEqual([["[etcd-naming/watcher] listing failed at ***@h:1"]]);
  });

  it("survives a console that throws", () => {
    vi.spyOn(console, "warn").mockImplementation(() => {
      throw new Error("EPIPE");
    });
    expect(() => consoleLogger().warn({}, "x")).not.toThrow();
  });
});

describe("redactingLogger", () => {
  it("redacts the caller's logger and keeps its shape", () => {
    const lines: unknown[][] = [];
    const logger = redactingLogger({ warn: (...args: unknown[]) => lines.push(args) });
    expect(Object.keys(logger)).toEqual(["warn"]);
    logger.warn?.({ error: "dns:root:pw@h:1" }, "at root:pw@h:1");
    expect(lines).toEqual([[{ error: "***@h:1" }, "at ***@h:1"]]);
  });

  it("redacts an error in the fields in place, and keeps it an error", () => {
    const lines: unknown[][] = [];
    const logger = redactingLogger({ error: (...args: unknown[]) => lines.push(args) });
    const err = new Error("connect to http://root:pw@h:1 failed");
    logger.error?.({ err }, "failed");
    expect(lines).toEqual([[{ err }, "failed"]]);
    expect(err.message).toBe("connect to http://***@h:1 failed");
    expect(err.stack).not.toContain("pw");
  });

  it("puts the bound fields first and lets a line's own field win", () => {
    const lines: LogFields[] = [];
    const logger = redactingLogger(
      { info: (fields: LogFields) => lines.push(fields) },
      { component: "registrar", service: "bound" },
    );
    logger.info?.({ key: "svc/a", service: "svc" }, "m");
    expect(lines).toEqual([{ component: "registrar", service: "svc", key: "svc/a" }]);
    expect(Object.keys(lines[0]!)).toEqual(["component", "service", "key"]);
  });

  it("hands back a logger made here as it is, so a message is redacted once", () => {
    const made = redactingLogger({ warn: () => undefined });
    expect(redactingLogger(made)).toBe(made);
    const console_ = consoleLogger();
    expect(redactingLogger(console_)).toBe(console_);
    // Twice would also take the address before the masked user info.
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    redactingLogger(console_).warn?.({}, "dial 10.0.0.1:2379 root:pw@h:1");
    redactingLogger(console_, { component: "grpc-js" }).warn?.({}, "dial 10.0.0.1:2379 root:pw@h:1");
    expect(warn.mock.calls).toEqual([
      ["[etcd-naming] dial 10.0.0.1:2379 ***@h:1"],
      ["[etcd-naming/grpc-js] dial 10.0.0.1:2379 ***@h:1"],
    ]);
  });

  it("writes to the console when there is no logger", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    redactingLogger(undefined, { component: "registrar" }).warn?.({ key: "svc/a" }, "skipped");
    expect(warn.mock.calls).toEqual([["[etcd-naming/registrar] skipped", { key: "svc/a" }]]);
  });

  it("ignores a logger that throws", () => {
    const logger = redactingLogger({
      warn: () => {
        throw new Error("full disk");
      },
    });
    expect(() => logger.warn?.({}, "x")).not.toThrow();
  });

  it("calls the logger's method of the moment, as pino swaps its level methods", () => {
    const lines: string[] = [];
    const noop = () => undefined;
    type Write = (fields: LogFields, message: string) => void;
    const pinoLike: { level: string; debug: Write; warn: Write } = {
      level: "info",
      debug: noop,
      warn: (_f, m) => lines.push(`warn ${m}`),
    };
    const logger = redactingLogger(pinoLike);
    logger.debug?.({}, "before");
    pinoLike.debug = (_f, m) => lines.push(`debug ${m}`);
    logger.debug?.({}, "after root:pw@h:1");
    pinoLike.warn = noop;
    logger.warn?.({}, "silenced");
    expect(lines).toEqual(["debug after ***@h:1"]);
  });
});
