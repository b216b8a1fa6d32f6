import { mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

// Three layers make sure no etcd outlives the run that started it:
// 1. `close()` on every server (the normal path, also via `await using`);
// 2. this module's registry, killed synchronously on `exit` and on SIGINT/SIGTERM/SIGHUP;
// 3. pid files, swept on the next start, for owners that died by SIGKILL and ran no handler.

/** Data directories are `<tmpdir>/etcd-naming-<owner pid>-XXXXXX`, so a sweep can tell whose they are. */
export const DATA_DIR_PREFIX = "etcd-naming-";

/** Where pid files and port locks live. */
export function fixtureStateDir(): string {
  return join(tmpdir(), "etcd-naming-fixture");
}

interface PidRecord {
  pid: number;
  ownerPid: number;
  ownerStartTime?: string | undefined;
  dataDir: string;
  bin: string;
  startedAt: string;
}

const liveChildren = new Map<number, PidRecord>();
const ownedDataDirs = new Set<string>();
const ownedPortLocks = new Set<string>();
let handlersInstalled = false;
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** The kernel's start time of `pid` (field 22 of /proc/<pid>/stat): tells a reused pid apart. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses, so count from the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19];
  } catch {
    return undefined;
  }
}

function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** True while `pid` exists and is not a zombie (EPERM still means it exists). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  return processState(pid) !== "Z";
}

function isOwnerAlive(record: Pick<PidRecord, "ownerPid" | "ownerStartTime">): boolean {
  if (!isProcessAlive(record.ownerPid)) return false;
  if (record.ownerStartTime === undefined) return true;
  const now = processStartTime(record.ownerPid);
  return now === undefined || now === record.ownerStartTime;
}

/**
 * Only a process whose command line is etcd with this exact data dir may be killed: a recycled
 * pid must never take an unrelated process down with it.
 */
export function isEtcdWithDataDir(pid: number, dataDir: string): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return false;
  }
  if (basename(argv[0] ?? "") !== "etcd") return false;
  return argv.some(
    (arg, i) => arg === `--data-dir=${dataDir}` || (arg === "--data-dir" && argv[i + 1] === dataDir),
  );
}

function isFixtureDataDir(dir: string): boolean {
  return dir.startsWith(join(tmpdir(), DATA_DIR_PREFIX)) && !dir.slice(tmpdir().length + 1).includes("/");
}

function pidFile(pid: number): string {
  return join(fixtureStateDir(), `${pid}.json`);
}

function ignoreErrors(fn: () => void): void {
  try {
    fn();
  } catch {
    // Best effort: this runs while the process is going down.
  }
}

function killAllSync(): void {
  for (const child of liveChildren.values()) {
    ignoreErrors(() => process.kill(child.pid, "SIGKILL"));
  }
  for (const dir of ownedDataDirs) {
    ignoreErrors(() => rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 }));
  }
  for (const child of liveChildren.values()) ignoreErrors(() => unlinkSync(pidFile(child.pid)));
  for (const lock of ownedPortLocks) ignoreErrors(() => unlinkSync(lock));
  liveChildren.clear();
  ownedDataDirs.clear();
  ownedPortLocks.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllSync();
  uninstallSignalHandlers();
  // With nobody else listening, die the way the signal would have killed us (exit code 128+n),
  // instead of swallowing a Ctrl-C.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function uninstallSignalHandlers(): void {
  for (const signal of SIGNALS) process.off(signal, onSignal);
  process.off("exit", killAllSync);
  handlersInstalled = false;
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", killAllSync);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

/** Records a started etcd: in memory for the exit hooks and on disk for a later sweep. */
export function trackChild(pid: number, dataDir: string, bin: string): void {
  installHandlers();
  const record: PidRecord = {
    pid,
    ownerPid: process.pid,
    ownerStartTime: processStartTime(process.pid),
    dataDir,
    bin,
    startedAt: new Date().toISOString(),
  };
  liveChildren.set(pid, record);
  try {
    mkdirSync(fixtureStateDir(), { recursive: true });
    writeFileSync(pidFile(pid), JSON.stringify(record));
  } catch {
    // The in-process hooks still cover this child; only the cross-run sweep loses it.
  }
}

