// Issue 20: the seeded soak with overlapping faults on several members of a partitionable cluster. A
// member is paused (SIGSTOP), cut off from its peers (alive, answering clients) or killed and restarted;
// while one member is down a second one is sometimes paused or cut off too, for a short window without a
// quorum (kept well below the registrations' TTL). Servers registered by the registrar are called through
// grpc-js channels on the `etcd:` resolver, and watchers follow those, churned keys and short-lived
// registrations. After each round of faults everything is healed and checked: every watcher equals etcd,
// every update matched etcd's history at its revision, no registration was lost, every channel reaches
// every server. Heap used (after a full GC) and the count of active handles are sampled at each check
// and must stay flat. The default run is short; CHAOS_SECONDS sets its length, CHAOS_SEED replays a
// schedule (the seed fixes the sequence of decisions; their timing follows the machine).
import { setFlagsFromString, writeHeapSnapshot } from "node:v8";
import { runInNewContext } from "node:vm";
import { encodeEndpoint } from "@etcd-naming/codec";
import {
  type EtcdServer,
  type PartitionableCluster,
  partitionSupportMissing,
  startPartitionableCluster,
} from "@etcd-naming/etcd-fixture";
import { type GreeterClient, greeterClient, startGreeter } from "@etcd-naming/etcd-fixture/greeter";
import { registerEtcdResolver } from "@etcd-naming/grpc-js";
import { type Registration, register, registrarClientOptions } from "@etcd-naming/registrar";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import { afterAll, describe, expect, it, vi } from "vitest";
import { type CallStats, callLoop } from "./call-loop.js";
import { chaosSeconds, chaosSeed, createRandom, type Random, sleep, within } from "./chaos-env.js";
import { useChaosCluster } from "./chaos-rig.js";
import { cutOff, LEASE_NOT_FOUND, summarize, until } from "./cluster-tools.js";
import { diffSets, etcdEndpoints } from "./history.js";
import { resultsPath, writeResults } from "./results.js";
import { WatchRecorder } from "./watch-recorder.js";

const seconds = chaosSeconds(40);
vi.setConfig({ testTimeout: 180_000 + seconds * 2_000, hookTimeout: 90_000 });

const missing = await partitionSupportMissing();
if (missing !== undefined) console.warn(`multi-fault soak skipped: ${missing}`);

const root = "chaos/multi";
const greeterService = `${root}/greeter`;
const churnService = `${root}/churn`;
const membersService = `${root}/members`;
const quiet = { warn: () => {}, error: () => {} };
/**
 * Registrations' TTL. etcd counts a lease's TTL on the leader and refuses renewals without a quorum, so
 * a lease is only promised to survive when the quorum is reachable within every TTL: a window without a
 * quorum lasts at most WINDOW_MAX_MS (plus the election after it), opens at most once per fault, once
 * the fault's own election is over (ELECTED_MS), and WINDOW_SPACING_MS after the previous one.
 */
const TTL = 6;
const WINDOW_MAX_MS = 1_000;
const ELECTED_MS = 2_000;
const WINDOW_SPACING_MS = 3 * TTL * 1000;
const SERVERS = ["a", "b", "c", "d"];
// Flatness: the median of the last quarter of the samples (after warm-up) against the first quarter's.
const HEAP_SLACK_BYTES = 4 * 1024 * 1024;
const HEAP_SLACK_RATIO = 0.1;
const HANDLE_SLACK = 12;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const seed = chaosSeed();
/**
 * CHAOS_HEAP_SNAPSHOTS=40,290: a heap snapshot is written at the first check at or after each of these
 * seconds, to reliability/results/multi-fault-soak-<s>s.heapsnapshot, to compare in a heap profiler.
 */
const snapshotsAt = (process.env["CHAOS_HEAP_SNAPSHOTS"] ?? "")
  .split(",")
  .filter((t) => t.trim() !== "")
  .map(Number);
