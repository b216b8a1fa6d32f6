/**
 * Why a command failed. `USAGE` maps to exit code 2 (the command line itself is wrong); every other code is
 * a runtime failure and maps to exit code 1.
 */
export type CliErrorCode =
  | "USAGE"
  | "UNREACHABLE"
  | "AUTH"
  | "PERMISSION_DENIED"
  | "NOT_FOUND"
  | "ETCD"
  | "ABORTED"
  | "INTERNAL";

/** A failure the CLI reports as one `error: ...` line and an exit code; callers branch on `code`. */
export class CliError extends Error {
  readonly code: CliErrorCode;

  constructor(code: CliErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "CliError";
    this.code = code;
  }

  /** 2 for usage errors, 1 for everything else. */
  get exitCode(): 1 | 2 {
    return this.code === "USAGE" ? 2 : 1;
  }
}

/** Shorthand for a usage error (exit code 2). */
export function usageError(message: string, options?: ErrorOptions): CliError {
  return new CliError("USAGE", message, options);
}
