// An emptied service must fail calls fast, however busy the channel was just before. grpc-js's pick_first
// leaves keep a 250 ms connection-delay timer after they are destroyed; when it fires after round_robin
// was emptied, round_robin recomputes its state from no children (IDLE), the channel asks the resolver
// again and moves to CONNECTING, and calls queue until their deadline unless the resolver answers.
import { createServer, type Server, type Socket } from "node:net";
import {
  type GreeterClient,
  type GreeterServer,
  type Grpc,
  greeterClient,
  startGreeter,
} from "@etcd-naming/etcd-fixture/greeter";
import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import * as grpc from "@grpc/grpc-js";
import * as grpc110 from "grpc-js-1-10";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdResolverHandle, type GrpcModule, registerEtcdResolver } from "./register.js";
import { registerEndpoint, registerMany } from "./test/registry.js";

vi.setConfig({ testTimeout: 90_000 });

const etcd = useTestEtcd();
const client = etcd.client();
const handles: EtcdResolverHandle[] = [];
let greeter: GreeterServer;
const clients: GreeterClient[] = [];
const silent: { server: Server; sockets: Set<Socket>; addr: string }[] = [];
const poll = { timeout: 10_000, interval: 20 };

/** A loopback TCP server that accepts and never answers: a subchannel to it stays CONNECTING. */
async function silentServer(): Promise<{ server: Server; sockets: Set<Socket>; addr: string }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { server, sockets, addr: `127.0.0.1:${port}` };
}

beforeAll(async () => {
  for (const module of [grpc, grpc110]) {
    // Without mass-removal protection: what is tested is how fast an emptied channel fails, not how long
    // protection holds it (protection.integration.test.ts).
    handles.push(registerEtcdResolver({ client, grpc: module as unknown as GrpcModule, protection: false }));
  }
  greeter = await startGreeter("emptied");
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const handle of handles) await handle.close();
  await greeter?.close();
  for (const s of silent) {
    for (const socket of s.sockets) socket.destroy();
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
  }
});

type Outcome = "ok" | "no endpoints" | "deadline" | string;

function outcome(greeterClient: GreeterClient, deadlineMs: number): Promise<Outcome> {
  return greeterClient.whoAmI({ deadlineMs }).then(
    () => "ok",
    (error: grpc.ServiceError) => {
      if (error.code === grpc.status.DEADLINE_EXCEEDED) return "deadline";
      if (error.code === grpc.status.UNAVAILABLE && error.details.includes("no endpoints for")) {
        return "no endpoints";
      }
      return `${grpc.status[error.code]}: ${error.details}`;
    },
  );
}

describe.each([
  ["1.14", grpc as Grpc],
  ["1.10", grpc110 as unknown as Grpc],
])("grpc-js %s", (version, module) => {
  it("fails calls with 'no endpoints' after a busy channel is emptied, round after round", async () => {
    const svc = `${etcd.namespace}/busy-v${version.replace(".", "")}`;
    await registerEndpoint(client, svc, greeter.addr, { id: "real" });
    const channel = greeterClient(`etcd:///${svc}`, { grpc: module });
    clients.push(channel);
    await expect.poll(() => outcome(channel, 2_000), poll).toBe("ok");

    const rounds = 6;
    const failures: string[] = [];
    for (let round = 0; round < rounds; round++) {
      // A storm of odd endpoints: their subchannels stay CONNECTING, so each round_robin rebuild leaves
      // pick_first timers behind. Then the whole prefix goes while those timers are pending.
      // Fresh addresses each round, so a connection to each proves the channel has this storm.
      const odd = await Promise.all(Array.from({ length: 16 }, () => silentServer()));
      silent.push(...odd);
      await registerMany(
        client,
        svc,
        odd.map((s, i) => ({ id: `odd-${round}-${i}`, addr: s.addr })),
        odd.length,
      );
      await expect.poll(() => odd.every((s) => s.sockets.size > 0), poll).toBe(true);
      await client.delete().prefix(`${svc}/`).exec();
      const deleted = Date.now();
      // Every call made over the next second must fail fast with the reason, never wait out its deadline.
      await expect.poll(() => outcome(channel, 1_500), poll).toBe("no endpoints");
      while (Date.now() - deleted < 1_000) {
        const result = await outcome(channel, 1_500);
        if (result !== "no endpoints") {
          failures.push(`round ${round}, ${Date.now() - deleted} ms after the delete: ${result}`);
          break;
        }
      }
      await registerEndpoint(client, svc, greeter.addr, { id: "real" });
      await expect.poll(() => outcome(channel, 2_000), poll).toBe("ok");
    }
    expect(failures).toEqual([]);
  });
});
