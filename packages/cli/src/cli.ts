import { isatty } from "node:tty";
import { NamingError, PAUSE_MARKER_ROOT } from "@etcd-naming/codec";
import { Command, CommanderError } from "commander";
import { CliError, usageError } from "./cli-error.js";
import { addCommand, type EndpointOptions } from "./command-add.js";
import { delCommand } from "./command-del.js";
import { listCommand } from "./command-list.js";
import { pauseCommand } from "./command-pause.js";
import { registerCommand } from "./command-register.js";
import { servicesCommand } from "./command-services.js";
import { watchCommand } from "./command-watch.js";
import {
  DEFAULT_COMMAND_TIMEOUT,
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_ENDPOINT,
  describeEtcdError,
} from "./connection.js";
import type { CommandContext } from "./context.js";
import { colorEnabled, Output, type TextSink, type TtyState } from "./output.js";
import { type Prompter, type PromptInput, terminalPrompter } from "./prompt.js";
import {
  commandContext,
  freshState,
  type Opts,
  type RunEnvironment,
  type RunState,
  str,
} from "./run-context.js";
import { packageVersion } from "./version.js";

/** Where the CLI reads and writes; every field defaults to the current process. */
export interface CliOptions {
  stdout?: TextSink;
  stderr?: TextSink;
  /** Read only to prompt for a password or a confirmation on a terminal. */
  stdin?: PromptInput;
  env?: Record<string, string | undefined>;
  /** Whether the standard streams are terminals; a boolean sets all three. */
  isTTY?: boolean | Partial<TtyState>;
  /** Replaces the terminal prompts (password, confirmation). */
  prompter?: Prompter;
  /** Stops `watch` and `register` like SIGINT/SIGTERM would; without it they listen to those signals. */
  signal?: AbortSignal;
}

/** A parsed-on-demand `etcd-naming` command line. */
export interface Cli {
  /** A commander program with every command, for help text and introspection. */
  readonly program: Command;
  /** Parses and runs `argv` (the arguments after the program name); resolves to the exit code. */
  run(argv: readonly string[]): Promise<number>;
}

const NAME = "etcd-naming";

const HELP_FOOTER = `
Environment:
  ETCD_ENDPOINTS, ETCDCTL_ENDPOINTS    endpoints when --endpoints is not given
  ETCD_PASSWORD, ETCDCTL_PASSWORD      password for --user name (never put it in the command line)
  ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY, ETCDCTL_USER,
  ETCDCTL_DIAL_TIMEOUT, ETCDCTL_COMMAND_TIMEOUT
  NO_COLOR                             no colours even on a terminal

Exit codes:
  0  success
  1  runtime failure (etcd unreachable, nothing to delete, request failed)
  2  usage error`;

const ATTR_FLAGS = "--attr <key=value>";
const ATTR_HELP =
  'an attribute, repeatable (--attr zone=a --attr weight=3): written as the metadata string "weight=3;zone=a", ' +
  "which Go resolvers of every version carry and etcd:///svc?zone=a filters match";

/** Collects a repeatable option's values. */
const collect = (value: string, previous: string[]): string[] => [...previous, value];

const PAUSE_NOTE = `
Pausing deletes the endpoint's key (Node and Go clients stop calling it) while the registrar keeps
its process and lease; a marker under ${PAUSE_MARKER_ROOT} on the same lease tells the registrar.
It works for endpoints kept by a running @etcd-naming/registrar (or "${NAME} register"), and waits
up to --command-timeout for it to act.`;

const KEY_NOTE = `
Here --key names the endpoint's key. The TLS client key goes before the command
(${NAME} --cert c.pem --key c.key <command> ...) or in ETCDCTL_KEY.`;

function resolveTty(isTTY: CliOptions["isTTY"]): TtyState {
  if (typeof isTTY === "boolean") return { stdin: isTTY, stdout: isTTY, stderr: isTTY };
  return {
    stdin: isTTY?.stdin ?? isatty(0),
    stdout: isTTY?.stdout ?? isatty(1),
    stderr: isTTY?.stderr ?? isatty(2),
  };
}

