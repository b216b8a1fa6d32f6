/**
 * Lays rows out in columns separated by two spaces; the last column is not padded. Widths count code points,
 * which is right for the keys, addresses and JSON this prints.
 */
export function formatTable(
  header: string[],
  rows: string[][],
  styleHeader: (text: string) => string,
): string[] {
  const width = (text: string): number => [...text].length;
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const render = (cells: string[], style: (text: string) => string): string =>
    cells
      .map((cell, i) => {
        const padded = i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - width(cell));
        return style(padded);
      })
      .join("  ")
      .trimEnd();
  return [render(header, styleHeader), ...rows.map((r) => render(r, (t) => t))];
}
