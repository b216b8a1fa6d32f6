// Two ways to run `etcd-naming`: in this process through createCli (fast, for many runs), and as a real
// process from its sources (what a user sees: Node's own warnings, hangs, memory), each bounded in time.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { createCli } from "@etcd-naming/cli";

/** What one run of the CLI did. */
export interface CliRun {
  /** The exit code; null when the process died of a signal or the run never ended. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  ms: number;
  /** The run did not end within its time bound (and was stopped). */
  hung: boolean;
  /** Process warnings emitted during the run (in-process) or refused connections/lookups (process). */
  warnings: string[];
  /** Largest resident set seen, in KiB (process runs only). */
  peakRssKb?: number;
  /** The process was killed for exceeding the memory bound. */
  tooMuchMemory?: boolean;
  guard: { kind: string; target: string }[];
}

export interface InProcessOptions {
  env: Record<string, string>;
  /** Abort (like SIGTERM) this long after the start: how `watch` and `register` are stopped. */
  stopAfterMs?: number;
  /** The run must end within this long after the stop (or after the start when nothing stops it). */
  timeoutMs: number;
}

/** Runs the CLI in this process, capturing its streams and any process warning emitted meanwhile. */
export async function runCliInProcess(argv: readonly string[], options: InProcessOptions): Promise<CliRun> {
  let stdout = "";
  let stderr = "";
  const warnings: string[] = [];
  // DEP0123 comes from grpc-js, which names an https IP endpoint as the TLS server name: the bin drops it
  // (checked by the as-a-process property), while in a host process the host owns its warnings.
  const onWarning = (warning: Error & { code?: string }) => {
    if (warning.code !== "DEP0123") warnings.push(`${warning.name}: ${warning.message.split("\n")[0]}`);
  };
  process.on("warning", onWarning);
  const controller = new AbortController();
  const started = Date.now();
  const stopTimer =
    options.stopAfterMs === undefined
      ? undefined
      : setTimeout(() => controller.abort("SIGTERM"), options.stopAfterMs);
  let timer: NodeJS.Timeout | undefined;
  try {
    const cli = createCli({
      env: options.env,
      isTTY: false,
      signal: controller.signal,
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      prompter: {
        password: async () => {
          throw new Error("the fuzz runs have no terminal: the CLI must not prompt");
        },
        confirm: async () => false,
      } as never,
    });
    const bound = (options.stopAfterMs ?? 0) + options.timeoutMs;
    const outcome = await Promise.race([
      cli.run(argv).then((code) => ({ code })),
      new Promise<{ code: undefined }>((resolve) => {
        timer = setTimeout(() => resolve({ code: undefined }), bound);
      }),
    ]);
    if (outcome.code === undefined) controller.abort("SIGTERM");
    return {
      code: outcome.code ?? null,
      signal: null,
      stdout,
      stderr,
      ms: Date.now() - started,
      hung: outcome.code === undefined,
      warnings,
      guard: [],
    };
  } finally {
    clearTimeout(timer);
    clearTimeout(stopTimer);
    process.off("warning", onWarning);
  }
}

