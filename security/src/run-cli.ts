import { type CliOptions, createCli } from "@etcd-naming/cli";
import { type CapturedRun, captureOutput } from "@etcd-naming/etcd-fixture";

/** Runs `etcd-naming` in this process; `env` is empty unless given, so the host's ETCD_* never leak in. */
export function runCli(argv: string[], options: CliOptions = {}): Promise<CapturedRun> {
  return captureOutput((sinks) => createCli({ env: {}, isTTY: false, ...options, ...sinks }).run(argv));
}
