import { type EtcdServer, startEtcd } from "@etcd-naming/etcd-fixture";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { assertBuilt, binEnv, etcdctl, RunningBin } from "./test/bin.js";

// The long-running commands through the real bin while their etcd goes away and comes back. The
// watcher's and the registrar's timers are unref'd, so nothing but the command itself may keep the
// process alive while the stream is down. This file stops and restarts its own etcd (same ports).
vi.setConfig({ testTimeout: 60_000 });
let etcd: EtcdServer;
const running: RunningBin[] = [];
const env = (): NodeJS.ProcessEnv => binEnv({ ETCD_ENDPOINTS: etcd.endpoints.join(",") });
function start(args: string[]): RunningBin {
  const bin = new RunningBin(args, env());
  running.push(bin);
  return bin;
}
const alive = (bin: RunningBin): boolean => bin.child.exitCode === null && bin.child.signalCode === null;

beforeAll(async () => {
  assertBuilt();
  etcd = await startEtcd();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((bin) => bin.dispose()));
  if (!etcd.running) await etcd.start();
});
afterAll(async () => {
  await etcd?.close();
});

describe("through an etcd outage", () => {
  it("watch keeps running while etcd is down and resumes when it is back", async () => {
    const watch = start(["watch", "outage/watched"]);
    await expect.poll(() => watch.stderr, { timeout: 10_000 }).toContain("watching outage/watched");

    await etcd.stop();
    await expect.poll(() => watch.stderr, { timeout: 10_000 }).toContain("lost etcd, retrying");
    // Before the fix the process ended (exit code 13) about 17 ms after that line.
    await etcd.start();
    expect(alive(watch), `the watch exited while etcd was down: ${watch.stderr}`).toBe(true);

    await etcdctl(etcd.endpoints, ["put", "outage/watched/h:1", '{"Addr":"h:1"}']);
    await expect
      .poll(() => watch.lines().map((l) => l.replace(/^\S+Z /, "")), { timeout: 20_000 })
      .toEqual(["+ outage/watched/h:1 h:1"]);
    expect(watch.stderr).toContain("etcd reachable again");
    watch.child.kill("SIGINT");
    expect(await watch.exited).toEqual({ code: 0, signal: null });
    await etcdctl(etcd.endpoints, ["del", "--prefix", "outage/"]);
  });

  it("register keeps its endpoint through an outage and still deregisters on SIGTERM", async () => {
    const reg = start(["register", "outage/registered", "10.9.9.9:1", "--ttl", "10"]);
    await expect.poll(() => reg.stdout, { timeout: 10_000 }).toContain("registered outage/registered");

    await etcd.stop();
    await etcd.start();
    expect(alive(reg), `register exited while etcd was down: ${reg.stderr}`).toBe(true);
    await expect
      .poll(() => etcdctl(etcd.endpoints, ["get", "outage/registered/10.9.9.9:1", "--keys-only"]), {
        timeout: 20_000,
      })
      .toContain("outage/registered/10.9.9.9:1");

    reg.child.kill("SIGTERM");
    expect(await reg.exited, reg.stderr).toEqual({ code: 0, signal: null });
    expect(await etcdctl(etcd.endpoints, ["get", "--prefix", "outage/", "--keys-only"])).toBe("");
  });
});