/** Forgets an etcd that has exited. */
export function untrackChild(pid: number): void {
  liveChildren.delete(pid);
  ignoreErrors(() => unlinkSync(pidFile(pid)));
}

/** A data directory this process owns and removes on exit unless `close()` did already. */
export function registerDataDir(dir: string): void {
  installHandlers();
  ownedDataDirs.add(dir);
}

export function unregisterDataDir(dir: string): void {
  ownedDataDirs.delete(dir);
}

export function registerPortLock(path: string): void {
  installHandlers();
  ownedPortLocks.add(path);
}

export function unregisterPortLock(path: string): void {
  ownedPortLocks.delete(path);
}

/** What a sweep cleaned up. */
export interface SweepResult {
  killed: number[];
  removedDirs: string[];
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Kills etcd processes and removes data directories left behind by owners that are gone (for
 * instance a test run that was SIGKILLed). Records of live owners are never touched.
 */
export async function sweepOrphans(): Promise<SweepResult> {
  const result: SweepResult = { killed: [], removedDirs: [] };
  const stateDir = fixtureStateDir();
  let entries: string[] = [];
  try {
    entries = readdirSync(stateDir);
  } catch {
    // Nothing recorded yet.
  }
  for (const entry of entries) {
    if (!/^\d+\.json$/.test(entry)) continue;
    const file = join(stateDir, entry);
    let record: PidRecord;
    try {
      record = JSON.parse(readFileSync(file, "utf8")) as PidRecord;
    } catch {
      continue; // Being written right now by a live owner, or garbage: leave it.
    }
    if (typeof record.pid !== "number" || typeof record.ownerPid !== "number") continue;
    if (record.ownerPid === process.pid || isOwnerAlive(record)) continue;
    if (typeof record.dataDir === "string" && isEtcdWithDataDir(record.pid, record.dataDir)) {
      try {
        process.kill(record.pid, "SIGKILL");
        result.killed.push(record.pid);
        await waitGone(record.pid, 2000);
      } catch {
        // Already gone.
      }
    }
    if (typeof record.dataDir === "string" && isFixtureDataDir(record.dataDir)) {
      await rm(record.dataDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
      result.removedDirs.push(record.dataDir);
    }
    ignoreErrors(() => unlinkSync(file));
  }
  // Port locks of dead owners would be taken over when picked anyway; removing them keeps the
  // directory from growing across killed runs.
  const portsDir = join(stateDir, "ports");
  let locks: string[] = [];
  try {
    locks = readdirSync(portsDir);
  } catch {
    // No locks yet.
  }
  for (const lock of locks) {
    if (!/^\d+\.lock$/.test(lock)) continue;
    try {
      const owner = Number(readFileSync(join(portsDir, lock), "utf8"));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !isProcessAlive(owner)) {
        unlinkSync(join(portsDir, lock));
      }
    } catch {
      // Released meanwhile.
    }
  }
  // Data dirs of stopped (not running) servers have no pid file; their owner pid is in the name.
  let tmpEntries: string[] = [];
  try {
    tmpEntries = readdirSync(tmpdir());
  } catch {
    // Unreadable tmpdir: nothing to sweep.
  }
  for (const entry of tmpEntries) {
    const match = /^etcd-naming-(\d+)-[A-Za-z0-9]{6}$/.exec(entry);
    if (!match) continue;
    const owner = Number(match[1]);
    if (owner === process.pid || isProcessAlive(owner)) continue;
    const dir = join(tmpdir(), entry);
    if (result.removedDirs.includes(dir)) continue;
    await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
    result.removedDirs.push(dir);
  }
  return result;
}

let sweepOnce: Promise<SweepResult> | undefined;

/** Runs {@link sweepOrphans} once per process; later calls share the first result. */
export function sweepOrphansOnce(): Promise<SweepResult> {
  sweepOnce ??= sweepOrphans().catch(() => ({ killed: [], removedDirs: [] }));
  return sweepOnce;
}
