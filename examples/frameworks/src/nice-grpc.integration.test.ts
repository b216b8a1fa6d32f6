// nice-grpc over etcd:///: createChannel passes a target with an unknown scheme to grpc-js unchanged, so
// the resolver registered by @etcd-naming/grpc-js serves it and round robin spreads the calls.

import { useTestEtcd } from "@etcd-naming/etcd-fixture/vitest";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { ChannelCredentials, createChannel, createClient } from "nice-grpc";
import { afterAll, describe, expect, it } from "vitest";
import {
  greeterService,
  type RegisteredGreeter,
  startRegisteredGreeter,
  type WhoAmIReply,
} from "./greeter.js";

const etcd = useTestEtcd();
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface GreeterClient {
  WhoAmI(request: { name: string }, options?: { signal?: AbortSignal }): Promise<WhoAmIReply>;
}

describe("nice-grpc", () => {
  it("balances an etcd:/// channel round robin over three registered servers", async () => {
    const service = `${etcd.namespace}/nice`;
    const servers: RegisteredGreeter[] = [];
    for (const id of ["a", "b", "c"]) {
      const server = await startRegisteredGreeter(etcd.client(), service, id);
      cleanups.push(() => server.close());
      servers.push(server);
    }
    const resolver = registerEtcdResolver({ client: etcd.client() });
    cleanups.push(() => resolver.close());

    const channel = createChannel(`etcd:///${service}`, ChannelCredentials.createInsecure());
    cleanups.push(() => channel.close());
    const client = createClient(greeterService, channel) as unknown as GreeterClient;

    // The channel learns the servers from etcd and connects to each; once all three have answered, round
    // robin takes them in turn, so every window of three consecutive calls holds each server once.
    const deadline = Date.now() + 10_000;
    const seen = new Set<string>();
    while (seen.size < 3) {
      expect(Date.now(), `only ${[...seen]} answered`).toBeLessThan(deadline);
      seen.add((await client.WhoAmI({ name: "warm-up" }, { signal: AbortSignal.timeout(5_000) })).id);
    }
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await client.WhoAmI({ name: `call ${i}` })).id);
    for (let i = 0; i + 3 <= ids.length; i++) expect(new Set(ids.slice(i, i + 3)).size).toBe(3);
    for (const id of ["a", "b", "c"]) expect(ids.filter((x) => x === id)).toHaveLength(10);
  }, 20_000);
});
