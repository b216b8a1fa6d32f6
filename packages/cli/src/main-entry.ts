import { createCli } from "./cli.js";

/**
 * Runs `etcd-naming` in this process: parses `argv` (default: the process's own arguments), sets
 * `process.exitCode` and makes sure the process ends even if a socket lingers. The bin calls this.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  // `etcd-naming list svc | head -1` closes stdout early; that is not an error worth a stack trace.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  const code = await createCli().run(argv);
  process.exitCode = code;
  // gRPC channels close asynchronously; do not let one hold the shell prompt hostage.
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
}
