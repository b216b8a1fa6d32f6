// 4. A Node grpc-js client through our resolver calls Go gRPC servers registered by Go's endpoints.Manager
//    with a lease; a Go server's lease is revoked → our client stops calling it.
import { type GreeterClient, greeterClient } from "@etcd-naming/etcd-fixture/greeter";
import { type EtcdResolverHandle, registerEtcdResolver } from "@etcd-naming/grpc-js";
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type GoProcess, runGoOk, startGo } from "./go-helper.js";
import { describeGoFlavours } from "./suite.js";

describeGoFlavours("Node client, our resolver → Go servers", { timeout: 60_000 }, ({ etcd, go }) => {
  let client: Etcd3;
  beforeAll(() => {
    client = etcd.client();
  });
  let handle: EtcdResolverHandle;
  let greeter: GreeterClient | undefined;

  beforeAll(() => {
    handle = registerEtcdResolver({ client: etcd.client() });
  });
  afterAll(async () => {
    greeter?.close();
    await handle?.close();
  });

  /** Calls `count` times, one after the other, and returns who answered each call. */
  async function calls(count: number): Promise<string[]> {
    const answers: string[] = [];
    for (let i = 0; i < count; i++) {
      answers.push(await greeter!.whoAmI().catch((error: Error) => `error: ${error.message}`));
    }
    return answers;
  }

  it("balances over Go servers and stops calling one whose lease was revoked", async () => {
    const service = `${etcd.namespace}/go-greeter`;
    const servers: { id: string; process: GoProcess; leaseId: string; key: string }[] = [];
    for (const id of ["go-1", "go-2", "go-3"]) {
      const process = startGo(go.binary, [
        "server",
        "-endpoints",
        etcd.endpoints.join(","),
        "-service",
        service,
        "-id",
        id,
        "-ttl",
        "30",
        "-metadata",
        JSON.stringify(`id=${id}`),
      ]);
      const serving = await process.waitForLine((line) => line["event"] === "serving");
      servers.push({ id, process, leaseId: String(serving["leaseId"]), key: String(serving["key"]) });
    }
    const [revoked, ...kept] = servers;

    greeter = greeterClient(`etcd:///${service}`, { deadlineMs: 2_000 });
    // Every Go server answers (round_robin is the resolver's default).
    await expect
      .poll(async () => new Set(await calls(10)), { timeout: 20_000, interval: 0 })
      .toEqual(new Set(servers.map((s) => s.id)));
    const spread = await calls(60);
    for (const { id } of servers) expect(spread.filter((s) => s === id).length, id).toBeGreaterThan(10);

    // Revoke go-1's lease from outside: etcd deletes its key at once (Go's keep-alive only notices at its
    // next round, TTL/3 later); the Go server itself keeps running.
    await client.leaseClient.leaseRevoke({ ID: revoked!.leaseId });
    const listed = (await runGoOk(go.binary, [
      "manager",
      "-endpoints",
      etcd.endpoints.join(","),
      "-service",
      service,
      "list",
    ])) as { endpoints: Record<string, unknown> };
    expect(Object.keys(listed.endpoints).sort()).toEqual(kept.map((s) => s.key).sort());

    // Our client converges: 30 calls in a row without go-1…
    await expect
      .poll(async () => (await calls(30)).includes(revoked!.id), { timeout: 20_000, interval: 0 })
      .toBe(false);
    // …and from then on go-1 gets nothing although it still serves, while the others share the load.
    const after = await calls(60);
    expect(after).not.toContain(revoked!.id);
    expect(new Set(after)).toEqual(new Set(kept.map((s) => s.id)));
    expect(revoked!.process.lines.some((line) => line["event"] === "serving")).toBe(true);
    expect(
      await Promise.race([revoked!.process.exited.then(() => "exited"), Promise.resolve("running")]),
    ).toBe("running");

    for (const server of servers) expect((await server.process.stop()).code).toBe(0);
  });
});
