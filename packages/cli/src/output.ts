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

/** Colours only on a terminal, never for `--json` and never when NO_COLOR is set to anything but "". */
export function colorEnabled(
  isTTY: boolean,
  json: boolean,
  env: Record<string, string | undefined>,
): boolean {
  const noColor = env["NO_COLOR"];
  return isTTY && !json && (noColor === undefined || noColor === "");
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

/** Everything a command prints goes through here, so colour, `--json` and `--quiet` are decided once. */
export class Output {
  readonly stdout: TextSink;
  readonly stderr: TextSink;
  /** Styles for stdout. */
  readonly paint: Painter;
  /** Styles for stderr. */
  readonly paintErr: Painter;
  readonly json: boolean;
  readonly quiet: boolean;

  constructor(
    stdout: TextSink,
    stderr: TextSink,
    options: { json: boolean; quiet: boolean; tty: TtyState; env: Record<string, string | undefined> },
  ) {
    this.stdout = stdout;
    this.stderr = stderr;
    this.json = options.json;
    this.quiet = options.quiet;
    this.paint = painter(colorEnabled(options.tty.stdout, options.json, options.env));
    this.paintErr = painter(colorEnabled(options.tty.stderr, options.json, options.env));
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
