// Builds and drives `naminginterop`, the Go program (interop/go/src/naminginterop) that uses etcd's own
// Go naming packages, one build per flavour (flavours.ts). Every child process started here is tracked so
// a test file can kill them all.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { flavourGoVersion, GO_CACHE_DIR, type GoFlavour, goCommandEnv } from "./flavours.js";

const goRoot = fileURLToPath(new URL("../go/", import.meta.url));
const programDir = join(goRoot, "src", "naminginterop");
const binDir = join(goRoot, "bin");
/**
 * The longest a cold build may take (etcd 3.5 with Go 1.27 took 4 to 5 min on two busy cores); a lock
 * older than this is left from a killed run and taken over.
 */
export const BUILD_TIMEOUT_MS = 600_000;

/** The helper's sources (main.go, the etcd shim package, go.mod), relative to programDir, sorted. */
function sourceFiles(dir = programDir, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) =>
      entry.isDirectory()
        ? sourceFiles(join(dir, entry.name), `${prefix}${entry.name}/`)
        : entry.name.endsWith(".go") || entry.name === "go.mod"
          ? [`${prefix}${entry.name}`]
          : [],
    )
    .sort();
}

/** The cache key: the flavour, its Go version, the etcd and grpc-go releases, and the helper's sources. */
function sourceHash(flavour: GoFlavour, goVersion: string): string {
  const hash = createHash("sha256").update(`${flavour.id}\0${goVersion}\0${flavour.buildTags.join(",")}\0`);
  for (const file of flavour.versionFiles) {
    hash.update(readFileSync(join(flavour.gocode, file)));
  }
  for (const file of sourceFiles()) {
    hash
      .update(file)
      .update("\0")
      .update(readFileSync(join(programDir, file)));
  }
  return hash.digest("hex").slice(0, 16);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function runBuild(flavour: GoFlavour, output: string): Promise<void> {
  const tags = flavour.buildTags.length > 0 ? ["-tags", flavour.buildTags.join(",")] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(flavour.go, ["build", ...tags, "-o", output, "."], {
      cwd: programDir,
      env: {
        ...goCommandEnv(flavour),
        // GOPATH mode against Debian's packaged sources: no module download, works offline.
        GO111MODULE: "off",
        GOPROXY: "off",
        GOPATH: `${goRoot.replace(/\/$/, "")}:${flavour.gocode}`,
        GOCACHE: GO_CACHE_DIR,
        GOFLAGS: "",
        CGO_ENABLED: "0",
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`go build (${flavour.id}) failed (exit ${code}):\n${stderr}`)),
    );
  });
}

