import { NamingError } from "@etcd-naming/codec";
import { Command, CommanderError } from "commander";
import { CliError, usageError } from "./cli-error.js";
import {
  ATTR_FLAGS,
  ATTR_HELP,
  addConnectionOptions,
  collect,
  escapeControl,
  HELP_FOOTER,
  ID_FLAGS,
  ID_HELP,
  NAME,
  PAUSE_NOTE,
  resolveTty,
  usageHint,
} from "./cli-options.js";
import { addCommand, type EndpointOptions } from "./command-add.js";
import { completionCommand } from "./command-completion.js";
import { delCommand } from "./command-del.js";
import { getCommand } from "./command-get.js";
import { leaseCommand } from "./command-lease.js";
import { listCommand } from "./command-list.js";
import { pauseCommand } from "./command-pause.js";
import { registerCommand } from "./command-register.js";
import { servicesCommand } from "./command-services.js";
import { versionCommand } from "./command-version.js";
import { watchCommand } from "./command-watch.js";
import { describeEtcdError } from "./connection.js";
import type { CommandContext } from "./context.js";
import { causeChain } from "./debug.js";
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
    addConnectionOptions(program);
    program.addHelpText(
      "after",
      "\nConnection and output options work before the command, and after it too.",
    );
    const context = (cmd: Command): CommandContext => commandContext(around, state, program, cmd);

    /** A command taking the given arguments, every connection and output option, and running `run`. */
    const command = (
      name: string,
      description: string,
      args: ReadonlyArray<readonly [name: string, description: string]>,
      run: (ctx: CommandContext, values: string[], o: Opts) => Promise<number>,
    ): Command => {
      const cmd = program.command(name).description(description);
      for (const [arg, help] of args) cmd.argument(arg, help);
      return cmd.action(async (...params: unknown[]) => {
        const command = params[params.length - 1] as Command;
        const values = params.slice(0, args.length) as string[];
        state.exitCode = await run(context(command), values, command.opts<Opts>());
      });
    };
    const SERVICE = ["<service>", "service name, e.g. my-service or team/my-service"] as const;
    const ADDR = ["<addr>", "address clients dial, e.g. 10.0.0.7:50051"] as const;
    const TARGET = ["<addr-or-id>", "the endpoint's address, id, or full key under <service>/"] as const;

    const add = command(
      "add",
      "add a permanent endpoint (no lease), written in Go's format",
      [SERVICE, ADDR],
      (ctx, [service, addr], o) => addCommand(ctx, service as string, addr as string, endpointOptions(o)),
    )
      .option("--metadata <json>", `endpoint metadata as JSON, e.g. '"zone-a"' or '{"zone":"a"}'`)
      .option(ATTR_FLAGS, ATTR_HELP, collect, [])
      .option(ID_FLAGS, ID_HELP);
    const register = command(
      "register",
      "register with a lease, keep it alive until SIGINT/SIGTERM, then deregister",
      [SERVICE, ADDR],
      (ctx, [service, addr], o) =>
        registerCommand(ctx, service as string, addr as string, {
          ...endpointOptions(o),
          ...(str(o["ttl"]) !== undefined ? { ttl: str(o["ttl"]) as string } : {}),
        }),
    )
      .option("--ttl <seconds>", "lease TTL in seconds (default 10)")
      .option("--metadata <json>", "endpoint metadata as JSON")
      .option(ATTR_FLAGS, ATTR_HELP, collect, [])
      .option(ID_FLAGS, ID_HELP);
    const del = command(
      "del",
      "remove one endpoint, or every endpoint of the service with --all",
      [SERVICE, ["[addr-or-id]", "the endpoint's address, id, or full key under <service>/"]],
      (ctx, [service, target], o) =>
        delCommand(ctx, service as string, target, { all: o["all"] === true, yes: o["yes"] === true }),
    )
      .option("--all", "remove every endpoint of the service (asks first)")
      .option("-y, --yes", "do not ask for confirmation");
    const get = command(
      "get",
      "show one endpoint: key, address, metadata, revisions, lease and TTL",
      [SERVICE, TARGET],
      (ctx, [service, target]) => getCommand(ctx, service as string, target as string),
    );
    const list = command(
      "list",
      "list the endpoints of a service (key, address, metadata, attributes, lease, TTL left), and the paused ones",
      [SERVICE],
      (ctx, [service], o) => listCommand(ctx, service as string, { wide: o["wide"] === true }),
    ).option("--wide", "add the create and mod revisions and the version of each key");
    const services = command(
      "services",
      "list the services under a root (the root itself and nested ones) with their endpoint counts",
      [["<root>", "service name or path prefix, e.g. team"]],
      (ctx, [root]) => servicesCommand(ctx, root as string),
    );
    const watch = command(
      "watch",
      "print the current endpoints, then one line per change (with its time) until interrupted",
      [SERVICE],
      (ctx, [service], o) => watchCommand(ctx, service as string, { rev: str(o["rev"]) }),
    ).option(
      "--rev <revision>",
      "print every change since this revision first (etcd keeps it until compaction)",
    );
    const lease = command(
      "lease",
      "show a lease: granted TTL, seconds remaining and the keys attached to it",
      [["<lease-id>", "the lease id in hex as list and etcdctl print it, e.g. 694d8b2a1c3e5f07"]],
      (ctx, [id]) => leaseCommand(ctx, id as string),
    );
    const pauseCommands = (["pause", "resume"] as const).map((name) =>
      command(
        name,
        name === "pause"
          ? "take a registered endpoint out of rotation: its key goes, its process and lease stay"
          : "serve a paused endpoint again under the same lease",
        [SERVICE, TARGET],
        (ctx, [service, target]) => pauseCommand(ctx, service as string, target as string, name === "pause"),
      ).addHelpText("after", PAUSE_NOTE),
    );
    const version = command(
      "version",
      "print this CLI's version, and etcd's version when etcd is reachable",
      [],
      (ctx) => versionCommand(ctx, packageVersion()),
    );
    for (const cmd of [add, register, del, get, list, services, watch, lease, ...pauseCommands, version]) {
      addConnectionOptions(cmd);
    }
    const completion = program
      .command("completion")
      .description("print a shell completion script: bash, zsh or fish")
      .argument("<shell>", "bash, zsh or fish")
      .addHelpText("after", `\nExample: ${NAME} completion bash > /etc/bash_completion.d/${NAME}`)
      .action((shell: string, _o: Opts, cmd: Command) => {
        state.active = cmd;
        state.exitCode = completionCommand(stdout, shell, program);
      });

    for (const cmd of [
      program,
      add,
      register,
      del,
      get,
      list,
      services,
      watch,
      lease,
      ...pauseCommands,
      version,
      completion,
    ])
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
      const end = argv.indexOf("--");
      state.debug = (end === -1 ? argv : argv.slice(0, end)).includes("--debug");
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
    if (state.debug) for (const line of causeChain(cliError)) stderr.write(`${line}\n`);
    if (cliError.code === "USAGE") stderr.write(`${usageHint(state.active ?? program)}\n`);
    return cliError.exitCode;
  }
}

/** `--metadata`, `--attr` and `--id` of add/register, leaving out what was not given. */
function endpointOptions(o: Opts): EndpointOptions {
  const result: EndpointOptions = {};
  const metadata = str(o["metadata"]);
  const key = str(o["id"]);
  const attrs = o["attr"];
  if (metadata !== undefined) result.metadata = metadata;
  if (Array.isArray(attrs) && attrs.length > 0) result.attrs = attrs.map(String);
  if (key !== undefined) result.key = key;
  return result;
}