if (snapshotsAt.some((t) => !Number.isFinite(t) || t < 0))
  throw new Error(`CHAOS_HEAP_SNAPSHOTS must list seconds, got ${process.env["CHAOS_HEAP_SNAPSHOTS"]}`);
const malformed = ["not json", '{"Op":0,"Addr":""}', '{"Addr":', "[]"];
type FaultKind = "paused" | "isolated" | "killed";

interface Sample {
  atS: number;
  heapUsedBytes: number;
  handles: number;
}

const median = (values: readonly number[]): number => summarize(values).median;

/** First- and last-quarter medians of the samples after warm-up (the first sample, and the first 10 %). */
function flatness(samples: readonly Sample[], runSeconds: number) {
  const warm = samples.filter((s, i) => i > 0 && s.atS >= runSeconds * 0.1);
  const quarter = Math.max(1, Math.floor(warm.length / 4));
  const first = warm.slice(0, quarter);
  const last = warm.slice(-quarter);
  return {
    samples: warm.length,
    heapFirst: median(first.map((s) => s.heapUsedBytes)),
    heapLast: median(last.map((s) => s.heapUsedBytes)),
    handlesFirst: median(first.map((s) => s.handles)),
    handlesLast: median(last.map((s) => s.handles)),
  };
}

describe.skipIf(missing !== undefined)("the multi-fault soak", () => {
  let cluster: PartitionableCluster | undefined;
  const rig = useChaosCluster("chaos-multi", root, async (name) => {
    cluster = await startPartitionableCluster({ size: 3, name });
    return cluster;
  });
  const greeters: GreeterClient[] = [];
  const transient: Registration[] = [];
  afterAll(async () => {
    for (const member of cluster?.members ?? []) {
      if (member.paused) member.resume();
      if (cluster?.isolated(member)) await cluster.heal(member).catch(() => {});
      cutOff.delete(member);
      if (!member.running) await member.start().catch(() => {});
    }
    for (const g of greeters) g.close();
    await Promise.all(
      transient.map((r) =>
        within(
          r.deregister().catch(() => {}),
          5_000,
        ),
      ),
    );
  });

  it(`keeps every registration, watcher and channel right through overlapping faults (seed ${seed})`, async () => {
    console.info(`multi-fault soak: seed ${seed} (replay with CHAOS_SEED=${seed}), ${seconds} s`);
    const { history, writer } = rig;
    const members = rig.cluster.members;
    const startedAt = Date.now();
    const faults = createRandom(seed);
    const work = createRandom((seed ^ 0x9e3779b9) >>> 0);

    // What happened when, printed with a failure: faults, heals, the registrars' own lines, lost leases.
    const timeline: string[] = [];
    const note = (line: string) => {
      timeline.push(`${((Date.now() - startedAt) / 1000).toFixed(2)} ${line}`);
      if (timeline.length > 400) timeline.splice(0, 100);
    };
    const logTo = (name: string) => {
      const line =
        (level: string) =>
        (...args: unknown[]) =>
          note(`${name} ${level}: ${args.map((a) => (typeof a === "string" ? a : "")).join(" ")}`);
      return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
    };
    // Servers that stay up the whole run, each registered by its own registrar (own client, own lease).
    const lost: string[] = [];
    const stable: Registration[] = [];
    for (const id of SERVERS) {
      const server = await startGreeter(id);
      rig.servers.push(server);
      const registration = await register({
        client: rig.client(registrarClientOptions()),
        service: greeterService,
        addr: server.addr,
        ttl: TTL,
        logger: logTo(`registrar-${id}`),
      });
      rig.registrations.push(registration);
      stable.push(registration);
      registration.on("lost", (e) => {
        lost.push(`${registration.key}: ${e.message}`);
        note(`lost ${registration.key}: ${e.message}`);
      });
    }
    // Three watcher sources (default, tuned progress, serializable), each following all three services.
    const sources = [
      createEtcd3Source(rig.client()),
      createEtcd3Source(rig.client(), { progressIntervalMs: 1_000, progressTimeoutMs: 2_000 }),
      createEtcd3Source(rig.client(), { progressIntervalMs: 1_000, progressTimeoutMs: 2_000 }),
    ];
    for (const [i, source] of sources.entries()) {
      for (const service of [greeterService, churnService, membersService]) {
        const options = i === 2 ? { coalesceMs: 20, linearizable: false } : { coalesceMs: i === 0 ? 0 : 10 };
        rig.recorders.push(
          new WatchRecorder(`s${i}:${service}`, watchService(source, service, { ...options, logger: quiet })),
        );
      }
    }
    await Promise.all(rig.recorders.map((r) => r.watcher.ready()));
    rig.resolver = registerEtcdResolver({ client: rig.client(), logger: quiet });
    const loops: { stats: CallStats; stop(): Promise<CallStats> }[] = [];
    // Each failed call with what was faulted then and how long after the last fault or heal.
    const rpcFailures: {
      atS: number;
      channel: number;
      code: number | undefined;
      details: string;
      faulted: string[];
      sinceFaultChangeMs: number;
    }[] = [];
    for (let i = 0; i < 2; i++) {
      const greeter = greeterClient(`etcd:///${greeterService}`);
      greeters.push(greeter);
      loops.push(
        callLoop(greeter, 50, (failure) => {
          const faulted = [...faulty].map(([m, kind]) => `${m.name}:${kind}`);
          note(`rpc failed on channel ${i}: ${failure.code} ${failure.details}, faulted [${faulted}]`);
          if (rpcFailures.length < 200)
            rpcFailures.push({
              atS: (failure.at - startedAt) / 1000,
              channel: i,
              code: failure.code,
              details: failure.details,
              faulted,
              sinceFaultChangeMs: failure.at - lastFaultChangeAt,
            });
        }),
      );
    }
    const transientRegistrars = [rig.client(registrarClientOptions()), rig.client(registrarClientOptions())];

    const counts: Record<string, number> = {};
    const count = (name: string) => {
      counts[name] = (counts[name] ?? 0) + 1;
    };
    const pending = new Set<Promise<unknown>>();
    const track = (promise: Promise<unknown>) => {
      const tracked = promise.catch(() => {}).finally(() => pending.delete(tracked));
      pending.add(tracked);
    };
    const live = new Set<Registration>();
    let nextId = 0;
    let failedDeregisters = 0;
    const problems: string[] = [];
    const registrationDeletes = new Set<string>();
    const samples: Sample[] = [];
    const checks: { convergeMs: number; channelsMs: number; live: number }[] = [];
    let updatesChecked = 0;
    const watcherErrors: Record<string, number> = {};
    let staleEvents = 0;
    let historyEvents = 0;
    let acknowledgedWrites = 0;
    const windows: number[] = [];

    // --- faults --------------------------------------------------------------------------------------
    const faulty = new Map<EtcdServer, FaultKind>();
    let lastFaultChangeAt = startedAt;
    let windowOpenedAt: number | undefined;
    let lastWindowAt = 0;
    const noteQuorum = () => {
      if (faulty.size >= 2 && windowOpenedAt === undefined) windowOpenedAt = Date.now();
      if (faulty.size < 2 && windowOpenedAt !== undefined) {
        windows.push(Date.now() - windowOpenedAt);
        windowOpenedAt = undefined;
        lastWindowAt = Date.now();
      }
    };
    const apply = async (member: EtcdServer, kind: FaultKind) => {
      const leader = [...faulty.keys()].length === 0 ? await within(rig.cluster.leader(), 2_000) : undefined;
      note(
        `${kind} ${member.name}${leader === member ? " (leader)" : ""}, down: [${[...faulty.keys()].map((m) => m.name)}]`,
      );
      faulty.set(member, kind);
      lastFaultChangeAt = Date.now();
      noteQuorum();
      count(`fault:${kind}`);
      if (kind === "paused") member.pause();
      else if (kind === "isolated") {
        cutOff.add(member);
        await cluster!.isolate(member);
      } else await member.kill();
    };
    const heal = async (member: EtcdServer) => {
      const kind = faulty.get(member);
      if (kind === "paused") member.resume();
      else if (kind === "isolated") {
        await cluster!.heal(member);
        cutOff.delete(member);
      } else if (kind === "killed") await member.start();
      faulty.delete(member);
      lastFaultChangeAt = Date.now();
      noteQuorum();
      note(`healed ${member.name} (${kind})`);
    };
    /** Faults until `endAt`: one member at a time, sometimes a second one briefly (no quorum). */
    const faultRound = async (endAt: number, random: Random) => {
      const running = new Set<Promise<void>>();
      const fault = (member: EtcdServer, kind: FaultKind, ms: number) => {
        const done = (async () => {
          await apply(member, kind);
          await sleep(ms);
          await heal(member);
        })().finally(() => running.delete(done));
        running.add(done);
      };
      let primaryAt = 0;
      let overlapped = false;
      while (Date.now() < endAt) {
        await sleep(random.int(200, 1_500));
        if (Date.now() >= endAt) break;
        const free = members.filter((m) => !faulty.has(m));
        if (faulty.size === 0) {
          primaryAt = Date.now();
          overlapped = false;
          fault(random.pick(free), random.pick(["paused", "isolated", "killed"]), random.int(1_000, 4_000));
        } else if (
          faulty.size === 1 &&
          !overlapped &&
          Date.now() - primaryAt >= ELECTED_MS &&
          Date.now() - lastWindowAt >= WINDOW_SPACING_MS &&
          random.next() < 0.5
        ) {
          // A second member while the first is down: a short window without a quorum, once per fault,
          // after the first fault's election, and far enough from the last window that the quorum was
          // reachable within every TTL. A killed member's restart needs a quorum to report healthy, so
          // the second fault is one that heals at once.
          overlapped = true;
          count("overlaps");
          fault(random.pick(free), random.pick(["paused", "isolated"]), random.int(300, WINDOW_MAX_MS));
        }
      }
      await Promise.all([...running]);
    };

    // --- workload ------------------------------------------------------------------------------------
    let working = true;
    const workload = async () => {
      while (working) {
        const action = work.weighted({
          put: 30,
          delete: 15,
          malformed: 3,
          leasePut: 4,
          register: 4,
          deregister: 3,
        });
        count(action);
        const key = `${churnService}/k${work.int(0, 19)}`;
        switch (action) {
          case "put":
            await writer.put(
              key,
              encodeEndpoint({ addr: `10.7.${work.int(0, 255)}.${work.int(1, 254)}:80` }),
            );
            break;
          case "delete":
            await writer.delete(key);
            break;
          case "malformed":
            await writer.put(key, work.pick(malformed));
            break;
          case "leasePut": {
            const lease = await writer.grant(work.int(2, 4));
            try {
              await writer.put(
                `${churnService}/l${work.int(0, 5)}`,
                encodeEndpoint({ addr: `10.8.0.${work.int(1, 254)}:80` }),
                lease,
              );
            } catch (error) {
              // The put took longer than the lease's 2-4 s (a fault, a loaded machine): etcd refuses it.
              if (!LEASE_NOT_FOUND.test(String(error))) throw error;
              count("leasePutExpired");
            }
            break;
          }
          case "register": {
            if (live.size >= 12) break;
            const addr = `10.9.${Math.floor(nextId / 250) % 250}.${(nextId++ % 250) + 1}:50051`;
            track(
              register({
                client: work.pick(transientRegistrars),
                service: membersService,
                addr,
                ttl: TTL,
                logger: quiet,
              }).then((r) => {
                transient.push(r);
                live.add(r);
                r.on("lost", (e) => {
                  lost.push(`${r.key}: ${e.message}`);
                  note(`lost ${r.key}: ${e.message}`);
                });
              }),
            );
            break;
          }
          case "deregister": {
            const registration = [...live][work.int(0, Math.max(0, live.size - 1))];
            if (registration === undefined) break;
            live.delete(registration);
            track(
              registration
                .deregister()
                .then(() => {
                  const at = transient.indexOf(registration);
                  if (at >= 0) transient.splice(at, 1);
                })
                .catch(() => failedDeregisters++),
            );
            break;
          }
        }
        await sleep(work.int(10, 120));
      }
    };

    // --- checks --------------------------------------------------------------------------------------
    const reader = rig.client();
    const stableKeys = new Set(stable.map((r) => r.key));
    const lastChecked = new Map<WatchRecorder, bigint>();
    const snapped = new Set<number>();
    const check = async () => {
      const started = Date.now();
      await Promise.race([Promise.all([...pending]), sleep(30_000)]);
      await rig.cluster.leader({ timeoutMs: 30_000 });
      const expectedKeys = () => [...stableKeys, ...[...live].map((r) => r.key)];
      await until(
        async () => {
          const views = new Map<string, Awaited<ReturnType<typeof etcdEndpoints>>>();
          for (const service of [greeterService, churnService, membersService])
            views.set(service, await etcdEndpoints(reader, service));
          const present = new Set([...views.values()].flatMap((v) => [...v.keys()]));
          return (
            expectedKeys().every((k) => present.has(k)) &&
            rig.recorders.every((r) => diffSets(r.current(), views.get(r.service)!) === undefined)
          );
        },
        {
          timeoutMs: 60_000,
          describe: async () => {
            const lines: string[] = [];
            for (const r of rig.recorders) {
              lines.push(
                `${r.name}: ${diffSets(r.current(), await etcdEndpoints(reader, r.service)) ?? "equal"}`,
              );
            }
            return `seed ${seed}: ${lines.join("; ")}`;
          },
        },
      );
      const convergeMs = Date.now() - started;
      // Every channel reaches every registered server again.
      const before = loops.map((l) => ({ ...l.stats.byServer }));
      const channelsMs = await until(
        () =>
          loops.every((l, i) => SERVERS.every((id) => (l.stats.byServer[id] ?? 0) > (before[i]![id] ?? 0))),
        {
          timeoutMs: 30_000,
          describe: () => `seed ${seed}: channels ${JSON.stringify(loops.map((l) => l.stats.byServer))}`,
        },
      );
      await history.sync();
      for (const r of rig.recorders) {
        problems.push(...r.checkHistory(history));
        // Checked updates are dropped so memory stays flat; the order check goes on across checks.
        const first = r.updates[0];
        const previous = lastChecked.get(r);
        if (first !== undefined && previous !== undefined && first.revision < previous)
          problems.push(`${r.name} went back from revision ${previous} to ${first.revision}`);
        let checked = 0;
        while (checked < r.updates.length && r.updates[checked]!.revision <= history.revision) checked++;
        if (checked > 0) lastChecked.set(r, r.updates[checked - 1]!.revision);
        updatesChecked += checked;
        r.updates.splice(0, checked);
        // Errors and stale/fresh changes are counted and dropped, like the checked updates.
        for (const e of r.errors) watcherErrors[e.code] = (watcherErrors[e.code] ?? 0) + 1;
        r.errors.length = 0;
        staleEvents += r.states.filter((s) => s.state === "stale").length;
        r.states.length = 0;
      }
      for (const event of history.events) {
        if (event.type === "delete" && stableKeys.has(event.key))
          registrationDeletes.add(`${event.key}@${event.revision}`);
      }
      const floor = rig.recorders.reduce(
        (min, r) => (r.updates[0] !== undefined && r.updates[0].revision < min ? r.updates[0].revision : min),
        history.revision,
      );
      const held = history.events.length;
      history.forget(floor);
      historyEvents += held - history.events.length;
      acknowledgedWrites += writer.acked.length;
      writer.acked.length = 0;
      for (const l of loops) l.stats.failures.splice(0, Math.max(0, l.stats.failures.length - 20));
      checks.push({ convergeMs, channelsMs, live: live.size });
      note(`check ${checks.length}: converged in ${convergeMs} ms, revision ${history.revision}`);
      gc();
      samples.push({
        atS: Math.round((Date.now() - startedAt) / 1000),
        heapUsedBytes: process.memoryUsage().heapUsed,
        handles: process.getActiveResourcesInfo().length,
      });
      const atS = samples.at(-1)!.atS;
      if (snapshotsAt.some((t) => atS >= t && !snapped.has(t))) {
        for (const t of snapshotsAt) if (atS >= t) snapped.add(t);
        writeHeapSnapshot(resultsPath(`multi-fault-soak-${atS}s.heapsnapshot`));
      }
    };

    const runUntil = startedAt + seconds * 1000;
    // A run that fails still writes its figures and timeline, then fails with the error.
    let runError: unknown;
    try {
      while (Date.now() < runUntil) {
        working = true;
        const load = workload();
        await faultRound(Math.min(runUntil, Date.now() + faults.int(4_000, 8_000)), faults);
        working = false;
        await load;
        await check();
      }
    } catch (error) {
      runError = error;
      working = false;
      note(`run failed: ${String(error)}`);
    }
    const rpc = await Promise.all(loops.map((l) => l.stop()));

    const present = await etcdEndpoints(reader, greeterService).catch(() => new Map<string, string>());
    const flat = flatness(samples, seconds);
    const figures = {
      seed,
      seconds,
      etcd: rig.cluster.members[0]!.version,
      ranForS: Math.round((Date.now() - startedAt) / 1000),
      actions: counts,
      faultsInjected:
        (counts["fault:paused"] ?? 0) + (counts["fault:isolated"] ?? 0) + (counts["fault:killed"] ?? 0),
      noQuorumWindows: summarize(windows),
      changes: historyEvents + history.events.length,
      acknowledgedWrites,
      updatesChecked,
      watcherMismatches: problems.length,
      registrationLeaseLostEvents: lost.length,
      registrationKeysDeleted: registrationDeletes.size,
      stableRegistrationsPresent: stable.filter((r) => present.has(r.key)).length,
      failedDeregisters,
      watcherErrors,
      staleEvents,
      rpc: rpc.map((s) => ({ ok: s.ok, failed: s.failed, byServer: s.byServer })),
      rpcFailures,
      checks: checks.length,
      convergeMs: summarize(checks.map((c) => c.convergeMs)),
      channelsMs: summarize(checks.map((c) => c.channelsMs)),
      heap: { first: samples[0]?.heapUsedBytes, last: samples.at(-1)?.heapUsedBytes },
      handles: { first: samples[0]?.handles, last: samples.at(-1)?.handles },
      flatness: flat,
      samples,
    };
    writeResults("multi-fault-soak", {
      ...figures,
      runError: runError === undefined ? undefined : String(runError),
      timeline,
    });
    if (problems.length + lost.length + registrationDeletes.size > 0) console.info(timeline.join("\n"));
    console.info(
      `multi-fault soak: ${JSON.stringify({ ...figures, samples: samples.length, rpcFailures: rpcFailures.length })}`,
    );
    const replay = `seed ${seed}: replay with CHAOS_SEED=${seed}`;
    if (runError !== undefined) throw runError;
    expect(problems, replay).toEqual([]);
    expect(lost, replay).toEqual([]);
    expect([...registrationDeletes], replay).toEqual([]);
    expect(figures.stableRegistrationsPresent, replay).toBe(SERVERS.length);
    expect(figures.faultsInjected, replay).toBeGreaterThan(0);
    expect(flat.heapLast, replay).toBeLessThanOrEqual(
      flat.heapFirst + Math.max(HEAP_SLACK_BYTES, flat.heapFirst * HEAP_SLACK_RATIO),
    );
    expect(flat.handlesLast, replay).toBeLessThanOrEqual(flat.handlesFirst + HANDLE_SLACK);
  });
});
