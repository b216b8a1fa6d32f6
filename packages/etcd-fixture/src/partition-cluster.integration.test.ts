import { execFileSync } from "node:child_process";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { PartitionableCluster } from "./partition-cluster.js";
import { partitionSupportMissing, startPartitionableCluster } from "./partition-cluster.js";
import { startTcpProxy } from "./tcp-proxy.js";

const missing = await partitionSupportMissing();
if (missing !== undefined) console.warn(`startPartitionableCluster tests skipped: ${missing}`);

/** This process's namespaces and root links. */
function leftovers(): { namespaces: string[]; links: string[] } {
  const own = (command: string[], prefix: string) =>
    execFileSync("ip", command, { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.replace(/^\d+: /, "").startsWith(prefix));
  const pid = process.pid.toString(36);
  return {
    namespaces: own(["netns", "list"], `enf-${pid}-`),
    links: own(["-o", "link", "show"], `enf${pid}x`),
  };
}

describe.skipIf(missing !== undefined)("startPartitionableCluster", () => {
  let cluster: PartitionableCluster;

  beforeAll(async () => {
    cluster = await startPartitionableCluster({ size: 3 });
  }, 60_000);

  afterAll(async () => {
    await cluster?.close();
    expect(leftovers()).toEqual({ namespaces: [], links: [] });
  }, 30_000);

  it("puts each member on an address of its own that this namespace reaches", async () => {
    expect(new Set(cluster.endpoints).size).toBe(3);
    const made = leftovers();
    expect([made.namespaces.length, made.links.length]).toEqual([4, 3]);
    const client = new Etcd3({ hosts: cluster.endpoints });
    try {
      await vi.waitFor(() => client.put("k").value("v").exec(), { timeout: 15_000, interval: 200 });
      expect(await client.get("k").string()).toBe("v");
    } finally {
      client.close();
    }
  });

  it("cuts an isolated member off from its peers while it still answers clients, and heals it", async () => {
    const leader = await cluster.leader();
    const follower = cluster.members.find((m) => m !== leader)!;
    await cluster.isolate(follower);
    expect(cluster.isolated(follower)).toBe(true);
    // Still answering: it loses its leader once it stops hearing heartbeats.
    await vi.waitFor(async () => expect((await follower.status(1000)).leaderId).toBe("0"), {
      timeout: 15_000,
      interval: 100,
    });
    // The other two keep a leader and take writes.
    expect(await cluster.leader()).not.toBe(follower);
    await cluster.heal(follower);
    expect(cluster.isolated(follower)).toBe(false);
    await vi.waitFor(async () => expect((await follower.status(1000)).leaderId).not.toBe("0"), {
      timeout: 15_000,
      interval: 100,
    });
  }, 40_000);
});

describe("startTcpProxy with a delay", () => {
  it("forwards every chunk, in order, no sooner than the delay in each direction", async () => {
    const { createServer } = await import("node:net");
    const echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
    const port = (echo.address() as { port: number }).port;
    await using proxy = await startTcpProxy(`127.0.0.1:${port}`, { delayMs: 100, stallChance: 0.5 });
    const { connect } = await import("node:net");
    const [host, proxyPort] = proxy.endpoint.split(":");
    const socket = connect(Number(proxyPort), host);
    const received: string[] = [];
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => received.push(chunk));
    await new Promise<void>((resolve) => socket.once("connect", resolve));
    const started = Date.now();
    const sent = Array.from({ length: 20 }, (_, i) => `${i};`);
    for (const line of sent) socket.write(line);
    await vi.waitFor(() => expect(received.join("")).toBe(sent.join("")), { timeout: 10_000, interval: 20 });
    // There and back: at least twice the delay.
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(proxy.stats().chunks).toBeGreaterThan(0);
    socket.destroy();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });
});
