import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { fixtureStateDir, isEtcdWithDataDir, sweepOrphans } from "./cleanup.js";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const fixtureIndex = fileURLToPath(new URL("./index.ts", import.meta.url));

interface Owner {
  child: ChildProcess;
  etcd: { pid: number; dataDir: string };
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const owners: ChildProcess[] = [];
afterAll(() => {
  for (const child of owners.splice(0)) child.kill("SIGKILL");
});

// A separate Node process that owns an etcd, so the test can kill the owner in ways a test
// process cannot survive itself (SIGKILL, SIGTERM, plain exit without close()).
async function startOwner(then: "wait" | "exit"): Promise<Owner> {
  const code = [
    `const { startEtcd } = await import(${JSON.stringify(fixtureIndex)});`,
    "const s = await startEtcd();",
    "console.log(JSON.stringify({ pid: s.pid, dataDir: s.dataDir }));",
    then === "exit" ? "process.exit(0);" : "setInterval(() => {}, 1000);",
  ].join("\n");
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "inherit"],
  });
  owners.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const line = await new Promise<string>((resolve, reject) => {
    let buffered = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf("\n");
      if (end >= 0) resolve(buffered.slice(0, end));
    });
    void exited.then(({ code }) => reject(new Error(`owner exited early with ${code}`)));
  });
  return { child, etcd: JSON.parse(line) as Owner["etcd"], exited };
}

function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

function deadPid(): number {
  return spawnSync("true").pid;
}

// Concurrent: each case waits mostly on a Node process starting up.
describe.concurrent("clean-up when the owner dies", { timeout: 30_000 }, () => {
  it("the next sweep kills an etcd whose owner was SIGKILLed and removes its data", async () => {
    const owner = await startOwner("wait");
    owner.child.kill("SIGKILL");
    await owner.exited;
    // SIGKILL runs no handler: etcd is orphaned, still running, still recorded.
    expect(isEtcdWithDataDir(owner.etcd.pid, owner.etcd.dataDir)).toBe(true);
    expect(existsSync(join(fixtureStateDir(), `${owner.etcd.pid}.json`))).toBe(true);

    const result = await sweepOrphans();
    expect(result.killed).toContain(owner.etcd.pid);
    await vi.waitFor(() => expect(exists(owner.etcd.pid)).toBe(false), { timeout: 5_000 });
    expect(existsSync(owner.etcd.dataDir)).toBe(false);
    expect(existsSync(join(fixtureStateDir(), `${owner.etcd.pid}.json`))).toBe(false);
  });

  it("SIGTERM to the owner kills its etcd, then the owner dies of SIGTERM", async () => {
    const owner = await startOwner("wait");
    owner.child.kill("SIGTERM");
    expect(await owner.exited).toEqual({ code: null, signal: "SIGTERM" });
    await vi.waitFor(() => expect(exists(owner.etcd.pid)).toBe(false), { timeout: 5_000 });
    expect(existsSync(owner.etcd.dataDir)).toBe(false);
  });

  it("exiting without close() kills its etcd", async () => {
    const owner = await startOwner("exit");
    expect(await owner.exited).toEqual({ code: 0, signal: null });
    await vi.waitFor(() => expect(exists(owner.etcd.pid)).toBe(false), { timeout: 5_000 });
    expect(existsSync(owner.etcd.dataDir)).toBe(false);
  });
});

describe("sweepOrphans", () => {
  it("never kills a recorded pid that is not etcd, and keeps records of live owners", async () => {
    mkdirSync(fixtureStateDir(), { recursive: true });
    const bystander = spawn("sleep", ["30"], { stdio: "ignore" });
    owners.push(bystander);
    const dataDir = mkdtempSync(join(tmpdir(), `etcd-naming-${deadPid()}-`));
    const foreign = join(fixtureStateDir(), `${bystander.pid}.json`);
    writeFileSync(foreign, JSON.stringify({ pid: bystander.pid, ownerPid: deadPid(), dataDir, bin: "etcd" }));
    const livePid = 2 ** 22 + 7; // above pid_max: never a real process
    const live = join(fixtureStateDir(), `${livePid}.json`);
    writeFileSync(live, JSON.stringify({ pid: livePid, ownerPid: process.pid, dataDir, bin: "etcd" }));
    try {
      const result = await sweepOrphans();
      expect(result.killed).not.toContain(bystander.pid);
      expect(exists(bystander.pid!)).toBe(true);
      expect(existsSync(foreign)).toBe(false);
      expect(existsSync(dataDir)).toBe(false);
      expect(readFileSync(live, "utf8")).toContain(String(process.pid));
    } finally {
      rmSync(live, { force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("removes port locks of dead owners only", async () => {
    const ports = join(fixtureStateDir(), "ports");
    mkdirSync(ports, { recursive: true });
    const stale = join(ports, "1.lock");
    const held = join(ports, "2.lock");
    writeFileSync(stale, String(deadPid()));
    writeFileSync(held, String(process.pid));
    try {
      await sweepOrphans();
      expect(existsSync(stale)).toBe(false);
      expect(existsSync(held)).toBe(true);
    } finally {
      rmSync(stale, { force: true });
      rmSync(held, { force: true });
    }
  });

  it("removes data dirs of dead owners that had no running etcd", async () => {
    const orphan = mkdtempSync(join(tmpdir(), `etcd-naming-${deadPid()}-`));
    const mine = mkdtempSync(join(tmpdir(), `etcd-naming-${process.pid}-`));
    try {
      const result = await sweepOrphans();
      expect(result.removedDirs).toContain(orphan);
      expect(existsSync(orphan)).toBe(false);
      expect(existsSync(mine)).toBe(true);
    } finally {
      rmSync(mine, { recursive: true, force: true });
    }
  });
});
