// What an etcd member and etcd's gRPC proxy do alike with their process: spawn it tracked for cleanup with
// its output in a LogBuffer, signal it, wait for its exit with a deadline, and free its files and ports.
import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { trackChild, unregisterDataDir, untrackChild } from "./cleanup.js";
import type { LogBuffer } from "./log-buffer.js";
import type { PortReservation } from "./ports.js";

/** How a process ended; `error` when it could not be spawned at all. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** What {@link spawnTracked} spawns. */
export interface TrackedSpawn {
  command: string;
  args: string[];
  env: Record<string, string>;
  /** The data directory and the etcd binary the cleanup of a killed run knows the pid by. */
  dataDir: string;
  bin: string;
  /** Receives stdout and stderr, and `[spawn failed: ...]` when the spawn fails. */
  logs: LogBuffer;
}

/**
 * Spawns a process that does not keep this one alive (the exit hook kills it instead), tracked for
 * cleanup until it exits; `exited` resolves once it is gone and untracked.
 */
export function spawnTracked(spec: TrackedSpawn): { child: ChildProcess; exited: Promise<ExitInfo> } {
  const child = spawn(spec.command, spec.args, { env: spec.env, stdio: ["ignore", "pipe", "pipe"] });
  const pid = child.pid;
  if (pid !== undefined) trackChild(pid, spec.dataDir, spec.bin);
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding("utf8");
    stream?.on("data", (chunk: string) => spec.logs.append(chunk));
    (stream as { unref?: () => void } | null)?.unref?.();
  }
  child.unref();
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (error) => {
      if (child.pid === undefined) resolve({ code: null, signal: null, error });
    });
  }).then((info) => {
    if (pid !== undefined) untrackChild(pid);
    if (info.error) spec.logs.append(`[spawn failed: ${info.error.message}]\n`);
    return info;
  });
  return { child, exited };
}

/** Sends `signal` to `child`; one that has already exited is left to its exit handler. */
export function signalChild(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    child.kill(signal);
  } catch {
    // Already exited; the exit handler updates the state.
  }
}

/**
 * Whether `exited` settles within `ms`. The ref'd timer keeps the event loop alive while waiting on an
 * unref'd child.
 */
export async function exitsWithin(exited: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<true>((resolve) => {
      timer = setTimeout(() => resolve(true), ms);
    }),
  ]);
  clearTimeout(timer);
  return !timedOut;
}

/** Kills the process with `kill`, then, whatever that did, removes its data directory and frees its ports. */
export async function killAndRemove(
  kill: () => Promise<void>,
  dataDir: string,
  ports: PortReservation,
): Promise<void> {
  try {
    await kill();
  } finally {
    await rm(dataDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
    unregisterDataDir(dataDir);
    ports.release();
  }
}

/** Starts `process`; if that fails, closes it before the error is thrown again. */
export async function startOrClose<T extends { start(): Promise<void>; close(): Promise<void> }>(
  process: T,
): Promise<T> {
  try {
    await process.start();
  } catch (error) {
    await process.close();
    throw error;
  }
  return process;
}