function usageHint(cmd: Command): string {
  const name = cmd.parent ? `${NAME} ${cmd.name()}` : NAME;
  return `Usage: ${name} ${cmd.usage()}\nRun "${name} --help" for details.`;
}

function addConnectionOptions(cmd: Command, tlsKey: boolean): Command {
  cmd.optionsGroup("Connection options:");
  cmd.option(
    "--endpoints <list>",
    `comma-separated etcd endpoints (default ${DEFAULT_ENDPOINT}; env ETCD_ENDPOINTS, ETCDCTL_ENDPOINTS)`,
  );
  cmd.option("--cacert <file>", "verify etcd's TLS certificate with this CA bundle");
  cmd.option("--cert <file>", "TLS client certificate");
  if (tlsKey) cmd.option("--key <file>", "TLS client private key");
  cmd.option(
    "--user <name[:password]>",
    "authenticate; without :password, reads ETCD_PASSWORD or asks on a terminal",
  );
  cmd.option(
    "--dial-timeout <duration>",
    `give up connecting after this long (default ${DEFAULT_DIAL_TIMEOUT})`,
  );
  cmd.option("--command-timeout <duration>", `timeout of each request (default ${DEFAULT_COMMAND_TIMEOUT})`);
  cmd.optionsGroup("Options:");
  cmd.option("-q, --quiet", "no warnings or progress on stderr");
  return cmd;
}

/** A control character as JSON writes it (`\\n`, `\\u0007`); anything else unchanged. */
function escapeControl(c: string): string {
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f ? JSON.stringify(c).slice(1, -1) : c;
}

/**
 * Builds the `etcd-naming` command line around injected streams and environment, so it runs the same in a
 * process and in a test. Nothing is parsed or connected until `run`.
 *
 * @example
 * const code = await createCli({ stdout, stderr, env: {} }).run(["list", "my-service", "--json"]);
 */
