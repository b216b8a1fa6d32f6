// A slow, lossy client link (issue 20): every member is reached through a proxy that delays each chunk
// 200 ms in each direction and holds one chunk in 20 back a further 200 ms with everything behind it (a
// lost segment stalling the TCP stream until it is retransmitted). This kernel has no netem, so the
// proxy is the stand-in: the delay is real, the loss is emulated as the stall it causes. Members stay
// healthy, only slow: a watcher must neither fail over nor go stale, and must miss or invent no change.
import { encodeEndpoint } from "@etcd-naming/codec";
import { startTcpProxy, type TcpProxy } from "@etcd-naming/etcd-fixture";
import { register } from "@etcd-naming/registrar";
import {
  createEtcd3Source,
  type Etcd3Source,
  type Etcd3SourceOptions,
  watchService,
} from "@etcd-naming/watcher";
import { Etcd3 } from "etcd3";
import { afterAll, expect, it, vi } from "vitest";
import { sleep } from "./chaos-env.js";
import { useChaosCluster } from "./chaos-rig.js";
import { summarize, until } from "./cluster-tools.js";
import { etcdEndpoints } from "./history.js";
import { writeResults } from "./results.js";
import { WatchRecorder } from "./watch-recorder.js";

vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 });

const root = "chaos/slow";
const service = `${root}/churn`;
const registered = `${root}/registered`;
const quiet = { warn: () => {}, error: () => {} };
const LINK = { delayMs: 200, stallChance: 0.05, stallMs: 200 };

const rig = useChaosCluster("chaos-slow", root);
const proxies: TcpProxy[] = [];
const slowClients: Etcd3[] = [];
// Runs before the rig's teardown, so what uses the slow clients is closed here first.
afterAll(async () => {
  await Promise.all(rig.recorders.map((r) => r.watcher.close()));
  await Promise.all(rig.registrations.map((r) => r.deregister().catch(() => {})));
  for (const client of slowClients) client.close();
  await Promise.all(proxies.map((p) => p.close()));
});

it("keeps a watcher on a slow, lossy link: no fail-over, no stale state, no missed or phantom change", async () => {
  proxies.push(
    ...(await Promise.all(rig.cluster.endpoints.map((endpoint) => startTcpProxy(endpoint, LINK)))),
  );
  const slowClient = () => {
    const client = new Etcd3({ hosts: proxies.map((p) => p.endpoint) });
    slowClients.push(client);
    return client;
  };
  const sources: [string, Etcd3Source][] = [];
  for (const [name, options] of [
    ["default", {}],
    ["tuned", { progressIntervalMs: 1_000, progressTimeoutMs: 2_000 }],
  ] as [string, Etcd3SourceOptions][]) {
    const source = createEtcd3Source(slowClient(), options);
    sources.push([name, source]);
    const recorder = new WatchRecorder(name, watchService(source, service, { coalesceMs: 0, logger: quiet }));
    rig.recorders.push(recorder);
    await recorder.watcher.ready();
  }
  // A registration kept alive over the same link (the registrar's default TTL).
  const registration = await register({
    client: slowClient(),
    service: registered,
    addr: "10.7.0.1:80",
    logger: quiet,
  });
  rig.registrations.push(registration);
  const lost: string[] = [];
  registration.on("lost", (e) => lost.push(e.message));

  const started = Date.now();
  const delays: number[] = [];
  const write = async (i: number) => {
    const key = `${service}/k${i % 4}`;
    const addr = `10.7.1.${i}:80`;
    await rig.writer.put(key, encodeEndpoint({ addr }));
    // How long after the acknowledgement every watcher showed the change.
    delays.push(
      await until(() => rig.recorders.every((r) => r.current().get(key)?.startsWith(addr)), {
        timeoutMs: 20_000,
        intervalMs: 10,
      }),
    );
  };
  // Changes, then a quiet spell longer than the default idle time plus its answer time (progress
  // requests over the slow link), then changes again.
  for (let i = 0; i < 12; i++) await write(i);
  await sleep(7_000);
  for (let i = 12; i < 16; i++) await write(i);
  const reader = await rig.converge();

  const mismatches = rig.recorders.flatMap((r) => r.checkHistory(rig.history));
  const figures = {
    link: LINK,
    runMs: Date.now() - started,
    chunks: proxies.reduce((n, p) => n + p.stats().chunks, 0),
    stalls: proxies.reduce((n, p) => n + p.stats().stalls, 0),
    watchesOpened: Object.fromEntries(sources.map(([name, s]) => [name, s.stats().watchesOpened])),
    progressReports: Object.fromEntries(sources.map(([name, s]) => [name, s.stats().progressReports])),
    staleEvents: rig.recorders.flatMap((r) => r.states.filter((s) => s.state === "stale")).length,
    watcherErrors: rig.recorders.flatMap((r) => r.errors.map((e) => e.message)),
    deliveryAfterAckMs: summarize(delays),
    watcherMismatches: mismatches.length,
    leaseLostEvents: lost.length,
  };
  writeResults("slow-link", figures);

  expect(mismatches).toEqual([]);
  // One watch stream each for the whole run: the slow member was never declared stuck.
  expect(figures.watchesOpened).toEqual({ default: 1, tuned: 1 });
  expect(figures.staleEvents).toBe(0);
  expect(figures.watcherErrors).toEqual([]);
  expect(lost).toEqual([]);
  expect([...(await etcdEndpoints(reader, registered)).keys()]).toEqual([registration.key]);
});
