/** Anything with a `write(text)`: a process stream, a socket, or a test's string collector. */
export interface TextSink {
  write(chunk: string): unknown;
}

/** Which of the three standard streams are terminals. */
export interface TtyState {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

type Style = "bold" | "dim" | "red" | "green" | "yellow" | "cyan";

const CODES: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
};

/**
 * Colours for people: never for machine formats (`json`), never when NO_COLOR is set to anything but "";
 * FORCE_COLOR turns them on off a terminal too (FORCE_COLOR=0 or false turns them off); otherwise only on
 * a terminal whose TERM is not "dumb".
 */
export function colorEnabled(
  isTTY: boolean,
  json: boolean,
  env: Record<string, string | undefined>,
): boolean {
  if (json) return false;
  const noColor = env["NO_COLOR"];
  if (noColor !== undefined && noColor !== "") return false;
  const force = env["FORCE_COLOR"];
  if (force !== undefined) return force !== "0" && force.toLowerCase() !== "false";
  return isTTY && env["TERM"] !== "dumb";
}

/** Paints text with ANSI styles when enabled, or passes it through untouched. */
export type Painter = (style: Style, text: string) => string;

function painter(enabled: boolean): Painter {
  return (style, text) => {
    if (!enabled || text === "") return text;
    const [open, close] = CODES[style];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  };
}

import { borderedTable, cell, fieldLines, headerName, type WriteOut } from "./write-out.js";

/** Everything a command prints goes through here, so colour, `--json` and `--quiet` are decided once. */
export class Output {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Styles for stdout. */
  readonly paint: Painter;
  /** Styles for stderr. */
  readonly paintErr: Painter;
  /** `-w/--write-out`: simple (for people), json, table (bordered) or fields (`"Name" : value`). */
  readonly format: WriteOut;
  readonly quiet: boolean;

  constructor(
    stdout: TextSink,
    stderr: TextSink,
    options: {
      json?: boolean;
      format?: WriteOut;
      quiet: boolean;
      tty: TtyState;
      env: Record<string, string | undefined>;
    },
  ) {
    this.stdout = stdout;
    this.stderr = stderr;
    this.format = options.format ?? (options.json === true ? "json" : "simple");
    this.quiet = options.quiet;
    const plain = this.format !== "simple";
    this.paint = painter(colorEnabled(options.tty.stdout, plain, options.env));
    this.paintErr = painter(colorEnabled(options.tty.stderr, plain, options.env));
  }

  /** Whether the result is JSON (`-w json` or `--json`). */
  get json(): boolean {
    return this.format === "json";
  }

  /**
   * A list of records in the chosen format: a JSON array, a bordered table, `-w fields` blocks separated
   * by a blank line, or, for `simple`, whatever `simple` prints.
   */
  records(records: readonly object[], simple: () => void): void {
    if (this.format === "simple") {
      simple();
      return;
    }
    if (this.format === "json") {
      this.line(JSON.stringify(records, null, 2));
      return;
    }
    const rows = records as readonly Record<string, unknown>[];
    if (this.format === "fields") {
      this.stdout.write(rows.map((r) => `${fieldLines(r).join("\n")}\n`).join("\n"));
      return;
    }
    const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
    const body = rows.map((r) => names.map((n) => cell(r[n])));
    for (const line of borderedTable(names.map(headerName), body)) this.line(line);
  }

  /** One record (a result or an event) in the chosen format; JSON is one line. */
  record(record: object, simple: () => void): void {
    if (this.format === "json") this.jsonLine(record);
    else if (this.format === "simple") simple();
    else this.records([record], simple);
  }

  /** One line of the command's result on stdout. */
  line(text = ""): void {
    this.stdout.write(`${text}\n`);
  }

  /** A value as one line of JSON on stdout. */
  jsonLine(value: unknown): void {
    this.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Progress for people (lease granted, re-registered...), on stderr so stdout stays the result. */
  note(text: string): void {
    if (!this.quiet) this.stderr.write(`${text}\n`);
  }

  warn(text: string): void {
    if (!this.quiet) this.stderr.write(`${this.paintErr("yellow", "warning:")} ${text}\n`);
  }

  error(text: string): void {
    this.stderr.write(`${this.paintErr("red", "error:")} ${text}\n`);
  }
}