export function createCli(options: CliOptions = {}): Cli {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const env = options.env ?? process.env;
  const tty = resolveTty(options.isTTY);
  let prompter = options.prompter;
  const getPrompter = (): Prompter => {
    prompter ??= terminalPrompter(options.stdin ?? process.stdin, stderr);
    return prompter;
  };
  const plainErr = new Output(stdout, stderr, { json: false, quiet: false, tty, env });
  const around: RunEnvironment = { stdout, stderr, env, tty, prompter: getPrompter, signal: options.signal };

  const build = (state: RunState): Command => {
    const program = new Command(NAME);
    const context = (cmd: Command, tlsKeyOnCommand: boolean): CommandContext =>
      commandContext(around, state, program, cmd, tlsKeyOnCommand);

    program
      .description(
        "Add, remove, list, watch, register, pause and resume service endpoints in etcd's gRPC naming format.",
      )
      .version(packageVersion(), "-v, --version", "print the version")
      .helpOption("-h, --help", "show help")
      .enablePositionalOptions()
      .exitOverride()
      .configureOutput({
        writeOut: (text) => stdout.write(text),
        writeErr: (text) => stderr.write(text),
        outputError: (text, write) =>
          write(
            text
              // `--password=…` mistyped is still a password: never echo an unknown option's value.
              .replace(/'(-[^'=\s]*)=[^']*'/g, "'$1=***'")
              // An argument echoed back may hold a newline or other control characters: one line, always.
              .replace(/\n$/, "")
              .replace(/\n\(Did you mean /g, " (did you mean ")
              .split("")
              .map(escapeControl)
              .join("")
              .replace(/^error:/, plainErr.paintErr("red", "error:"))
              .concat("\n"),
          ),
        getOutHelpWidth: () => 100,
        getErrHelpWidth: () => 100,
        getOutHasColors: () => colorEnabled(tty.stdout, false, env),
        getErrHasColors: () => colorEnabled(tty.stderr, false, env),
      })
      .addHelpText("after", HELP_FOOTER);
    addConnectionOptions(program, true);
    program.addHelpText(
      "after",
      `\nConnection options work before the command, and after it too (except --key on add/register).`,
    );

    const add = program
      .command("add")
      .description("add a permanent endpoint (no lease), written in Go's format")
      .argument("<service>", "service name, e.g. my-service or team/my-service")
      .argument("<addr>", "address clients dial, e.g. 10.0.0.7:50051")
      .option("--metadata <json>", `endpoint metadata as JSON, e.g. '"zone-a"' or '{"zone":"a"}'`)
      .option(ATTR_FLAGS, ATTR_HELP, collect, [])
      .option("--key <key>", "the endpoint's id or full key (default <service>/<addr>)")
      .option("--json", "print the result as JSON")
      .addHelpText("after", KEY_NOTE);
    addConnectionOptions(add, false).action(async (service: string, addr: string, _o: Opts, cmd: Command) => {
      const ctx = context(cmd, false);
      const o = cmd.opts<Opts>();
      state.exitCode = await addCommand(ctx, service, addr, endpointOptions(o));
    });

    const register = program
      .command("register")
      .description("register with a lease, keep it alive until SIGINT/SIGTERM, then deregister")
      .argument("<service>", "service name")
      .argument("<addr>", "address clients dial")
      .option("--ttl <seconds>", "lease TTL in seconds (default 10)")
      .option("--metadata <json>", "endpoint metadata as JSON")
      .option(ATTR_FLAGS, ATTR_HELP, collect, [])
      .option("--key <key>", "the endpoint's id or full key (default <service>/<addr>)")
      .option("--json", "print events as JSON lines")
      .addHelpText("after", KEY_NOTE);
    addConnectionOptions(register, false).action(
      async (service: string, addr: string, _o: Opts, cmd: Command) => {
        const ctx = context(cmd, false);
        const o = cmd.opts<Opts>();
        state.exitCode = await registerCommand(ctx, service, addr, {
          ...endpointOptions(o),
          ...(str(o["ttl"]) !== undefined ? { ttl: str(o["ttl"]) as string } : {}),
        });
      },
    );

    const del = program
      .command("del")
      .description("remove one endpoint, or every endpoint of the service with --all")
      .argument("<service>", "service name")
      .argument("[addr-or-key]", "the endpoint's address, id, or full key under <service>/")
      .option("--all", "remove every endpoint of the service (asks first)")
      .option("-y, --yes", "do not ask for confirmation")
      .option("--json", "print the deleted keys as JSON");
    addConnectionOptions(del, true).action(
      async (service: string, target: string | undefined, _o: Opts, cmd: Command) => {
        const ctx = context(cmd, true);
        const o = cmd.opts<Opts>();
        state.exitCode = await delCommand(ctx, service, target, {
          all: o["all"] === true,
          yes: o["yes"] === true,
        });
      },
    );

    /** A command of one argument (`<service>` or `<root>`) with `--json` and every connection option. */
    const singleArgumentCommand = (
      name: string,
      description: string,
      argument: readonly [name: string, description: string],
      json: string,
      run: (ctx: CommandContext, value: string) => Promise<number>,
    ): Command => {
      const cmd = program
        .command(name)
        .description(description)
        .argument(...argument)
        .option("--json", json);
      return addConnectionOptions(cmd, true).action(async (value: string, _o: Opts, command: Command) => {
        state.exitCode = await run(context(command, true), value);
      });
    };

    const list = singleArgumentCommand(
      "list",
      "list the endpoints of a service (key, address, metadata, attributes, lease, TTL left), and the paused ones",
      ["<service>", "service name"],
      "print a JSON array sorted by key",
      (ctx, service) => listCommand(ctx, service, {}),
    );
    const services = singleArgumentCommand(
      "services",
      "list the services under a root (the root itself and nested ones) with their endpoint counts",
      ["<root>", "service name or path prefix, e.g. team"],
      "print a JSON array sorted by service",
      servicesCommand,
    );
    const watch = singleArgumentCommand(
      "watch",
      "print the current endpoints, then one line per change until interrupted",
      ["<service>", "service name"],
      "print NDJSON events",
      watchCommand,
    );

    const pauseCommands = (["pause", "resume"] as const).map((name) => {
      const cmd = program
        .command(name)
        .description(
          name === "pause"
            ? "take a registered endpoint out of rotation: its key goes, its process and lease stay"
            : "serve a paused endpoint again under the same lease",
        )
        .argument("<service>", "service name")
        .argument("<addr-or-key>", "the endpoint's address, id, or full key under <service>/")
        .option("--json", "print the result as JSON")
        .addHelpText("after", PAUSE_NOTE);
      addConnectionOptions(cmd, true).action(
        async (service: string, target: string, _o: Opts, command: Command) => {
          state.exitCode = await pauseCommand(context(command, true), service, target, name === "pause");
        },
      );
      return cmd;
    });

    for (const cmd of [program, add, register, del, list, services, watch, ...pauseCommands])
      cmd.showHelpAfterError(usageHint(cmd));
    // Commander shows the root help on stderr, with no reason, both without a command and for
    // `help <unknown>` (`help constructor` included): say why first, or fail like an unknown command.
    const commands = `commands are ${program.commands.map((c) => c.name()).join(", ")}`;
    program.on("beforeHelp", (context: { error: boolean }) => {
      if (!context.error) return;
      const [first, target] = program.args;
      if (first === "help" && target === "help") {
        program.outputHelp();
        throw new CommanderError(0, "commander.helpDisplayed", "(outputHelp)");
      }
      if (first === "help" && target !== undefined) {
        throw usageError(`unknown command ${JSON.stringify(target)}; ${commands}`);
      }
      throw usageError(`missing command; ${commands}`);
    });
    return program;
  };

  return {
    get program() {
      return build(freshState());
    },
    async run(argv) {
      const state = freshState();
      const program = build(state);
      try {
        await program.parseAsync([...argv], { from: "user" });
        return state.exitCode;
      } catch (error) {
        return report(error, state, program);
      } finally {
        for (const dispose of state.disposers) dispose();
        for (const client of state.clients) client.close();
      }
    },
  };

  function report(error: unknown, state: RunState, program: Command): number {
    if (error instanceof CommanderError) {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") return 0;
      // `help` and `help <command>`; without a command, commander asks for exit code 1: a usage error.
      if (error.code === "commander.help" && error.exitCode === 0) return 0;
      // Commander already printed its one-line reason and the usage hint.
      return 2;
    }
    let cliError: CliError;
    if (error instanceof CliError) cliError = error;
    else if (error instanceof NamingError) cliError = usageError(error.message, { cause: error });
    else if (state.settings !== undefined) cliError = describeEtcdError(state.settings, error);
    else {
      const message = error instanceof Error ? error.message : String(error);
      cliError = new CliError("INTERNAL", `unexpected failure: ${message}`, { cause: error });
    }
    plainErr.error(cliError.message);
    if (cliError.code === "USAGE") stderr.write(`${usageHint(state.active ?? program)}\n`);
    return cliError.exitCode;
  }
}

/** `--metadata`, `--attr` and `--key` of add/register, leaving out what was not given. */
function endpointOptions(o: Opts): EndpointOptions {
  const result: EndpointOptions = {};
  const metadata = str(o["metadata"]);
  const key = str(o["key"]);
  const attrs = o["attr"];
  if (metadata !== undefined) result.metadata = metadata;
  if (Array.isArray(attrs) && attrs.length > 0) result.attrs = attrs.map(String);
  if (key !== undefined) result.key = key;
  return result;
}
