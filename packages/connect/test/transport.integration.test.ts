import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { startEtcd } from "@etcd-naming/etcd-fixture";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { register } from "@etcd-naming/registrar";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import type { Etcd3 } from "etcd3";
import { afterAll, describe, expect, it } from "vitest";
import { createEtcdTransport, type EtcdTransportProtocol } from "../src/index.js";
import { type ConnectGreeter, Greeter, startConnectGreeter } from "./greeter.js";

const etcd = useTestEtcd();
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface GreeterClient {
  whoAmI(request: { name: string }, options?: { timeoutMs?: number }): Promise<{ id: string }>;
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function serve(client: Etcd3, service: string, id: string, delayMs = 0) {
  const server = await startConnectGreeter(id, delayMs);
  cleanups.push(() => server.close());
  const registration = await register({ client, service, addr: server.addr, ttl: 5 });
  cleanups.push(() => registration.deregister());
  return { server, registration };
}

function transportFor(client: Etcd3, service: string, protocol: EtcdTransportProtocol = "grpc") {
  const transport = createEtcdTransport({
    watcher: watchService(createEtcd3Source(client), service),
    protocol,
  });
  cleanups.push(() => transport.close());
  return { transport, greeter: createClient(Greeter, transport) as unknown as GreeterClient };
}

/** Keeps `concurrency` calls going until stopped; counts the answers per server and the failures. */
function load(greeter: GreeterClient, concurrency = 4) {
  const answers = new Map<string, number>();
  const failures: { at: number; error: unknown }[] = [];
  let running = true;
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        const { id } = await greeter.whoAmI({ name: "load" }, { timeoutMs: 5_000 });
        answers.set(id, (answers.get(id) ?? 0) + 1);
      } catch (error) {
        failures.push({ at: Date.now(), error });
      }
    }
  });
  return {
    answers,
    failures,
    count: (id: string) => answers.get(id) ?? 0,
    stop: async () => {
      running = false;
      await Promise.all(workers);
    },
  };
}

describe("createEtcdTransport", () => {
  it.each(["grpc", "grpc-web", "connect"] as const)(
    "spreads %s calls over three servers round robin, and a fourth that joins gets traffic",
    async (protocol) => {
      const client = etcd.client();
      const service = `${etcd.namespace}/spread-${protocol}`;
      const servers: ConnectGreeter[] = [];
      for (const id of ["a", "b", "c"]) servers.push((await serve(client, service, id)).server);
      const { transport, greeter } = transportFor(client, service, protocol);

      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push((await greeter.whoAmI({ name: `${i}` })).id);
      for (const id of ["a", "b", "c"]) expect(ids.filter((x) => x === id)).toHaveLength(10);

      const d = (await serve(client, service, "d")).server;
      await until(() => transport.endpoints().includes(d.addr), "the fourth endpoint");
      for (let i = 0; i < 8; i++) await greeter.whoAmI({ name: `${i}` });
      expect(d.calls).toBe(2);
    },
    20_000,
  );

  it("a server that drains fails no call, and its session is closed once its calls have ended", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/drain`;
    const a = await serve(client, service, "a", 20);
    await serve(client, service, "b", 20);
    const { transport, greeter } = transportFor(client, service);
    const traffic = load(greeter);
    await until(() => traffic.count("a") > 5 && traffic.count("b") > 5, "traffic on both");

    await a.registration.deregister();
    await until(() => !transport.endpoints().includes(a.server.addr), "the drained endpoint to go");
    // The grace period: the transport closes its session to a once a's last call has ended.
    await until(() => a.server.openSessions === 0, "the transport to close its session to a");
    await a.server.close();
    const before = traffic.count("b");
    await until(() => traffic.count("b") > before + 20, "more traffic on b");
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
  }, 20_000);

  it("a SIGKILLed server fails at most the calls in flight, none after its key expires", async () => {
    const client = etcd.client();
    const service = `${etcd.namespace}/kill`;
    await serve(client, service, "a", 10);
    const child = spawn(
      process.execPath,
      [
        "--conditions=@etcd-naming/source",
        "--import",
        "tsx",
        fileURLToPath(new URL("child.ts", import.meta.url)),
        etcd.endpoints.join(","),
        service,
        "k",
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    cleanups.push(() => child.kill("SIGKILL"));
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    await until(() => out.includes("\n"), "the child to register", 15_000);
    const killedAddr = out.trim();

    const { transport, greeter } = transportFor(client, service);
    const concurrency = 4;
    const traffic = load(greeter, concurrency);
    await until(() => traffic.count("k") > 5 && traffic.count("a") > 5, "traffic on both");
    child.kill("SIGKILL");
    await until(() => !transport.endpoints().includes(killedAddr), "the killed endpoint's key to expire");
    const expired = Date.now();
    const after = traffic.count("a");
    await until(() => traffic.count("a") > after + 20, "more traffic on a");
    await traffic.stop();
    expect(traffic.failures.length).toBeLessThanOrEqual(concurrency);
    expect(traffic.failures.filter((f) => f.at > expired)).toEqual([]);
  }, 30_000);

  it("keeps calls flowing to the last known endpoints while etcd restarts", async () => {
    const own = await startEtcd();
    cleanups.push(() => own.close());
    const client = etcd.client({ hosts: own.endpoints });
    const service = "restart";
    await serve(client, service, "a");
    await serve(client, service, "b");
    const { greeter } = transportFor(client, service);
    const traffic = load(greeter, 2);
    await until(() => traffic.count("a") > 5 && traffic.count("b") > 5, "traffic on both");
    await own.stop();
    const during = { a: traffic.count("a"), b: traffic.count("b") };
    await until(
      () => traffic.count("a") > during.a + 10 && traffic.count("b") > during.b + 10,
      "calls while etcd is down",
    );
    await own.start();
    const back = traffic.count("a");
    await until(() => traffic.count("a") > back + 10, "calls after the restart");
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
  }, 30_000);
});
