import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { register } from "@etcd-naming/registrar";
import * as grpc from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { greeterService, type HelloReply, type HelloRequest } from "./greeter.js";

const etcd = useTestEtcd();
const packageDir = fileURLToPath(new URL("..", import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function startGreeter(service: string, name: string): Promise<void> {
  const server = new grpc.Server();
  server.addService(greeterService, {
    sayHello(call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, callback: grpc.sendUnaryData<HelloReply>) {
      callback(null, { message: `Hello, ${call.request.name}!`, from: name });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  cleanups.push(async () => server.forceShutdown());
  const registration = await register({ client: etcd.client(), service, addr: `127.0.0.1:${port}`, ttl: 5 });
  cleanups.push(() => registration.deregister());
}

function runClient(
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(
    process.execPath,
    ["--conditions=@etcd-naming/source", "--import", "tsx", "src/client.ts"],
    { cwd: packageDir, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe("greeter-client", () => {
  it("dials etcd:///<service> and spreads its calls over every registered server", async () => {
    const service = `${etcd.namespace}/greeter`;
    await startGreeter(service, "greeter-a");
    await startGreeter(service, "greeter-b");

    const result = await runClient({
      ETCD_ENDPOINTS: etcd.endpoints.join(","),
      SERVICE: service,
      CALLS: "12",
      INTERVAL_MS: "50",
    });

    expect(result.stderr).not.toMatch(/failed/);
    expect(result.code).toBe(0);
    const replies = result.stdout.trim().split("\n");
    expect(replies).toHaveLength(12);
    expect(replies.every((line) => /^Hello, call \d+! \(from greeter-[ab]\)$/.test(line))).toBe(true);
    expect(new Set(replies.map((line) => /from (greeter-\w)/.exec(line)?.[1]))).toEqual(
      new Set(["greeter-a", "greeter-b"]),
    );
  }, 40_000);
});
