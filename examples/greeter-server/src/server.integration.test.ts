import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { GreeterClient } from "./greeter.js";

const etcd = useTestEtcd();
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});

function startServer(env: Record<string, string>): { child: ChildProcess; output: () => string } {
  const child = spawn(
    process.execPath,
    ["--conditions=@etcd-naming/source", "--import", "tsx", "src/server.ts"],
    { cwd: packageDir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  children.push(child);
  let output = "";
  child.stdout?.on("data", (chunk) => (output += chunk));
  child.stderr?.on("data", (chunk) => (output += chunk));
  return { child, output: () => output };
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once("exit", (code) => resolve(code)));

describe("greeter-server", () => {
  it("registers its address, answers calls, and deregisters on SIGTERM before it stops", async () => {
    const service = `${etcd.namespace}/greeter`;
    const { child, output } = startServer({
      ETCD_ENDPOINTS: etcd.endpoints.join(","),
      SERVICE: service,
      SERVER_NAME: "greeter-a",
      GRACE_MS: "500",
    });
    await expect.poll(output, { timeout: 20_000, interval: 100 }).toMatch(/serving on (\S+), registered/);
    const addr = /serving on (\S+),/.exec(output())![1]!;

    const client = etcd.client();
    const key = `${service}/${addr}`;
    expect(JSON.parse((await client.get(key).string())!)).toEqual({ Op: 0, Addr: addr, Metadata: null });
    const [kv] = (await client.getAll().prefix(key).exec()).kvs;
    expect(kv?.lease).not.toBe("0");

    const greeter = new GreeterClient(addr, grpc.credentials.createInsecure());
    try {
      const reply = await greeter.sayHello("test", { deadline: Date.now() + 5_000 });
      expect(reply).toEqual({ message: "Hello, test!", from: "greeter-a" });
    } finally {
      greeter.close();
    }

    child.kill("SIGTERM");
    await expect.poll(() => client.get(key).string(), { timeout: 5_000, interval: 50 }).toBeNull();
    expect(await Promise.race([exited(child), new Promise((r) => setTimeout(() => r("hung"), 10_000))])).toBe(
      0,
    );
  }, 40_000);
});
