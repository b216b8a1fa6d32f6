import { type CliOptions, createCli } from "@etcd-naming/cli";

/** What one in-process run of the CLI printed and returned. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `etcd-naming` in this process; `env` is empty unless given, so the host's ETCD_* never leak in. */
export async function runCli(argv: string[], options: CliOptions = {}): Promise<CliRun> {
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
