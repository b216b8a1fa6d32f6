// Real partitions (issue 20): a member is cut off from its peers by its network link while it stays alive
// and keeps answering its clients (each member runs in a network namespace of its own; see the fixture's
// startPartitionableCluster). Such a member has no leader, and etcd refuses it a `hasleader` watch; a
// cut-off leader steps down. Watchers and registrars on it must move to the majority within the usual
// fail-over time, lose no lease, and miss or invent no change; the same through a flapping link.
import { encodeEndpoint } from "@etcd-naming/codec";
import {
  type EtcdServer,
  type PartitionableCluster,
  partitionSupportMissing,
  startPartitionableCluster,
} from "@etcd-naming/etcd-fixture";
import { type Registration, register, registrarClientOptions } from "@etcd-naming/registrar";
import { createEtcd3Source, type Etcd3SourceOptions, watchService } from "@etcd-naming/watcher";
import { afterAll, describe, expect, it, vi } from "vitest";
import { sleep } from "./chaos-env.js";
import { type ChaosRig, useChaosCluster } from "./chaos-rig.js";
import { cutOff, memberAt, until } from "./cluster-tools.js";
import { etcdEndpoints } from "./history.js";
import { writeResults } from "./results.js";
import { WatchRecorder } from "./watch-recorder.js";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 60_000 });

const missing = await partitionSupportMissing();
if (missing !== undefined) console.warn(`partition chaos tests skipped: ${missing}`);

const root = "chaos/partition";
const quiet = { warn: () => {}, error: () => {} };
const TTL = 3;
const tuned: Etcd3SourceOptions = { progressIntervalMs: 1_000, progressTimeoutMs: 2_000 };
/** The watcher's fail-over time with its defaults (2 s idle + 3 s to answer). */
const DEFAULT_FAILOVER_MS = 5_000;
// What an isolated member may add on top: a cut-off leader's clients also wait for the majority's
// election, and a resumed watch its retry backoff. Times are reported; this bound only catches a hang.
const SLACK_MS = 5_000;

interface Round {
  target: EtcdServer;
  targetWasLeader: boolean;
  recorders: WatchRecorder[];
  onTarget: WatchRecorder[];
  registrations: Registration[];
  keepAlivesOnTarget: number;
  lost: string[];
}

/** Watchers on fresh clients until one of them watches through `member`: the last one returned. */
async function watcherOn(
  rig: ChaosRig,
  member: EtcdServer,
  service: string,
  name: string,
  options: Etcd3SourceOptions,
): Promise<WatchRecorder[]> {
  const created: WatchRecorder[] = [];
  for (let i = 0; i < 30; i++) {
    const source = createEtcd3Source(rig.client(), options);
    const recorder = new WatchRecorder(
      `${name}${i}`,
      watchService(source, service, { coalesceMs: 0, logger: quiet }),
    );
    created.push(recorder);
    rig.recorders.push(recorder);
    await recorder.watcher.ready();
    await until(() => source.stats().watchHosts.length === 1);
    if (memberAt(rig.cluster, source.stats().watchHosts[0]!) === member) return created;
  }
  throw new Error(`no ${name} watcher landed on ${member.name}`);
}

/** Registrars (own client each), six at a time, until a keep-alive stream is on `member`. */
async function registrarsOn(rig: ChaosRig, member: EtcdServer, service: string, round: Round): Promise<void> {
  const before = (await member.metrics()).openStreams("LeaseKeepAlive");
  for (let batch = 0; batch < 3; batch++) {
    const created = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        register({
          client: rig.client(registrarClientOptions()),
          service,
          addr: `10.9.${rig.registrations.length + batch}.${i}:50051`,
          ttl: TTL,
          logger: quiet,
        }),
      ),
    );
    for (const registration of created) {
      rig.registrations.push(registration);
      round.registrations.push(registration);
      registration.on("lost", (e) => round.lost.push(`${registration.key}: ${e.message}`));
    }
    // Keep-alive streams open at the first keep-alive, a third of the TTL after the grant.
    await sleep((TTL * 1000) / 3 + 300);
    round.keepAlivesOnTarget = (await member.metrics()).openStreams("LeaseKeepAlive") - before;
    if (round.keepAlivesOnTarget >= 1) return;
  }
}

