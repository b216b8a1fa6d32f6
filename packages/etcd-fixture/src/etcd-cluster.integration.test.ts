import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type EtcdCluster, startEtcdCluster } from "./etcd-cluster.js";
import type { EtcdServer } from "./etcd-server.js";
import { TESTED_ETCD_VERSIONS } from "./find-etcd.js";

// One cluster for the whole file: starting three members is the expensive part.
describe("startEtcdCluster", () => {
  let cluster: EtcdCluster;
  let client: Etcd3;
  const pids: number[] = [];

  beforeAll(async () => {
    cluster = await startEtcdCluster({ size: 3 });
    client = new Etcd3({ hosts: cluster.endpoints });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await cluster?.close();
    for (const pid of pids)
      expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
  }, 30_000);

  // A write can race an election; retry it until the cluster has settled.
  const put = (key: string, value: string) =>
    vi.waitFor(() => client.put(key).value(value).exec(), { timeout: 15_000, interval: 200 });
  const readFrom = async (member: EtcdServer, key: string): Promise<string | null> => {
    const direct = new Etcd3({ hosts: member.endpoints });
    try {
      return await direct.get(key).string();
    } finally {
      direct.close();
    }
  };

  it("starts three members of one cluster that agree on a leader", async () => {
    expect(cluster.members).toHaveLength(3);
    pids.push(...cluster.members.map((m) => m.pid!));
    const statuses = await Promise.all(cluster.members.map((m) => m.status()));
    expect(new Set(statuses.map((s) => s.clusterId)).size).toBe(1);
    expect(new Set(statuses.map((s) => s.memberId)).size).toBe(3);
    const leader = await cluster.leader();
    const leaderId = (await leader.status()).memberId;
    for (const s of statuses) expect(s.leaderId).toBe(leaderId);
    const members = await client.cluster.memberList({});
    expect(members.members.map((m) => m.name).sort()).toEqual(cluster.members.map((m) => m.name).sort());
  });

  it("keeps serving after its leader is killed, elects a new one, and the old one rejoins", {
    timeout: 60_000,
  }, async () => {
    await put("cluster/before", "1");
    const oldLeader = await cluster.leader();
    await oldLeader.kill();
    expect(oldLeader.running).toBe(false);

    const newLeader = await cluster.leader();
    expect(newLeader).not.toBe(oldLeader);
    await put("cluster/during", "2");
    await vi.waitFor(async () => expect(await client.get("cluster/before").string()).toBe("1"), {
      timeout: 15_000,
    });

    await oldLeader.start();
    pids.push(oldLeader.pid!);
    // Rejoined: it follows the current leader and has the write it missed while down.
    await vi.waitFor(
      async () => {
        const status = await oldLeader.status();
        expect(status.leaderId).not.toBe("0");
        expect(await readFrom(oldLeader, "cluster/during")).toBe("2");
      },
      { timeout: 20_000, interval: 200 },
    );
  });

  it("a paused follower does not stop the others, and catches up after resume", {
    timeout: 60_000,
  }, async () => {
    const leader = await cluster.leader();
    const follower = cluster.members.find((m) => m !== leader)!;
    follower.pause();
    // Written through the members still running: a request routed to the stopped member would just hang.
    const healthy = new Etcd3({
      hosts: cluster.members.filter((m) => m !== follower).flatMap((m) => m.endpoints),
    });
    try {
      await vi.waitFor(() => healthy.put("cluster/while-paused").value("3").exec(), {
        timeout: 15_000,
        interval: 200,
      });
      expect(await readFrom(leader, "cluster/while-paused")).toBe("3");
    } finally {
      healthy.close();
      follower.resume();
    }
    await vi.waitFor(async () => expect(await readFrom(follower, "cluster/while-paused")).toBe("3"), {
      timeout: 20_000,
      interval: 200,
    });
  });

  it("rejects an impossible size", async () => {
    await expect(startEtcdCluster({ size: 0 })).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
  });
});

describe("startEtcdCluster({ version })", () => {
  it("runs every member on the version asked for", { timeout: 60_000 }, async () => {
    const version = TESTED_ETCD_VERSIONS.at(-1)!;
    await using cluster = await startEtcdCluster({ size: 3, version });
    expect(cluster.version).toBe(version);
    expect(cluster.members.map((m) => m.version)).toEqual([version, version, version]);
    const statuses = await Promise.all(cluster.members.map((m) => m.status()));
    expect(statuses.map((s) => s.version)).toEqual([version, version, version]);
  });

  it("fails before starting anything when the version is missing", async () => {
    await expect(startEtcdCluster({ version: "3.0.0" })).rejects.toMatchObject({
      code: "ETCD_NOT_FOUND",
      message: expect.stringContaining("bash scripts/fetch-etcd.sh"),
    });
  });
});
