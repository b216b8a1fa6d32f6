/**
 * `--debug`: the error's cause chain below its one-line message, one `  caused by:` line per cause (name,
 * code when it has one, first line of the message), outermost first; a cycle or a chain past 10 stops.
 */
export function causeChain(error: Error): string[] {
  const lines: string[] = [];
  const seen = new Set<unknown>([error]);
  let cause: unknown = error.cause;
  while (cause !== undefined && !seen.has(cause) && lines.length < 10) {
    seen.add(cause);
    if (cause instanceof Error) {
      const code = (cause as { code?: unknown }).code;
      const named = code === undefined ? cause.name : `${cause.name} [${String(code)}]`;
      lines.push(`  caused by: ${named}: ${(cause.message.split("\n")[0] ?? "").trim()}`);
      cause = cause.cause;
    } else {
      lines.push(`  caused by: ${String(cause)}`);
      cause = undefined;
    }
  }
  return lines;
}
