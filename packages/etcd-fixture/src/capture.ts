// What a command-line program printed, captured in this process: the CLI's tests and the security suite
// run `etcd-naming` through its `createCli` with these string sinks instead of spawning it.

/** A place a program writes its output to. */
export interface OutputSink {
  write(text: string): unknown;
}

/** What one in-process run printed and returned. */
export interface CapturedRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `run` with string sinks for stdout and stderr; resolves with its exit code and what it wrote. */
export async function captureOutput(
  run: (sinks: { stdout: OutputSink; stderr: OutputSink }) => Promise<number>,
): Promise<CapturedRun> {
  let stdout = "";
  let stderr = "";
  const code = await run({
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  return { code, stdout, stderr };
}
