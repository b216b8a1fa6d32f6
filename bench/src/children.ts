import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { within } from "./support.js";

/** A child process that speaks one JSON object per stdout line. */
export interface ChildHandle {
  readonly pid: number | undefined;
  /** The next message whose `type` is `type` (messages already received are not replayed). */
  next<T extends { type: string }>(type: string, timeoutMs: number): Promise<T>;
  /** SIGKILL; resolves when the process is gone. */
  kill(): Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  readonly exited: Promise<number | null>;
}

const childrenDir = new URL("./children/", import.meta.url);
const live = new Set<ChildProcess>();

/**
 * Starts `src/children/<script>` (a path relative to that folder) under the same node with tsx: children run
 * the built workspace packages, like the bench itself. Its stderr
 * is passed through. `nodeArgs` go to node before the script (a profiler's flags); `env` is added to this
 * process's environment for the child.
 */
export function spawnTsChild(
  script: string,
  args: readonly string[],
  options: { nodeArgs?: readonly string[]; env?: Readonly<Record<string, string>> } = {},
): ChildHandle {
  const file = fileURLToPath(new URL(script, childrenDir));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", file, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
  });
  live.add(child);
  const exit = Promise.withResolvers<number | null>();
  child.once("exit", (code) => {
    live.delete(child);
    exit.resolve(code);
  });
  child.once("error", (error) => {
    live.delete(child);
    exit.reject(error);
  });
  exit.promise.catch(() => undefined);

  const waiting = new Map<string, Array<(message: { type: string }) => void>>();
  let buffered = "";
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    buffered += chunk;
    let newline = buffered.indexOf("\n");
    while (newline !== -1) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf("\n");
      if (line === "") continue;
      let message: { type: string };
      try {
        message = JSON.parse(line) as { type: string };
      } catch {
        console.error(`[bench] child ${script}: ${line}`);
        continue;
      }
      const queue = waiting.get(message.type);
      queue?.shift()?.(message);
    }
  });

  return {
    pid: child.pid,
    exited: exit.promise,
    next<T extends { type: string }>(type: string, timeoutMs: number): Promise<T> {
      const got = Promise.withResolvers<T>();
      const queue = waiting.get(type) ?? [];
      queue.push((message) => got.resolve(message as T));
      waiting.set(type, queue);
      const gone = exit.promise.then((code) => {
        throw new Error(`child ${script} exited (${code}) before sending "${type}"`);
      });
      return within(Promise.race([got.promise, gone]), timeoutMs, `"${type}" from child ${script}`);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await within(exit.promise, 10_000, `child ${script} to exit`).catch(() => undefined);
    },
  };
}

/** Kills every child still running (the run's final clean-up, also on errors and signals). */
export function killAllChildren(): void {
  for (const child of live) child.kill("SIGKILL");
}
