// Issue 10, suite 1: the leader is killed (SIGKILL) while three registrars keep their servers alive,
// three watchers follow two services and a grpc-js client calls through etcd:///, repeatedly.
// Nothing may be lost: no registration, no watcher change, no RPC.
import { encodeEndpoint } from "@etcd-naming/codec";
import { greeterClient, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { register, registrarClientOptions } from "@etcd-naming/registrar";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import { expect, it, vi } from "vitest";
import { callLoop } from "./call-loop.js";
import { chaosSeconds, sleep } from "./chaos-env.js";
import { useChaosCluster } from "./chaos-rig.js";
import { startChurn } from "./churn.js";
import { summarize, until } from "./cluster-tools.js";
import { etcdEndpoints } from "./history.js";
import { writeResults } from "./results.js";
import { WatchRecorder } from "./watch-recorder.js";

vi.setConfig({ testTimeout: 120_000 + chaosSeconds(0) * 2_000, hookTimeout: 60_000 });

const root = "chaos/leader";
const greeterService = `${root}/greeter`;
const churnService = `${root}/churn`;
const quiet = { warn: () => {}, error: () => {} };

const rig = useChaosCluster("chaos-leader", root);
const { recorders, registrations, servers } = rig;
const client = rig.client;

it("loses no registration, no watcher change and no RPC when the leader is killed", async () => {
  const { cluster, history, writer } = rig;
  // Three servers, each registered by its own process-like registrar (own client, own lease).
  for (const id of ["a", "b", "c"]) {
    const server = await startGreeter(id);
    servers.push(server);
    const registration = await register({
      client: client(registrarClientOptions()),
      service: greeterService,
      addr: server.addr,
      logger: quiet,
    });
    registrations.push(registration);
  }
  const lost: string[] = [];
  for (const r of registrations) r.on("lost", (e) => lost.push(`${r.key}: ${e.message}`));

  // Three watchers, each on its own client, following both services.
  for (const name of ["w1", "w2", "w3"]) {
    const source = createEtcd3Source(client());
    for (const service of [greeterService, churnService]) {
      const watcher = watchService(source, service, { coalesceMs: 0, logger: quiet });
      recorders.push(new WatchRecorder(`${name}:${service}`, watcher));
    }
  }
  await Promise.all(recorders.map((r) => r.watcher.ready()));

  rig.resolver = registerEtcdResolver({ client: client(), logger: quiet });
  const greeter = greeterClient(`etcd:///${greeterService}`);
  const calls = callLoop(greeter);
  await until(() => Object.keys(calls.stats.byServer).length === 3, {
    describe: () => JSON.stringify(calls.stats),
  });
  const failuresBefore = calls.stats.failed;

  // Churn: puts and deletes on a second service for the whole run.
  const churn = startChurn(writer, churnService, { seed: 1, subnet: "10.1.0", pauseMs: [5, 40] });

  const rounds = Math.max(2, Math.round(chaosSeconds(8) / 4));
  const figures: { electionMs: number; writeUnavailableMs: number; convergeMs: number }[] = [];
  for (let round = 0; round < rounds; round++) {
    await sleep(1_000);
    const leader = await cluster.leader();
    const killedAt = Date.now();
    await leader.kill();
    const marker = `${churnService}/marker-${round}`;
    await writer.put(marker, encodeEndpoint({ addr: `10.2.0.${round}:80` }));
    const writeUnavailableMs = Date.now() - killedAt;
    await cluster.leader();
    const electionMs = Date.now() - killedAt;
    const churnWatchers = recorders.filter((r) => r.service === churnService);
    await until(() => churnWatchers.every((r) => r.current().has(marker)), {
      describe: () => churnWatchers.map((r) => `${r.name}: ${[...r.current().keys()]}`).join("; "),
    });
    const convergeMs = Math.max(...churnWatchers.map((r) => r.firstSeen(marker)! - killedAt));
    figures.push({ electionMs, writeUnavailableMs, convergeMs });
    await leader.start();
  }
  await churn.stop();
  await sleep(500);
  const stats = await calls.stop();
  greeter.close();

  // Every watcher converges on etcd's own list, and its every update matched etcd at that revision.
  const reader = await rig.converge();
  const mismatches = recorders.flatMap((r) => r.checkHistory(history));
  expect(mismatches).toEqual([]);

  // No registration lost: each key was put once and never deleted, and no lease was lost.
  const registrationDeletes = registrations.flatMap((r) =>
    history.eventsOf(r.key).filter((e) => e.type === "delete"),
  );
  expect(registrationDeletes).toEqual([]);
  expect(lost).toEqual([]);
  const live = await etcdEndpoints(reader, greeterService);
  expect([...live.keys()].sort()).toEqual(registrations.map((r) => r.key).sort());

  // Every acknowledged write is in etcd's history at the revision etcd gave it.
  const lostWrites = writer.acked.filter(
    (w) => !history.events.some((e) => e.key === w.key && e.revision === w.revision && e.type === w.op),
  );
  expect(lostWrites).toEqual([]);

  // RPCs kept succeeding through every election.
  expect(stats.failed - failuresBefore, JSON.stringify(stats.failures.slice(0, 5))).toBe(0);
  expect(stats.ok).toBeGreaterThan(0);

  writeResults("leader-kill", {
    rounds,
    kills: figures,
    electionMs: summarize(figures.map((f) => f.electionMs)),
    writeUnavailableMs: summarize(figures.map((f) => f.writeUnavailableMs)),
    watcherConvergeMs: summarize(figures.map((f) => f.convergeMs)),
    updatesChecked: recorders.reduce((n, r) => n + r.updates.length, 0),
    historyEvents: history.events.length,
    acknowledgedWrites: writer.acked.length,
    writesLost: lostWrites.length,
    registrationsLost: registrationDeletes.length + lost.length,
    watcherMismatches: mismatches.length,
    rpcs: { ok: stats.ok, failed: stats.failed - failuresBefore },
  });
});
