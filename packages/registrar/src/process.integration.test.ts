import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { afterEach, describe, expect, it, vi } from "vitest";

const etcd = useTestEtcd();
const script = fileURLToPath(new URL("./test/child-register.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const children = new Set<ChildProcess>();

interface ChildLine {
  event: string;
  at: number;
  key?: string;
  leaseId?: string;
}

function startChild(service: string, addr: string, ttl: number, mode: "crash" | "drain") {
  const child = spawn(
    process.execPath,
    [
      "--conditions=@etcd-naming/source",
      "--import",
      "tsx",
      script,
      etcd.endpoints.join(","),
      service,
      addr,
      String(ttl),
      mode,
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.add(child);
  const lines: ChildLine[] = [];
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      lines.push(JSON.parse(line) as ChildLine);
    } catch {
      // Not ours (a warning); ignore.
    }
  });
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  const waitFor = async (event: string): Promise<ChildLine> => {
    await vi.waitFor(
      // stdout can still be draining after "exit", so only the line decides.
      () =>
        expect(
          lines.map((l) => l.event),
          `child stderr: ${stderr}`,
        ).toContain(event),
      { timeout: 20_000, interval: 20 },
    );
    return lines.find((l) => l.event === event)!;
  };
  return { child, exited, waitFor, lines };
}

afterEach(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  children.clear();
});

describe("process death (behaviour 2)", () => {
  it("a SIGKILLed server's key disappears within TTL + 1 s", async () => {
    const ttl = 5;
    const service = `${etcd.namespace}/crash`;
    const client = etcd.client();
    const { child, exited, waitFor } = startChild(service, "10.0.0.9:80", ttl, "crash");
    const { key } = await waitFor("registered");
    expect(key).toBe(`${service}/10.0.0.9:80`);
    expect(await client.get(key!).string()).not.toBeNull();

    child.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();
    await vi.waitFor(async () => expect(await client.get(key!).string()).toBeNull(), {
      timeout: (ttl + 3) * 1000,
      interval: 50,
    });
    const goneAfter = Date.now() - killedAt;
    console.info(`[registrar] SIGKILL -> key gone: ${goneAfter} ms (TTL ${ttl}s)`);
    expect(goneAfter).toBeLessThanOrEqual((ttl + 1) * 1000);
  }, 40_000);
});

describe("signal drain (behaviour 5)", () => {
  it("on SIGTERM the key goes first, the server closes after the grace period, the process exits", async () => {
    const service = `${etcd.namespace}/drain`;
    const client = etcd.client();
    const { child, exited, waitFor } = startChild(service, "10.0.0.10:80", 10, "drain");
    const { key } = await waitFor("registered");
    const watcher = await client.watch().key(key!).create();
    let deletedAt: number | undefined;
    watcher.on("delete", () => {
      deletedAt ??= Date.now();
    });

    const signalledAt = Date.now();
    child.kill("SIGTERM");
    const closed = await waitFor("closed");
    const [code] = await exited;
    await watcher.cancel();

    expect(deletedAt).toBeDefined();
    console.info(
      `[registrar] SIGTERM -> delete seen: ${deletedAt! - signalledAt} ms; -> server closed: ${closed.at - signalledAt} ms`,
    );
    expect(deletedAt!).toBeLessThan(closed.at);
    expect(closed.at - deletedAt!).toBeGreaterThanOrEqual(350);
    expect(code).toBe(0);
    expect(await client.get(key!).string()).toBeNull();
  }, 40_000);
});
