import { usageError } from "./cli-error.js";

/** The output formats of `-w/--write-out`, as etcdctl names them. */
export const WRITE_OUT_FORMATS = ["simple", "json", "table", "fields"] as const;
export type WriteOut = (typeof WRITE_OUT_FORMATS)[number];

/** Checks a `-w` value; `--json` is the same as `-w json` and may not contradict it. */
export function parseWriteOut(
  value: string | undefined,
  json: "json" | undefined,
  where = "--write-out",
): WriteOut {
  if (value === undefined) return json ?? "simple";
  if (!(WRITE_OUT_FORMATS as readonly string[]).includes(value)) {
    throw usageError(
      `invalid ${where} ${JSON.stringify(value)}: expected one of ${WRITE_OUT_FORMATS.join(", ")}`,
    );
  }
  if (json !== undefined && value !== "json") throw usageError(`--json contradicts ${where} ${value}`);
  return value as WriteOut;
}

/** A value as one cell: strings as they are, absent as "-", anything else as JSON. */
export function cell(value: unknown): string {
  if (value === undefined || value === null) return "-";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

/**
 * Rows in a bordered table like etcdctl's `-w table`:
 * `+-----+` rules around the header and the rows, cells padded between `| ` and ` |`.
 */
export function borderedTable(header: readonly string[], rows: readonly string[][]): string[] {
  const width = (text: string): number => [...text].length;
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const rule = `+${widths.map((w) => "-".repeat(w + 2)).join("+")}+`;
  const line = (cells: readonly string[]): string =>
    `|${widths.map((w, i) => ` ${cells[i] ?? ""}${" ".repeat(w - width(cells[i] ?? ""))} `).join("|")}|`;
  return [rule, line(header), rule, ...rows.map(line), rule];
}

/** `modRevision` → `ModRevision`, the field names etcdctl's `-w fields` prints. */
export function fieldName(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/** One record as etcdctl's `-w fields` prints it: `"Name" : value`, strings quoted, one per line. */
export function fieldLines(record: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(record)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `"${fieldName(name)}" : ${JSON.stringify(value)}`);
}

/** `createRevision` → `CREATE REVISION`, a table header. */
export function headerName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toUpperCase();
}
