import { describe, expect, it } from "vitest";
import { colorEnabled, Output } from "./output.js";
import { startSpinner } from "./spinner.js";
import { formatTable } from "./table.js";

const ESC = "\u001b[";

function sinks() {
  const text = { out: "", err: "" };
  return {
    text,
    stdout: { write: (s: string) => (text.out += s) },
    stderr: { write: (s: string) => (text.err += s) },
  };
}

describe("colours", () => {
  it("only on a terminal, never with --json or NO_COLOR", () => {
    expect(colorEnabled(true, false, {})).toBe(true);
    expect(colorEnabled(false, false, {})).toBe(false);
    expect(colorEnabled(true, true, {})).toBe(false);
    expect(colorEnabled(true, false, { NO_COLOR: "1" })).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    expect(colorEnabled(true, false, { NO_COLOR: "" })).toBe(true);
  });

  it("paints stdout and stderr independently", () => {
    const s = sinks();
    const out = new Output(s.stdout, s.stderr, {
      json: false,
      quiet: false,
      tty: { stdin: false, stdout: false, stderr: true },
      env: {},
    });
    out.line(out.paint("green", "added"));
    out.warn("careful");
    expect(s.text.out).toBe("added\n");
    expect(s.text.err).toBe(`${ESC}33mwarning:${ESC}39m careful\n`);
  });

  it("--quiet drops warnings and notes but not errors", () => {
    const s = sinks();
    const out = new Output(s.stdout, s.stderr, {
      json: false,
      quiet: true,
      tty: { stdin: false, stdout: false, stderr: false },
      env: {},
    });
    out.warn("w");
    out.note("n");
    out.error("e");
    expect(s.text.err).toBe("error: e\n");
  });
});

describe("formatTable", () => {
  it("pads every column but the last, by code points", () => {
    const lines = formatTable(
      ["KEY", "ADDRESS", "TTL"],
      [
        ["svc/東京", "1.2.3.4:1", "-"],
        ["svc/a-long-key", "h:2", "9s"],
      ],
      (t) => `<${t}>`,
    );
    expect(lines).toEqual([
      "<KEY           >  <ADDRESS  >  <TTL>",
      "svc/東京          1.2.3.4:1  -",
      "svc/a-long-key  h:2        9s",
    ]);
  });
});

describe("startSpinner", () => {
  it("draws on a terminal and erases itself", () => {
    let text = "";
    const stop = startSpinner({ write: (s: string) => (text += s) }, true, "connecting");
    expect(text).toMatch(/^\r. connecting/);
    stop();
    stop();
    expect(text.endsWith(`\r${ESC}K`)).toBe(true);
  });

  it("writes nothing at all when disabled", () => {
    let text = "";
    startSpinner({ write: (s: string) => (text += s) }, false, "connecting")();
    expect(text).toBe("");
  });
});
