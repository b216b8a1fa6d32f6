import pino from "pino";
import { describe, expect, it } from "vitest";
import { redactingLogger } from "./logger.js";

/** A real pino logger writing its JSON lines to memory. */
function pinoToMemory(level = "debug") {
  const text: string[] = [];
  const logger = pino({ level }, { write: (line: string) => void text.push(line) });
  const lines = () => text.map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, text, lines };
}

describe("a pino logger", () => {
  it("takes the fields and the message as they are, at each level", () => {
    const { logger, lines } = pinoToMemory();
    const safe = redactingLogger(logger, { component: "registrar" });
    safe.debug?.({ service: "svc" }, "d");
    safe.info?.({ service: "svc", revision: "12" }, "i");
    safe.warn?.({ service: "svc", key: "svc/10.0.0.1:80", lease: "694da20c8de24042" }, "lease lost");
    safe.error?.({ service: "svc", member: "10.0.0.9" }, "e");
    expect(lines()).toMatchObject([
      { level: 20, component: "registrar", service: "svc", msg: "d" },
      { level: 30, component: "registrar", service: "svc", revision: "12", msg: "i" },
      {
        level: 40,
        component: "registrar",
        service: "svc",
        key: "svc/10.0.0.1:80",
        lease: "694da20c8de24042",
        msg: "lease lost",
      },
      { level: 50, component: "registrar", service: "svc", member: "10.0.0.9", msg: "e" },
    ]);
  });

  it("serialises an error under err, with no password anywhere in the line", () => {
    const { logger, text, lines } = pinoToMemory();
    const safe = redactingLogger(logger);
    const err = new Error("14 UNAVAILABLE: dns:root:s3cret@127.0.0.1:2379 unreachable");
    safe.warn?.(
      { err, target: "http://root:s3cret@127.0.0.1:2379" },
      "watch failed at root:s3cret@127.0.0.1:2379",
    );
    expect(lines()).toMatchObject([
      {
        level: 40,
        err: { type: "Error", message: "14 UNAVAILABLE: ***@127.0.0.1:2379 unreachable" },
        target: "http://***@127.0.0.1:2379",
        msg: "watch failed at ***@127.0.0.1:2379",
      },
    ]);
    expect(text.join("")).not.toContain("s3cret");
  });

  it("follows pino's level as it changes", () => {
    const { logger, lines } = pinoToMemory("warn");
    const safe = redactingLogger(logger);
    safe.info?.({}, "hidden");
    logger.level = "info";
    safe.info?.({}, "shown");
    expect(lines().map((line) => line["msg"])).toEqual(["shown"]);
  });
});
