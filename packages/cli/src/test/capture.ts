import { type CliOptions, createCli } from "../cli.js";

/** What one in-process run printed and returned. */
export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process with string sinks; `env` defaults to empty so the host's ETCD_* never leak in. */
export async function runInProcess(argv: string[], options: CliOptions = {}): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const cli = createCli({
    env: {},
    isTTY: false,
    ...options,
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
  });
  const code = await cli.run(argv);
  return { code, stdout, stderr };
}
