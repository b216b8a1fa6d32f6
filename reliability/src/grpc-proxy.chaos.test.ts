// Issue 20: etcd's gRPC proxy (`etcd grpc-proxy start`) in front of a 3-member cluster, with client
// processes each holding real grpc-js channels resolved with the `etcd:` resolver through the proxy.
// The cluster must hold about one watch per service (the proxy coalesces the processes' watches), a
// proxy killed and restarted while changes are written must lose none, and a compaction behind the proxy
// (past the revision the watchers resume from) must make them list again and carry on.
//
// Default size: 4 processes × 25 channels. CHAOS_PROXY_PROCESSES and CHAOS_PROXY_CHANNELS (per process)
// set it; CHAOS_PROXY_PROCESSES=20 CHAOS_PROXY_CHANNELS=100 is the full 2,000 channels over 20 processes.
import { encodeEndpoint } from "@etcd-naming/codec";
import {
  type EtcdCluster,
  type GrpcProxy,
  startEtcdCluster,
  startGrpcProxy,
} from "@etcd-naming/etcd-fixture";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { clusterMetric, until, Writer } from "./cluster-tools.js";
import { etcdEndpoints, History } from "./history.js";
import { type ChildReport, ProxyChild } from "./proxy-children.js";
import { writeResults } from "./results.js";

vi.setConfig({ testTimeout: 600_000, hookTimeout: 120_000 });

const positiveInt = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return value;
};
const PROCESSES = positiveInt("CHAOS_PROXY_PROCESSES", 4);
const CHANNELS = positiveInt("CHAOS_PROXY_CHANNELS", 25);
const root = "chaos/proxy";
const services = [0, 1, 2, 3].map((i) => `${root}/svc-${i}`);
const value = (n: number, version = 1) => encodeEndpoint({ addr: `10.20.${n % 250}.${version % 250}:8080` });
// Generous: 20 processes start on 2 shared cores.
const CONVERGE_MS = 30_000 + PROCESSES * 6_000;

let cluster: EtcdCluster;
let proxy: GrpcProxy;
let history: History;
let writer: Writer;
let direct: Etcd3;
const children: ProxyChild[] = [];

beforeAll(async () => {
  cluster = await startEtcdCluster({ size: 3, name: "chaos-proxy" });
  history = await History.start(cluster, root);
  writer = new Writer(cluster);
  direct = new Etcd3({ hosts: cluster.endpoints });
  proxy = await startGrpcProxy({ endpoints: cluster.endpoints });
});

afterAll(async () => {
  await Promise.all(children.map((c) => c.close()));
  direct?.close();
  writer?.close();
  history?.close();
  await proxy?.close();
  await cluster?.close();
});

let next = 0;
/** A few changes to every service: one endpoint added, one changed, one deleted (when it has 3). */
async function churn(): Promise<void> {
  for (const service of services) {
    const present = [...(await etcdEndpoints(direct, service)).keys()];
    await writer.put(`${service}/e${next}`, value(next++));
    if (present.length > 0) await writer.put(present[0]!, value(next++, 2));
    if (present.length >= 3) await writer.delete(present[present.length - 1]!);
  }
}

const addrs = (set: Map<string, string>) =>
  [...set.values()]
    .map((v) => v.slice(0, v.lastIndexOf("@")))
    .sort()
    .join(",");

/** Waits until every channel of every child holds exactly etcd's current addresses of its service. */
async function converged(): Promise<number> {
  let last: ChildReport[] = [];
  let want: Record<string, string> = {};
  return until(
    async () => {
      want = {};
      for (const service of services) want[service] = addrs(await etcdEndpoints(direct, service));
      last = await Promise.all(children.map((c) => c.report()));
      return last.every((r) =>
        services.every((s) => {
          const sets = Object.entries(r.sets[s] ?? {});
          return sets.length === 1 && sets[0]![0] === want[s];
        }),
      );
    },
    {
      timeoutMs: CONVERGE_MS,
      intervalMs: 250,
      describe: () =>
        JSON.stringify({ want, got: last.map((r, i) => ({ child: i, sets: r.sets, stale: r.stale })) }).slice(
          0,
          4_000,
        ),
    },
  );
}

/** The cluster's watchers beyond those it held before any client came (the proxy's own among them). */
const watchers = async () => clusterMetric(cluster, "etcd_debugging_mvcc_watcher_total");

it(`${PROCESSES * CHANNELS} channels in ${PROCESSES} processes watch through etcd's gRPC proxy: one watch per service, no change lost over a proxy restart and a compaction`, async () => {
  for (const service of services) {
    for (let n = 0; n < 3; n++) await writer.put(`${service}/e${next}`, value(next++));
  }
  const baseline = await watchers();
  const started = Date.now();
  for (let i = 0; i < PROCESSES; i++) {
    children.push(new ProxyChild(`client-${i}`, proxy.endpoint, services, CHANNELS));
  }
  await Promise.all(children.map((c) => c.ready(CONVERGE_MS * 2)));
  const startMs = Date.now() - started;
  await converged();

  // Steady state: one watch per service on the cluster for all processes (none per channel).
  await churn();
  const steadyMs = await converged();
  await until(async () => (await watchers()) - baseline <= services.length, {
    timeoutMs: 30_000,
    describe: async () => `cluster watchers ${await watchers()}, ${baseline} before the clients`,
  });
  const steadyWatchers = (await watchers()) - baseline;
  const reports = await Promise.all(children.map((c) => c.report()));
  expect(reports.map((r) => r.watchedServices)).toEqual(children.map(() => services.length));

  // The proxy is killed, changes are written while it is down and while it comes back.
  await proxy.kill();
  await churn();
  const restart = proxy.start();
  await churn();
  await restart;
  await churn();
  const afterRestartMs = await converged();

  // Killed again; changes are written and the history compacted past every watcher's resume revision
  // before it comes back: each process's watches are refused as compacted and must list again.
  await proxy.kill();
  await churn();
  const compactedAt = await history.sync();
  await writer.compact(compactedAt);
  await proxy.start();
  const afterCompactionMs = await converged();
  // The watches made after the listing must carry changes (not hang on a watch etcd ended).
  await churn();
  const afterCompactionChurnMs = await converged();
  await churn();
  await converged();
  await until(async () => (await watchers()) - baseline <= services.length, {
    timeoutMs: 30_000,
    describe: async () => `cluster watchers ${await watchers()}, ${baseline} before the clients`,
  });
  const finalWatchers = (await watchers()) - baseline;

  await history.sync();
  const mismatches = children.flatMap((c) => c.checkHistory(history));
  expect(mismatches).toEqual([]);
  const final = await Promise.all(children.map((c) => c.report()));
  writeResults("grpc-proxy", {
    etcd: cluster.version,
    processes: PROCESSES,
    channels: PROCESSES * CHANNELS,
    services: services.length,
    clusterWatchersPerService: {
      steady: steadyWatchers / services.length,
      final: finalWatchers / services.length,
    },
    startToListedMs: startMs,
    convergeMs: {
      steady: steadyMs,
      afterProxyRestart: afterRestartMs,
      afterCompaction: afterCompactionMs,
      afterCompactionChurn: afterCompactionChurnMs,
    },
    updatesChecked: children.reduce((n, c) => n + c.updates.length, 0),
    mismatches: mismatches.length,
    childRssMb: final.map((r) => r.rssMb),
  });
});