/** Sets up watchers and registrars on `target` and waits until every watcher shows a first change. */
async function prepare(rig: ChaosRig, target: EtcdServer, name: string): Promise<Round> {
  const service = `${root}/${name}`;
  const round: Round = {
    target,
    targetWasLeader: (await rig.cluster.leader()) === target,
    recorders: [],
    onTarget: [],
    registrations: [],
    keepAlivesOnTarget: 0,
    lost: [],
  };
  await registrarsOn(rig, target, `${service}/registered`, round);
  for (const [kind, options] of [
    ["default", {}],
    ["tuned", tuned],
  ] as const) {
    const created = await watcherOn(rig, target, `${service}/churn`, `${name}-${kind}`, options);
    round.recorders.push(...created);
    round.onTarget.push(created.at(-1)!);
  }
  const registrationWatcher = new WatchRecorder(
    `${name}-registrations`,
    watchService(createEtcd3Source(rig.client(), tuned), `${service}/registered`, {
      coalesceMs: 0,
      logger: quiet,
    }),
  );
  rig.recorders.push(registrationWatcher);
  await registrationWatcher.watcher.ready();
  await put(rig, `${service}/churn/before`, "10.8.0.1:80");
  return round;
}

/** A write through the majority, then every watcher of the file showing it. */
async function put(rig: ChaosRig, key: string, addr: string): Promise<void> {
  await rig.writer.put(key, encodeEndpoint({ addr }));
  await until(
    () =>
      rig.recorders.every((r) => !key.startsWith(`${r.service}/`) || r.current().get(key)?.startsWith(addr)),
    { timeoutMs: 40_000, describe: () => `${key} not shown by every watcher` },
  );
}

let cluster: PartitionableCluster | undefined;

/** Cuts `member` off and marks it so the test's own reads and writes go elsewhere. */
async function isolate(member: EtcdServer): Promise<void> {
  cutOff.add(member);
  await cluster!.isolate(member);
}

async function heal(member: EtcdServer): Promise<void> {
  await cluster!.heal(member);
  cutOff.delete(member);
}

/** After healing: every watcher equals etcd, no update differs from the history, every lease kept. */
async function verdict(rig: ChaosRig, round: Round) {
  await rig.cluster.leader({ timeoutMs: 30_000 });
  const reader = await rig.converge();
  const service = round.registrations[0]!.service;
  return {
    mismatches: rig.recorders.flatMap((r) => r.checkHistory(rig.history)),
    lost: round.lost,
    registrationDeletes: round.registrations.flatMap((r) =>
      rig.history.eventsOf(r.key).flatMap((e) => (e.type === "delete" ? [`${e.key}@${e.revision}`] : [])),
    ),
    present: [...(await etcdEndpoints(reader, service)).keys()].sort(),
    expected: round.registrations.map((r) => r.key).sort(),
  };
}

