import { existsSync, readFileSync } from "node:fs";
import { Etcd3 } from "etcd3";
import { describe, expect, it } from "vitest";
import { EtcdFixtureError } from "./errors.js";
import { startEtcd } from "./etcd-server.js";
import { TESTED_ETCD_VERSIONS } from "./find-etcd.js";

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

const soon = () => ({ deadline: new Date(Date.now() + 1_000) });

describe("startEtcd", () => {
  it("reads the member's metrics: its watcher gauge follows an open watch", { timeout: 30_000 }, async () => {
    await using etcd = await startEtcd();
    const watchers = async () => (await etcd.metrics()).value("etcd_debugging_mvcc_watcher_total");
    expect(await watchers()).toBe(0);
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      const watch = await client.watch().prefix("fixture/").create();
      await expect.poll(watchers, { timeout: 10_000 }).toBe(1);
      expect((await etcd.metrics()).openStreams("Watch")).toBe(1);
      await watch.cancel();
      await expect.poll(watchers, { timeout: 10_000 }).toBe(0);
    } finally {
      client.close();
    }
    await etcd.stop();
    await expect(etcd.metrics()).rejects.toMatchObject({ code: "NOT_RUNNING" });
  });

  it("serves put/get through etcd3 and keeps data across stop/start", { timeout: 30_000 }, async () => {
    await using etcd = await startEtcd();
    expect(etcd.endpoints).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+$/)]);
    expect(etcd.clientUrls).toEqual([`http://${etcd.endpoints[0]}`]);
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      await client.put("fixture/a").value("1");
      expect(await client.get("fixture/a").string()).toBe("1");

      const firstPid = etcd.pid;
      await etcd.stop();
      expect(etcd.running).toBe(false);
      expect(etcd.pid).toBeUndefined();
      expect(isGone(firstPid!)).toBe(true);
      expect(existsSync(etcd.dataDir)).toBe(true);

      await etcd.start();
      expect(etcd.pid).not.toBe(firstPid);
      await expect.poll(() => client.get("fixture/a").string(), { timeout: 10_000 }).toBe("1");
    } finally {
      client.close();
    }
  });

  it("kill makes it unreachable; start brings the data back", { timeout: 30_000 }, async () => {
    await using etcd = await startEtcd();
    const seed = new Etcd3({ hosts: etcd.endpoints });
    await seed.put("k").value("v");
    seed.close();

    const pid = etcd.pid!;
    await etcd.kill();
    expect(isGone(pid)).toBe(true);
    const probe = new Etcd3({ hosts: etcd.endpoints });
    try {
      await expect(probe.get("k").options(soon()).string()).rejects.toThrow();
    } finally {
      probe.close();
    }

    await etcd.restart();
    const after = new Etcd3({ hosts: etcd.endpoints });
    try {
      expect(await after.get("k").string()).toBe("v");
    } finally {
      after.close();
    }
  });

  it("pause stops answering until resume", { timeout: 30_000 }, async () => {
    await using etcd = await startEtcd();
    etcd.pause();
    expect(etcd.paused).toBe(true);
    const paused = new Etcd3({ hosts: etcd.endpoints });
    try {
      await expect(paused.get("k").options(soon()).string()).rejects.toThrow();
    } finally {
      paused.close();
    }
    etcd.resume();
    expect(etcd.paused).toBe(false);
    const resumed = new Etcd3({ hosts: etcd.endpoints });
    try {
      await resumed.put("k").value("after-resume");
      expect(await resumed.get("k").string()).toBe("after-resume");
    } finally {
      resumed.close();
    }
  });

  it("stop works on a paused server", { timeout: 30_000 }, async () => {
    await using etcd = await startEtcd();
    const pid = etcd.pid!;
    etcd.pause();
    await etcd.stop();
    expect(isGone(pid)).toBe(true);
    expect(etcd.paused).toBe(false);
  });

  it("await using kills the process and removes the data dir", { timeout: 30_000 }, async () => {
    let pid: number | undefined;
    let dataDir = "";
    {
      await using etcd = await startEtcd({ name: "disposed" });
      pid = etcd.pid;
      dataDir = etcd.dataDir;
      expect(isGone(pid!)).toBe(false);
      expect(existsSync(dataDir)).toBe(true);
    }
    expect(() => process.kill(pid!, 0)).toThrow(expect.objectContaining({ code: "ESRCH" }));
    expect(existsSync(dataDir)).toBe(false);
  });

  it("close is idempotent and start after close is refused", { timeout: 30_000 }, async () => {
    const etcd = await startEtcd();
    await Promise.all([etcd.close(), etcd.close()]);
    await etcd.close();
    await expect(etcd.start()).rejects.toMatchObject({ code: "CLOSED" });
  });

  it("passes extra args through to etcd", { timeout: 30_000 }, async () => {
    await using etcd = await startEtcd({ args: ["--max-txn-ops=1"] });
    const argv = readFileSync(`/proc/${etcd.pid}/cmdline`, "utf8").split("\0");
    expect(argv).toContain("--max-txn-ops=1");
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      const txn = client
        .if("a", "Version", "==", 0)
        .then(client.put("a").value("1"), client.put("b").value("2"));
      await expect(txn.commit()).rejects.toThrow(/too many operations/);
    } finally {
      client.close();
    }
  });

  it("reports why etcd did not start, with the tail of its output", { timeout: 30_000 }, async () => {
    const error = await startEtcd({ args: ["--no-such-flag"] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EtcdFixtureError);
    expect(error).toMatchObject({ code: "START_FAILED" });
    expect((error as Error).message).toMatch(/no-such-flag/);
  });

  it("fails with the install command when the binary is missing", async () => {
    const error = await startEtcd({ etcdBin: "/nonexistent/bin/etcd" }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "ETCD_NOT_FOUND" });
    expect((error as Error).message).toMatch(/apt-get install -y etcd-server/);
    expect((error as Error).message).toContain("/nonexistent/bin/etcd");
  });

  it.each(TESTED_ETCD_VERSIONS)(
    "runs etcd %s when asked for it and reports it",
    { timeout: 30_000 },
    async (version) => {
      await using etcd = await startEtcd({ version });
      expect(etcd.version).toBe(version);
      // The server itself says so too, not only the binary's --version.
      expect((await etcd.status()).version).toBe(version);
    },
  );

  it("reports the version of the default etcd", { timeout: 30_000 }, async () => {
    await using etcd = await startEtcd();
    expect(etcd.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await etcd.status()).version).toBe(etcd.version);
  });

  it("rejects a member name that would corrupt --initial-cluster", async () => {
    await expect(startEtcd({ name: "a=b,c" })).rejects.toMatchObject({ code: "INVALID_OPTIONS" });
  });

  it("parallel starts get distinct ports", { timeout: 30_000 }, async () => {
    const servers = await Promise.all([startEtcd(), startEtcd(), startEtcd()]);
    try {
      const ports = servers.flatMap((s) => [...s.clientUrls, ...s.peerUrls]);
      expect(new Set(ports).size).toBe(6);
      const statuses = await Promise.all(servers.map((s) => s.status()));
      expect(new Set(statuses.map((s) => s.clusterId)).size).toBe(3);
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });
});
