import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), "etcd-naming-demo-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const alive = (pid: number | undefined): boolean => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface DemoSummary {
  etcd: { embedded: boolean; pid: number | undefined };
  servers: { name: string; pid: number | undefined; addr: string; calls: number; state: string }[];
  calls: number;
  failedByPhase: Record<string, number>;
  joined: { server: string; registeredToFirstCallMs: number };
  drained: {
    server: string;
    keyDeletedMs: number;
    lastCallMs: number;
    failedCalls: number;
    exitCode: number | null;
  };
  killed: { server: string; keyExpiredMs: number; keyExpired: boolean };
  list: { command: string; output: string };
}

describe("the demo", () => {
  // The one heavy test of the examples: an etcd of its own, four server processes, a client, the CLI.
  it("runs end to end without a terminal, with its own etcd, and leaves nothing behind", async () => {
    const summaryFile = join(scratch, "summary.json");
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_SUMMARY_JSON: summaryFile };
    delete env["ETCD_ENDPOINTS"];
    delete env["DEMO_SERVICE"];
    const child = spawn(
      process.execPath,
      ["--conditions=@etcd-naming/source", "--import", "tsx", "src/main.ts"],
      {
        cwd: packageDir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    // SIGINT, not SIGKILL, on a hang: the demo then takes its etcd and servers down with it.
    const timer = setTimeout(() => child.kill("SIGINT"), 80_000);
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    clearTimeout(timer);

    expect({ code, stderr: stderr.slice(-2_000) }).toEqual({ code: 0, stderr: expect.any(String) });
    const summary = JSON.parse(readFileSync(summaryFile, "utf8")) as DemoSummary;

    // Every server got calls, the drain lost none, and the crash was cleaned up by the lease alone.
    expect(summary.servers.map((s) => s.name)).toEqual(["greeter-1", "greeter-2", "greeter-3", "greeter-4"]);
    for (const server of summary.servers) expect(server.calls, server.name).toBeGreaterThan(0);
    expect(summary.drained).toMatchObject({ server: "greeter-2", failedCalls: 0, exitCode: 0 });
    expect(summary.failedByPhase).toMatchObject({ start: 0, join: 0, drain: 0 });
    expect(summary.killed.keyExpired).toBe(true);
    // A key deleted by hand would vanish at once; an expired lease takes at least TTL minus one keep-alive.
    expect(summary.killed.keyExpiredMs).toBeGreaterThan(2_000);
    expect(summary.servers.map((s) => s.state)).toEqual(["stopped", "drained", "expired", "stopped"]);

    // Step 4 ran the real CLI, which listed exactly the two servers still alive.
    const alivePorts = [summary.servers[0]!.addr, summary.servers[3]!.addr];
    for (const addr of alivePorts) expect(summary.list.output).toContain(`demo/greeter/${addr}`);
    expect(summary.list.output).not.toContain(summary.servers[1]!.addr);
    expect(summary.list.output).not.toContain(summary.servers[2]!.addr);

    // Plain, readable lines: no cursor movement when stdout is not a terminal.
    expect(stdout).not.toContain("\x1b[");
    expect(stdout).toMatch(/^Summary$/m);
    expect(stdout).toMatch(/greeter-4 registered → its first call\s+\d+ (ms|\.\d s)/);
    expect(stdout).toMatch(/failed calls: \d+ \(during the drain: 0,/);
    expect(stdout).toContain("$ etcd-naming list demo/greeter --endpoints 127.0.0.1:");

    // Nothing left running: the embedded etcd and every server process are gone.
    expect(summary.etcd.embedded).toBe(true);
    expect(alive(summary.etcd.pid)).toBe(false);
    for (const server of summary.servers) expect(alive(server.pid), server.name).toBe(false);
  }, 90_000);

  it("stops with exit code 1 and the reason when etcd does not answer", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, ETCD_ENDPOINTS: "127.0.0.1:9" };
    delete env["DEMO_SUMMARY_JSON"];
    const child = spawn(
      process.execPath,
      ["--conditions=@etcd-naming/source", "--import", "tsx", "src/main.ts"],
      {
        cwd: packageDir,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGINT"), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    clearTimeout(timer);
    expect(code).toBe(1);
    expect(stderr).toContain("demo failed: etcd at 127.0.0.1:9 does not answer");
  }, 40_000);
});
