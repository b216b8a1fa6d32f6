import { isatty } from "node:tty";
import { PAUSE_MARKER_ROOT } from "@etcd-naming/codec";
import type { Command } from "commander";
import { DEFAULT_COMMAND_TIMEOUT, DEFAULT_DIAL_TIMEOUT, DEFAULT_ENDPOINT } from "./connection.js";
import type { TtyState } from "./output.js";
import { WRITE_OUT_FORMATS } from "./write-out.js";

export const NAME: string = "etcd-naming";

export const HELP_FOOTER: string = `
Environment:
  ETCD_ENDPOINTS, ETCDCTL_ENDPOINTS    endpoints when --endpoints is not given
  ETCD_PASSWORD, ETCDCTL_PASSWORD      password for --user name (never put it in the command line)
  ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY, ETCDCTL_USER,
  ETCDCTL_DIAL_TIMEOUT, ETCDCTL_COMMAND_TIMEOUT, ETCDCTL_WRITE_OUT
  NO_COLOR                             no colours even on a terminal
  FORCE_COLOR                          colours even when not on a terminal (0 or false: never)
  TERM=dumb                            no colours and no spinner

Exit codes:
  0  success
  1  runtime failure (etcd unreachable, nothing to delete, request failed)
  2  usage error`;

export const ATTR_FLAGS: string = "--attr <key=value>";
export const ATTR_HELP: string =
  'an attribute, repeatable (--attr zone=a --attr weight=3): written as the metadata string "weight=3;zone=a", ' +
  "which Go resolvers of every version carry and etcd:///svc?zone=a filters match";

export const ID_FLAGS: string = "--id <id-or-key>";
export const ID_HELP: string = "the endpoint's id or full key (default <service>/<addr>)";

/** Collects a repeatable option's values. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

export const PAUSE_NOTE: string = `
Pausing deletes the endpoint's key (Node and Go clients stop calling it) while the registrar keeps
its process and lease; a marker under ${PAUSE_MARKER_ROOT} on the same lease tells the registrar.
It works for endpoints kept by a running @etcd-naming/registrar (or "${NAME} register"), and waits
up to --command-timeout for it to act.`;

export function resolveTty(isTTY: boolean | Partial<TtyState> | undefined): TtyState {
  if (typeof isTTY === "boolean") return { stdin: isTTY, stdout: isTTY, stderr: isTTY };
  return {
    stdin: isTTY?.stdin ?? isatty(0),
    stdout: isTTY?.stdout ?? isatty(1),
    stderr: isTTY?.stderr ?? isatty(2),
  };
}

export function usageHint(cmd: Command): string {
  const name = cmd.parent ? `${NAME} ${cmd.name()}` : NAME;
  return `Usage: ${name} ${cmd.usage()}\nRun "${name} --help" for details.`;
}

/** The output options every printing command takes (and the program, before the command). */
export function addOutputOptions(cmd: Command): Command {
  cmd.optionsGroup("Options:");
  cmd.option(
    "-w, --write-out <format>",
    `output format: ${WRITE_OUT_FORMATS.join(", ")} (default simple; env ETCDCTL_WRITE_OUT)`,
  );
  cmd.option("--json", "the same as -w json");
  cmd.option("-q, --quiet", "no warnings or progress on stderr");
  cmd.option("--debug", "on failure, print the error's cause chain");
  return cmd;
}

/** The connection options (etcdctl's names) and the output options. */
export function addConnectionOptions(cmd: Command): Command {
  cmd.optionsGroup("Connection options:");
  cmd.option(
    "--endpoints <list>",
    `comma-separated etcd endpoints (default ${DEFAULT_ENDPOINT}; env ETCD_ENDPOINTS, ETCDCTL_ENDPOINTS)`,
  );
  cmd.option("--cacert <file>", "verify etcd's TLS certificate with this CA bundle");
  cmd.option("--cert <file>", "TLS client certificate");
  cmd.option("--key <file>", "TLS client private key");
  cmd.option(
    "--user <name[:password]>",
    "authenticate; without :password, reads --password, ETCD_PASSWORD or asks on a terminal",
  );
  cmd.option("--password <password>", "the password of --user name (visible to ps; prefer ETCD_PASSWORD)");
  cmd.option(
    "--dial-timeout <duration>",
    `give up connecting after this long (default ${DEFAULT_DIAL_TIMEOUT})`,
  );
  cmd.option("--command-timeout <duration>", `timeout of each request (default ${DEFAULT_COMMAND_TIMEOUT})`);
  cmd.option(
    "--insecure-transport",
    "plaintext only: refuse https:// endpoints and ignore ETCDCTL_ TLS files",
  );
  cmd.option("--insecure-skip-tls-verify", "TLS without verifying etcd's certificate (testing only)");
  return addOutputOptions(cmd);
}

/** A control character as JSON writes it (`\\n`, `\\u0007`); anything else unchanged. */
export function escapeControl(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f ? JSON.stringify(c).slice(1, -1) : c;
}
