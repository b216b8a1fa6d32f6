import { type CapturedRun, captureOutput } from "@etcd-naming/etcd-fixture";
import { type CliOptions, createCli } from "../cli.js";

/** Runs the CLI in this process with string sinks; `env` defaults to empty so the host's ETCD_* never leak in. */
export function runInProcess(argv: string[], options: CliOptions = {}): Promise<CapturedRun> {
  return captureOutput((sinks) => createCli({ env: {}, isTTY: false, ...options, ...sinks }).run(argv));
}
