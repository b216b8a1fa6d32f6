import type { Command } from "commander";
import type { Etcd3 } from "etcd3";
import { usageError } from "./cli-error.js";
import {
  type ConnectionFlags,
  type ConnectionSettings,
  openClient,
  resolveConnection,
} from "./connection.js";
import type { CommandContext } from "./context.js";
import { holdProcessOpen } from "./interrupt.js";
import { Output, type TextSink, type TtyState } from "./output.js";
import type { Prompter } from "./prompt.js";
import { startSpinner } from "./spinner.js";
import { parseWriteOut } from "./write-out.js";

/** What one `run` holds: the exit code, the command running, and what to close when it returns. */
export interface RunState {
  exitCode: number;
  active: Command | undefined;
  settings: ConnectionSettings | undefined;
  clients: Etcd3[];
  disposers: Array<() => void>;
  interrupt: AbortController | undefined;
  release: (() => void) | undefined;
  /** `--debug`: print the cause chain of a failure. */
  debug: boolean;
}

export type Opts = Record<string, unknown>;

export const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

export const freshState = (): RunState => ({
  exitCode: 0,
  active: undefined,
  settings: undefined,
  clients: [],
  disposers: [],
  interrupt: undefined,
  release: undefined,
  debug: false,
});

/** The process around the CLI, shared by every run. */
export interface RunEnvironment {
  stdout: TextSink;
  stderr: TextSink;
  env: Record<string, string | undefined>;
  tty: TtyState;
  prompter(): Prompter;
  signal: AbortSignal | undefined;
}

/**
 * The context `cmd` runs with: connection and output flags picked from the command, or else from before it,
 * an etcd client opened on demand and closed after the run, and the interrupt signal.
 */
export function commandContext(
  around: RunEnvironment,
  state: RunState,
  program: Command,
  cmd: Command,
): CommandContext {
  const { stdout, stderr, env, tty } = around;
  state.active = cmd;
  const global = program.opts<Opts>();
  const local = cmd.opts<Opts>();
  const pick = (name: string): string | undefined => str(local[name]) ?? str(global[name]);
  const flags: ConnectionFlags = {};
  type TextFlag = Exclude<keyof ConnectionFlags, "insecureTransport" | "insecureSkipTlsVerify">;
  const assign = (name: TextFlag, value: string | undefined): void => {
    if (value !== undefined) flags[name] = value;
  };
  assign("endpoints", pick("endpoints"));
  assign("cacert", pick("cacert"));
  assign("cert", pick("cert"));
  assign("key", pick("key"));
  assign("user", pick("user"));
  assign("password", pick("password"));
  assign("dialTimeout", pick("dialTimeout"));
  assign("commandTimeout", pick("commandTimeout"));
  const flag = (name: string): boolean => local[name] === true || global[name] === true;
  if (flag("insecureTransport")) flags.insecureTransport = true;
  if (flag("insecureSkipTlsVerify")) flags.insecureSkipTlsVerify = true;
  if (flag("debug")) state.debug = true;
  const writeOut = pick("writeOut");
  const fromEnv =
    writeOut === undefined && env["ETCDCTL_WRITE_OUT"] !== undefined && env["ETCDCTL_WRITE_OUT"] !== "";
  const format = fromEnv
    ? parseWriteOut(env["ETCDCTL_WRITE_OUT"], flag("json") ? "json" : undefined, "ETCDCTL_WRITE_OUT")
    : parseWriteOut(writeOut, flag("json") ? "json" : undefined);
  const json = format === "json";
  const quiet = flag("quiet");
  const out = new Output(stdout, stderr, { format, quiet, tty, env });
  const settings = resolveConnection(flags, env);
  state.settings = settings;
  return {
    out,
    env,
    tty,
    get prompter() {
      return around.prompter();
    },
    settings,
    async connect() {
      const user = settings.user;
      if (user !== undefined && user.password === undefined) {
        if (!tty.stdin) {
          throw usageError(
            `no password for user "${user.name}": set ETCD_PASSWORD or pass --user ${user.name}:<password>`,
          );
        }
        user.password = await around.prompter().password(`Password for ${user.name}: `);
      }
      if (user !== undefined && !settings.secure && !settings.insecureTransport) {
        out.warn(
          `sending the password of user "${user.name}" in plaintext to ${settings.endpoints.join(",")}; ` +
            "use https:// endpoints or --cacert",
        );
      }
      const stop = startSpinner(
        stderr,
        tty.stderr && !json && !quiet && env["TERM"] !== "dumb",
        `connecting to etcd at ${settings.endpoints.join(",")}`,
      );
      try {
        const client = await openClient(settings);
        state.clients.push(client);
        return client;
      } finally {
        stop();
      }
    },
    interrupted() {
      // Whoever waits for an interrupt keeps the process alive until the command returns.
      if (state.release === undefined) {
        const release = holdProcessOpen();
        state.release = release;
        state.disposers.push(release);
      }
      if (around.signal) return around.signal;
      if (state.interrupt === undefined) {
        const controller = new AbortController();
        const onSignal = (signal: NodeJS.Signals): void => controller.abort(signal);
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        state.disposers.push(() => {
          process.off("SIGINT", onSignal);
          process.off("SIGTERM", onSignal);
        });
        state.interrupt = controller;
      }
      return state.interrupt.signal;
    },
  };
}
