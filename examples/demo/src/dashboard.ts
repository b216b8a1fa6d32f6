// How the demo shows itself: on a terminal, a table with one bar per server that is redrawn in place
// under the narration; anywhere else (a pipe, CI, a test), plain lines that read well in a log.

export type ServerState = "starting" | "serving" | "draining" | "drained" | "killed" | "expired" | "stopped";

export interface ServerRow {
  name: string;
  addr: string;
  state: ServerState;
  /** Calls answered in the last second. */
  rate: number;
  total: number;
}

export interface DashboardView {
  rows: ServerRow[];
  failed: number;
  target: string;
}

export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

const BAR_WIDTH = 24;
const BLOCKS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

function bar(value: number, max: number): string {
  const eighths = max <= 0 ? 0 : Math.round((value / max) * BAR_WIDTH * 8);
  const full = Math.floor(eighths / 8);
  return ("█".repeat(full) + (BLOCKS[eighths % 8] ?? "")).padEnd(BAR_WIDTH);
}

export class Dashboard {
  readonly live: boolean;
  readonly #out: Output;
  readonly #color: boolean;
  readonly #started = Date.now();
  #drawn = 0;
  #view: DashboardView | undefined;
  #frozen = false;

  constructor(out: Output, options: { live: boolean; color: boolean }) {
    this.#out = out;
    this.live = options.live;
    this.#color = options.color;
  }

  /** Seconds since the demo started, as a log prefix. */
  clock(): string {
    return `${((Date.now() - this.#started) / 1000).toFixed(1).padStart(5)}s`;
  }

  paint(style: "bold" | "dim" | "green" | "yellow" | "red" | "cyan", text: string): string {
    if (!this.#color) return text;
    const codes = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, cyan: 36 } as const;
    return `\x1b[${codes[style]}m${text}\x1b[0m`;
  }

  /** A line of narration; on a terminal the live table moves down below it. */
  say(line = ""): void {
    this.#erase();
    this.#out.write(`${line}\n`);
    this.#draw();
  }

  /** A narration line with the demo's clock in front. */
  event(line: string): void {
    this.say(`${this.paint("dim", this.clock())}  ${line}`);
  }

  /** New figures: redrawn in place on a terminal; ignored otherwise (see `plainLine`). */
  update(view: DashboardView): void {
    if (this.#frozen) return;
    this.#view = view;
    if (!this.live) return;
    this.#erase();
    this.#draw();
  }

  /** One line with the current rates, for logs. */
  plainLine(view: DashboardView): void {
    const parts = view.rows
      .filter((r) => r.state !== "starting")
      .map((r) => `${r.name} ${String(r.rate).padStart(3)}/s${r.state === "serving" ? "" : ` (${r.state})`}`);
    this.event(`calls: ${parts.join(" | ")} | failed ${view.failed}`);
  }

  /** Stops drawing the live table (leaves the last one on screen). */
  freeze(): void {
    this.#frozen = true;
    this.#drawn = 0;
    this.#view = undefined;
  }

  #erase(): void {
    if (!this.live || this.#drawn === 0) return;
    this.#out.write(`\x1b[${this.#drawn}A\r\x1b[J`);
    this.#drawn = 0;
  }

  #draw(): void {
    const view = this.#view;
    if (!this.live || view === undefined) return;
    const max = Math.max(1, ...view.rows.map((r) => r.rate));
    const stateColor = {
      starting: "dim",
      serving: "green",
      draining: "yellow",
      drained: "dim",
      killed: "red",
      expired: "dim",
      stopped: "dim",
    } as const;
    const lines = [
      "",
      this.paint(
        "bold",
        `  ${"server".padEnd(11)}${"address".padEnd(18)}${"state".padEnd(10)}${"calls/s".padEnd(BAR_WIDTH + 6)}total`,
      ),
      ...view.rows.map(
        (r) =>
          `  ${r.name.padEnd(11)}${r.addr.padEnd(18)}${this.paint(stateColor[r.state], r.state.padEnd(10))}` +
          `${this.paint("cyan", bar(r.rate, max))} ${String(r.rate).padStart(4)} ${String(r.total).padStart(6)}`,
      ),
      `  ${this.paint("dim", `client: ${view.target}, round_robin`)}   failed calls: ${view.failed === 0 ? view.failed : this.paint("red", String(view.failed))}`,
      "",
    ];
    this.#out.write(`${lines.join("\n")}\n`);
    this.#drawn = lines.length;
  }
}