/** Whether the process that took a build lock is gone (a killed test run), so the lock can be taken over. */
function lockAbandoned(lock: string): boolean {
  const stat = statSync(lock, { throwIfNoEntry: false });
  if (stat === undefined) return false;
  if (Date.now() - stat.mtimeMs > BUILD_TIMEOUT_MS) return true;
  let owner: number;
  try {
    owner = Number(readFileSync(join(lock, "pid"), "utf8"));
  } catch {
    // Just created, the pid not written yet.
    return false;
  }
  try {
    process.kill(owner, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * Where the flavour's Go helper for the current sources is (or will be) built: its cache entry, which
 * exists once a build of exactly these sources, Go version and etcd and grpc-go releases has finished.
 */
export function goHelperPath(flavour: GoFlavour): string {
  const version = flavourGoVersion(flavour);
  if (version === undefined) throw new Error(`${flavour.go} does not run`);
  return join(binDir, `naminginterop-${flavour.id}-${sourceHash(flavour, version)}`);
}

/** The flavour's Go helper when it is already built for the current sources, without building it. */
export function cachedGoHelper(flavour: GoFlavour): string | undefined {
  const binary = goHelperPath(flavour);
  return existsSync(binary) ? binary : undefined;
}

/**
 * Builds the flavour's Go helper once per source version into interop/go/bin (a cache keyed by the flavour,
 * a hash of the Go sources and the Go version) and returns its path. Concurrent test files wait for one
 * build.
 */
export async function buildGoHelper(flavour: GoFlavour): Promise<string> {
  const binary = goHelperPath(flavour);
  mkdirSync(binDir, { recursive: true });
  const prefix = `naminginterop-${flavour.id}-`;
  const lock = `${binary}.lock`;
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  while (!existsSync(binary)) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
    } catch {
      // Another test file is building it; the lock of a killed run is taken over.
      if (lockAbandoned(lock)) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await sleep(250);
      continue;
    }
    try {
      if (existsSync(binary)) break;
      const partial = `${binary}.${process.pid}.tmp`;
      const started = Date.now();
      await runBuild(flavour, partial);
      renameSync(partial, binary);
      console.error(
        `built the Go helper for ${flavour.id} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      for (const old of readdirSync(binDir)) {
        const path = join(binDir, old);
        if (old.startsWith(prefix) && path !== binary && !old.endsWith(".lock")) unlinkSync(path);
      }
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  return binary;
}

/** One JSON line printed by the Go helper. */
export type GoLine = Record<string, unknown>;

/** How a Go helper process ended. */
export interface GoExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** A running Go helper: its JSON lines as they arrive, and its exit. */
export interface GoProcess extends AsyncDisposable {
  readonly pid: number | undefined;
  /** Every JSON line printed so far. */
  readonly lines: readonly GoLine[];
  readonly stderr: string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<GoExit>;
  /** Waits for the first line (already printed or still to come) matching `match`. */
  waitForLine(match: (line: GoLine) => boolean, timeoutMs?: number): Promise<GoLine>;
  /** Closes stdin (the helper's signal to stop), then SIGKILLs it if it is still alive after `graceMs`. */
  stop(graceMs?: number): Promise<GoExit>;
}

const live = new Set<ChildProcess>();

/** Starts the Go helper with `args`; stdout is read as JSON lines. */
export function startGo(binary: string, args: readonly string[]): GoProcess {
  const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  const lines: GoLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  let pending = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf("\n");
    while (newline !== -1) {
      const text = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (text !== "") {
        try {
          lines.push(JSON.parse(text) as GoLine);
        } catch {
          lines.push({ unparsed: text });
        }
      }
      newline = pending.indexOf("\n");
    }
    for (const wake of [...waiters]) wake();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    // Bounded: a chatty child must not grow the test's memory without limit.
    if (stderr.length < 1_000_000) stderr += chunk;
  });
  child.stdin.on("error", () => {
    // The child may exit (or panic) before it reads stdin.
  });
  const exited = new Promise<GoExit>((resolve) => {
    child.on("close", (code, signal) => {
      live.delete(child);
      for (const wake of [...waiters]) wake();
      resolve({ code, signal, stderr });
    });
    child.on("error", (error) => {
      live.delete(child);
      stderr += String(error);
      resolve({ code: null, signal: null, stderr });
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });

  const describe = () =>
    `naminginterop ${args[0]} (pid ${child.pid}); stdout so far: ${JSON.stringify(lines.slice(-5))}; stderr: ${stderr.slice(-2000)}`;

  const waitForLine = (match: (line: GoLine) => boolean, timeoutMs = 20_000) =>
    new Promise<GoLine>((resolve, reject) => {
      let seen = 0;
      const check = () => {
        for (; seen < lines.length; seen++) {
          const line = lines[seen]!;
          if (match(line)) return finish(() => resolve(line));
        }
        if (done) finish(() => reject(new Error(`exited without the expected line: ${describe()}`)));
      };
      const timer = setTimeout(
        () => finish(() => reject(new Error(`no expected line within ${timeoutMs}ms: ${describe()}`))),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });

  const stop = async (graceMs = 3_000) => {
    if (!done) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return exited;
  };

  return {
    pid: child.pid,
    lines,
    get stderr() {
      return stderr;
    },
    exited,
    waitForLine,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/** Runs the Go helper to completion and parses its output (one JSON document; otherwise the raw text). */
export async function runGo(
  binary: string,
  args: readonly string[],
  timeoutMs = 30_000,
): Promise<{ exit: GoExit; output: unknown }> {
  // stdin stays open while it runs: the long-running subcommands stop when it closes (the parent died).
  const child = spawn(binary, args, { stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  child.stdin.on("error", () => {
    // It may exit (or panic) before reading stdin.
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
    if (stderr.length < 1_000_000) stderr += chunk;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const exit = await new Promise<GoExit>((resolve) => {
    child.on("close", (code, signal) => resolve({ code, signal, stderr }));
    child.on("error", (error) => resolve({ code: null, signal: null, stderr: stderr + String(error) }));
  }).finally(() => {
    clearTimeout(timer);
    live.delete(child);
  });
  let output: unknown;
  try {
    output = JSON.parse(stdout);
  } catch {
    output = stdout;
  }
  return { exit, output };
}

/** Runs the helper and returns its JSON output, or throws with everything it said when it failed. */
export async function runGoOk(binary: string, args: readonly string[]): Promise<unknown> {
  const { exit, output } = await runGo(binary, args);
  if (exit.code !== 0) {
    throw new Error(
      `naminginterop ${args.join(" ")} failed (exit ${exit.code}, signal ${exit.signal}): ${JSON.stringify(output)}\n${exit.stderr}`,
    );
  }
  return output;
}

/** SIGKILLs every helper process still running and waits until they are gone. */
export async function killAllGo(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("close", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}