describe.skipIf(missing !== undefined)("a member cut off from its peers", () => {
  const rig = useChaosCluster("chaos-partition", root, async (name) => {
    cluster = await startPartitionableCluster({ size: 3, name });
    return cluster;
  });
  const figures: Record<string, unknown> = {};
  afterAll(async () => {
    for (const member of [...cutOff]) await heal(member).catch(() => {});
    writeResults("partition", figures);
  });

  /** Cuts `target` off for two TTLs while a change is made through the majority. */
  async function partitionRound(name: string, pick: (leader: EtcdServer) => EtcdServer) {
    const target = pick(await rig.cluster.leader());
    const round = await prepare(rig, target, name);
    const churn = `${root}/${name}/churn`;
    const isolatedAt = Date.now();
    await isolate(target);
    // The cut-off member keeps answering its clients, without a leader.
    const leaderless = until(async () => (await target.status(1_000)).leaderId === "0", {
      timeoutMs: 15_000,
      intervalMs: 20,
    }).then(() => Date.now() - isolatedAt);
    await put(rig, `${churn}/during`, "10.8.0.2:80");
    const failoverMs = round.onTarget.map((r) => r.firstSeen(`${churn}/during`)! - isolatedAt);
    const leaderlessAfterMs = await leaderless;
    // Leases whose keep-alive was on the member must be renewed elsewhere for more than two TTLs.
    await sleep(Math.max(0, isolatedAt + 2 * TTL * 1000 + 500 - Date.now()));
    await put(rig, `${churn}/after`, "10.8.0.3:80");
    const isolatedMs = Date.now() - isolatedAt;
    await heal(target);
    const outcome = await verdict(rig, round);
    figures[name] = {
      target: target.name,
      targetWasLeader: round.targetWasLeader,
      keepAlivesOnTarget: round.keepAlivesOnTarget,
      isolatedMs,
      leaderlessAfterMs,
      failoverMs: { default: failoverMs[0], tuned: failoverMs[1] },
      watcherMismatches: outcome.mismatches.length,
      leaseLostEvents: outcome.lost.length,
      registrationKeysDeleted: outcome.registrationDeletes.length,
    };
    return { outcome, failoverMs };
  }

  const check = (result: Awaited<ReturnType<typeof partitionRound>>) => {
    const { outcome, failoverMs } = result;
    expect(outcome.mismatches).toEqual([]);
    expect(outcome.lost).toEqual([]);
    expect(outcome.registrationDeletes).toEqual([]);
    expect(outcome.present).toEqual(outcome.expected);
    expect(failoverMs[0]).toBeLessThan(DEFAULT_FAILOVER_MS + SLACK_MS);
    expect(failoverMs[1]).toBeLessThan(tuned.progressIntervalMs! + tuned.progressTimeoutMs! + SLACK_MS);
  };

  it("moves watchers and keep-alives off a follower cut off from its peers (alive, no leader)", async () => {
    check(await partitionRound("follower", (leader) => rig.cluster.members.find((m) => m !== leader)!));
  });

  it("moves them off a leader cut off from its peers (a 2/1 split, the leader in the minority)", async () => {
    check(await partitionRound("leader", (leader) => leader));
  });

  it("keeps every view right through a flapping peer link", async () => {
    const target = await rig.cluster.leader();
    const round = await prepare(rig, target, "flap");
    const churn = `${root}/flap/churn`;
    // Cut for less and for more than an election timeout (750 ms), joined in between.
    const schedule = [400, 600, 1_500, 800, 2_500, 400, 900, 1_200];
    let writes = 0;
    let flapping = true;
    const writer = (async () => {
      while (flapping) {
        await rig.writer.put(`${churn}/w${writes % 5}`, encodeEndpoint({ addr: `10.8.1.${writes}:80` }));
        writes++;
        await sleep(100);
      }
    })();
    const started = Date.now();
    for (const [i, ms] of schedule.entries()) {
      if (i % 2 === 0) await isolate(target);
      else await heal(target);
      await sleep(ms);
    }
    await heal(target);
    flapping = false;
    await writer;
    await put(rig, `${churn}/after`, "10.8.0.4:80");
    const outcome = await verdict(rig, round);
    figures["flap"] = {
      target: target.name,
      keepAlivesOnTarget: round.keepAlivesOnTarget,
      flappingMs: Date.now() - started,
      schedule,
      writes,
      watcherMismatches: outcome.mismatches.length,
      leaseLostEvents: outcome.lost.length,
      registrationKeysDeleted: outcome.registrationDeletes.length,
    };
    expect(outcome.mismatches).toEqual([]);
    expect(outcome.lost).toEqual([]);
    expect(outcome.registrationDeletes).toEqual([]);
    expect(outcome.present).toEqual(outcome.expected);
  });
});
