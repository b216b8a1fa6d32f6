import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll } from "vitest";

const packageDir = fileURLToPath(new URL("../../", import.meta.url));
export const BIN = `${packageDir}bin/etcd-naming.mjs`;
const packagesDir = fileURLToPath(new URL("../../../", import.meta.url));

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    // Only what the build compiles: tests and test helpers never reach dist/.
    if (!entry.isFile() || !entry.name.endsWith(".ts") || entry.name.endsWith(".test.ts")) continue;
    if (entry.name.startsWith("test-") || /(^|\/)test(\/|$)/.test(entry.parentPath.slice(dir.length)))
      continue;
    newest = Math.max(newest, statSync(`${entry.parentPath}/${entry.name}`).mtimeMs);
  }
  return newest;
}

/**
 * The bin runs the build (`dist/`) of this package and of its workspace dependencies. A missing or
 * stale build must fail loudly: skipping would hide exactly what these tests are for.
 */
export function assertBuilt(): void {
  for (const name of ["cli", "codec", "watcher", "registrar"]) {
    const dir = `${packagesDir}${name}`;
    const built = `${dir}/dist/index.js`;
    if (!existsSync(built)) {
      throw new Error(
        `packages/${name}/dist/index.js is missing: run pnpm build first (the bin imports dist/)`,
      );
    }
    if (newestSource(`${dir}/src`) > statSync(built).mtimeMs) {
      throw new Error(
        `packages/${name}/dist is older than its src/: run pnpm build first (the bin imports dist/)`,
      );
    }
  }
}

export interface BinResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing from the host's ETCD_* or NO_COLOR leaks into a run. */
export function binEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env["PATH"] ?? "/usr/bin:/bin", HOME: process.env["HOME"] ?? "/tmp", ...extra };
}

/** Runs the bin to completion. */
export function runBin(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 20_000): Promise<BinResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`etcd-naming ${args.join(" ")} did not exit within ${timeoutMs} ms; stderr: ${stderr}`),
      );
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A long-running bin (watch, register) whose output is read while it runs. */
export class RunningBin {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.setEncoding("utf8").on("data", (s: string) => (this.stdout += s));
    this.child.stderr?.setEncoding("utf8").on("data", (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve) =>
      this.child.on("close", (code, signal) => resolve({ code, signal })),
    );
  }

  lines(): string[] {
    return this.stdout.split("\n").filter((l) => l !== "");
  }

  /** Kills the process if a test left it running. */
  async dispose(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
    await this.exited;
  }
}

/** Runs the real etcdctl (v3 API) against `endpoints`. */
export function etcdctl(endpoints: string[], args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "/usr/bin/etcdctl",
      ["--endpoints", endpoints.join(","), ...args],
      { env: { ...binEnv(), ETCDCTL_API: "3" }, timeout: 10_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`etcdctl ${args.join(" ")} failed: ${stderr || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

/**
 * For one test file: checks the build before its tests and returns a starter of long-running bins (with
 * `env()`), each disposed after the test that started it.
 */
export function binStarter(env: () => NodeJS.ProcessEnv): (args: string[]) => RunningBin {
  const running: RunningBin[] = [];
  beforeAll(() => assertBuilt());
  afterEach(async () => {
    await Promise.all(running.splice(0).map((bin) => bin.dispose()));
  });
  return (args) => {
    const bin = new RunningBin(args, env());
    running.push(bin);
    return bin;
  };
}