// Every child still running, so that nothing outlives the test file: a run abandoned by a fast-check
// timeout keeps its process, which a blocking read or an endless one would keep alive forever.
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Kills every CLI process still running and waits for them to end (call it in `afterAll`). */
export async function killCliProcesses(): Promise<void> {
  await Promise.all(
    [...live].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("close", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

const cliDir = fileURLToPath(new URL("../../packages/cli/", import.meta.url));
const childGuard = new URL("./child-guard.ts", import.meta.url).href;

export interface ProcessOptions {
  env: Record<string, string>;
  /** Send SIGTERM once the output matches this (watch, register up and running)… */
  stopWhen?: RegExp;
  /**
   * …or this long after its first output at the latest. Counted from the first output, not the start: on
   * a loaded machine loading the CLI from its sources can take longer than this, and a SIGTERM before the
   * CLI is up ends it by the signal, which says nothing about the CLI. One that writes nothing (a quiet
   * `watch` of an empty service) gets its SIGTERM 30 s after the start.
   */
  stopAfterOutputMs?: number;
  /** Kill the process (and report a hang) when it has not exited this long after the start or the SIGTERM. */
  timeoutMs: number;
  /** Kill the process (and report it) when its resident set grows past this, in KiB. */
  maxRssKb: number;
}

/** When a process given `stopAfterOutputMs` has written nothing, the SIGTERM comes this long after the start. */
const SILENT_STOP_MS = 30_000;

function rssKb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs `etcd-naming` as its own process from the sources (`node --import tsx src/main.ts`, the development
 * entry), with the loopback guard preloaded, a clean environment, stdin on /dev/null, and bounds on time
 * and memory.
 */
export function runCliProcess(argv: readonly string[], options: ProcessOptions): Promise<CliRun> {
  // A process's arguments and environment are C strings: a NUL byte cannot reach a real CLI, so it is
  // cut here (the in-process runs still get it).
  const noNul = (text: string) => text.replaceAll("\u0000", "");
  const args = argv.map(noNul);
  options = {
    ...options,
    env: Object.fromEntries(Object.entries(options.env).map(([k, v]) => [noNul(k), noNul(String(v))])),
  };
  const guardDir = mkdtempSync(`${tmpdir()}/fuzz-guard-`);
  const guardLog = `${guardDir}/guard.jsonl`;
  const env = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    HOME: process.env["HOME"] ?? "/tmp",
    ...options.env,
    FUZZ_GUARD_LOG: guardLog,
  };
  const started = Date.now();
  return new Promise<CliRun>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@etcd-naming/source", "--import", "tsx", "--import", childGuard, "src/main.ts", ...args],
      { cwd: cliDir, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    live.add(child);
    let stdout = "";
    let stderr = "";
    let hung = false;
    let tooMuchMemory = false;
    let peakRssKb = 0;
    let stopped = false;
    let deadline = started + options.timeoutMs;
    const stop = () => {
      if (stopped || child.exitCode !== null) return;
      stopped = true;
      deadline = Date.now() + options.timeoutMs;
      child.kill("SIGTERM");
    };
    let fallback = options.stopAfterOutputMs === undefined ? undefined : setTimeout(stop, SILENT_STOP_MS);
    let spoke = false;
    const onOutput = () => {
      if (!spoke && options.stopAfterOutputMs !== undefined) {
        spoke = true;
        clearTimeout(fallback);
        fallback = setTimeout(stop, options.stopAfterOutputMs);
      }
      if (
        options.stopWhen !== undefined &&
        !stopped &&
        (options.stopWhen.test(stdout) || options.stopWhen.test(stderr))
      ) {
        setTimeout(stop, 200);
      }
    };
    child.stdout.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
      onOutput();
    });
    child.stderr.setEncoding("utf8").on("data", (s: string) => {
      stderr += s;
      onOutput();
    });
    const poll = setInterval(() => {
      if (child.pid === undefined || child.exitCode !== null) return;
      const rss = rssKb(child.pid);
      if (rss !== undefined) peakRssKb = Math.max(peakRssKb, rss);
      if (rss !== undefined && rss > options.maxRssKb) {
        tooMuchMemory = true;
        child.kill("SIGKILL");
      } else if (Date.now() > deadline) {
        hung = true;
        child.kill("SIGKILL");
      }
    }, 25);
    child.on("error", (error) => {
      live.delete(child);
      clearInterval(poll);
      clearTimeout(fallback);
      rmSync(guardDir, { recursive: true, force: true });
      reject(error);
    });
    child.on("close", (code, signal) => {
      live.delete(child);
      clearInterval(poll);
      clearTimeout(fallback);
      let guard: { kind: string; target: string }[] = [];
      try {
        guard = readFileSync(guardLog, "utf8")
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => JSON.parse(line) as { kind: string; target: string });
      } catch {
        // Nothing refused: the file was never written.
      }
      rmSync(guardDir, { recursive: true, force: true });
      resolve({
        code,
        signal,
        stdout,
        stderr,
        ms: Date.now() - started,
        hung,
        warnings: [],
        peakRssKb,
        tooMuchMemory,
        guard,
      });
    });
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are what is stripped here.
const ANSI = /\u001b\[[0-9;]*m/g;

const STACK_FRAME = /^\s+at\s+\S/;
const NODE_NOISE =
  /^\(node:\d+\)|\b[A-Za-z]*Warning\b|\[DEP\d{4}\]|node:internal|triggerUncaughtException|^Node\.js v\d|^\s*\^\s*$/;
const UNCAUGHT = /^(?:Uncaught )?[A-Za-z]*Error(?: \[[A-Z_]+\])?: /;

/**
 * What is wrong with a run's exit code and streams, by the CLI's contract: exit 0, 1 or 2; on failure
 * exactly one `error:` line on stderr (warnings and progress notes before it, only the usage hint after it
 * for exit 2); never a stack trace, an uncaught error or Node's own warnings; never a hang.
 */
export function contractProblems(run: CliRun): string[] {
  const problems: string[] = [];
  if (run.hung) problems.push(`did not end within its time bound (${run.ms} ms)`);
  if (run.tooMuchMemory) problems.push(`grew past the memory bound (${run.peakRssKb} KiB)`);
  if (!run.hung && !run.tooMuchMemory && (run.code === null || ![0, 1, 2].includes(run.code))) {
    problems.push(`exit code ${run.code} (signal ${run.signal}), expected 0, 1 or 2`);
  }
  for (const warning of run.warnings) problems.push(`process warning during the run: ${warning}`);
  const lines = run.stderr.replace(ANSI, "").split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  for (const line of [...lines, ...run.stdout.replace(ANSI, "").split("\n")]) {
    if (STACK_FRAME.test(line)) problems.push(`stack trace line: ${JSON.stringify(line.slice(0, 200))}`);
    else if (NODE_NOISE.test(line) && !line.startsWith("warning: ") && !line.startsWith("error: "))
      problems.push(`Node's own output: ${JSON.stringify(line.slice(0, 200))}`);
    else if (UNCAUGHT.test(line)) problems.push(`uncaught error: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const errorAt = lines.flatMap((line, i) => (line.startsWith("error:") ? [i] : []));
  if (run.code === 0 && errorAt.length > 0) problems.push(`exit 0 with an error line: ${lines[errorAt[0]!]}`);
  if (run.code === 1 || run.code === 2) {
    if (errorAt.length !== 1) {
      problems.push(
        `exit ${run.code} with ${errorAt.length} "error:" lines on stderr, expected exactly one; stderr: ${JSON.stringify(run.stderr.slice(0, 400))}`,
      );
    } else {
      // commander's "(Did you mean list?)" belongs to the reason of an unknown command or option.
      const rest = lines.slice(errorAt[0]! + 1);
      const after = /^\(Did you mean .+\?\)$/.test(rest[0] ?? "") ? rest.slice(1) : rest;
      const usage =
        run.code === 2 &&
        after.length === 2 &&
        after[0]!.startsWith("Usage: etcd-naming") &&
        /^Run "etcd-naming.*--help" for details\.$/.test(after[1]!);
      if (after.length > 0 && !usage) {
        problems.push(
          `the error line is not the last thing on stderr: ${JSON.stringify(after.join("\n").slice(0, 400))}`,
        );
      }
    }
  }
  return problems;
}
