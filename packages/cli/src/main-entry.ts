import { createCli } from "./cli.js";

/**
 * Node's warnings that the CLI's own checks make moot and that would show the user Node's internals
 * under an error line: an empty host name given to dns (DEP0118; empty hosts are refused before), an IP
 * address as the TLS server name (DEP0123; grpc-js sets it for an `https://<ip>` endpoint, and the CLI's
 * own `tls.connect` now leaves it out, see tls-server-name.ts, so this is only a safety net), and a timer
 * past 2^31-1 ms (every delay derived from input is bounded).
 */
const HIDDEN_WARNINGS = new Set(["DEP0118", "DEP0123", "TimeoutOverflowWarning"]);

/** Keeps the hidden warnings off stderr, and prints any other one as a single `warning:` line. */
function quietNodeWarnings(): void {
  // None when Node runs with --no-warnings: then print nothing either.
  const printers = process.listeners("warning");
  if (printers.length === 0) return;
  process.removeAllListeners("warning");
  process.on("warning", (warning: Error & { code?: string }) => {
    if (HIDDEN_WARNINGS.has(warning.code ?? "") || HIDDEN_WARNINGS.has(warning.name)) return;
    const message = warning.message.split("\n")[0] ?? "";
    process.stderr.write(`warning: ${warning.name}: ${message}\n`);
  });
}

/**
 * Runs `etcd-naming` in this process: parses `argv` (default: the process's own arguments), sets
 * `process.exitCode` and makes sure the process ends even if a socket lingers. The bin calls this.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  quietNodeWarnings();
  // `etcd-naming list svc | head -1` closes stdout early; that is not an error worth a stack trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  // `etcd-naming bad 2>&1 | head -1` closes stderr before the usage hint: the error was said, and the
  // exit code (2 for a usage error) still tells the shell what happened.
  process.stderr.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
  const code = await createCli().run(argv);
  process.exitCode = code;
  // gRPC channels close asynchronously; do not let one hold the shell prompt hostage.
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
}
