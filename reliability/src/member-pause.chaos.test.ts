// Issue 10, suite 2: the member a watcher is connected to is paused (SIGSTOP: its sockets stay open,
// nothing answers). The watcher must move to a healthy member and keep receiving changes within a few
// seconds, and registrations whose keep-alive stream is on that member must keep their leases alive
// through the other members.
import { encodeEndpoint } from "@etcd-naming/codec";
import type { EtcdServer } from "@etcd-naming/etcd-fixture";
import { register, registrarClientOptions } from "@etcd-naming/registrar";
import { createEtcd3Source, type Etcd3SourceOptions, watchService } from "@etcd-naming/watcher";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { sleep } from "./chaos-env.js";
import { useChaosCluster } from "./chaos-rig.js";
import { memberAt, until } from "./cluster-tools.js";
import { etcdEndpoints } from "./history.js";
import { writeResults } from "./results.js";
import { WatchRecorder } from "./watch-recorder.js";

vi.setConfig({ testTimeout: 150_000, hookTimeout: 60_000 });

const root = "chaos/pause";
const service = `${root}/greeter`;
const churnService = `${root}/churn`;
const quiet = { warn: () => {}, error: () => {} };
const TTL = 3;
// Tighter than the defaults (2 s idle + 3 s); the defaults are measured too.
const tuned: Etcd3SourceOptions = { progressIntervalMs: 1_000, progressTimeoutMs: 2_000 };

let paused: EtcdServer | undefined;
const rig = useChaosCluster("chaos-pause", root);
const { recorders, registrations } = rig;
const client = rig.client;

afterAll(() => paused?.resume());

/** Watchers on fresh clients until one of them (of the given kind) watches through `member`. */
async function watcherOn(
  member: EtcdServer,
  kind: string,
  options: Etcd3SourceOptions,
): Promise<WatchRecorder[]> {
  const created: WatchRecorder[] = [];
  for (let i = 0; i < 30; i++) {
    const source = createEtcd3Source(client(), options);
    const recorder = new WatchRecorder(
      `${kind}${i}`,
      watchService(source, churnService, { coalesceMs: 0, logger: quiet }),
    );
    created.push(recorder);
    await recorder.watcher.ready();
    await until(() => source.stats().watchHosts.length === 1);
    if (memberAt(rig.cluster, source.stats().watchHosts[0]!) === member) return created;
  }
  throw new Error(`no ${kind} watcher landed on ${member.name}`);
}

interface Outcome {
  target: EtcdServer;
  tunedFailoverMs: number;
  defaultFailoverMs: number;
  mismatches: string[];
  lost: string[];
  registrationDeletes: string[];
  present: string[];
}
let outcome: Outcome;

// One pause serves every assertion below: the scenario runs once, the tests read its outcome.
beforeAll(async () => {
  const { cluster, history, writer } = rig;
  // Six registrars (own client each); their keep-alive streams spread over the members.
  for (let i = 0; i < 6; i++) {
    registrations.push(
      await register({
        client: client(registrarClientOptions()),
        service,
        addr: `10.3.0.${i}:50051`,
        ttl: TTL,
        logger: quiet,
      }),
    );
  }
  const lost: string[] = [];
  for (const r of registrations) r.on("lost", (e) => lost.push(`${r.key}: ${e.message}`));
  // Keep-alive streams open at the first keep-alive, a third of the TTL after the grant.
  await sleep((TTL * 1000) / 3 + 500);
  const streams = await Promise.all(
    cluster.members.map(async (member) => (await member.metrics()).openStreams("LeaseKeepAlive")),
  );
  const streamsOnTarget = Math.max(...streams);
  const target = cluster.members[streams.indexOf(streamsOnTarget)]!;

  const tunedRecorders = await watcherOn(target, "tuned", tuned);
  const defaultRecorders = await watcherOn(target, "default", {});
  recorders.push(...tunedRecorders, ...defaultRecorders);
  const registrationWatcher = new WatchRecorder(
    "registrations",
    watchService(createEtcd3Source(client(), tuned), service, { coalesceMs: 0, logger: quiet }),
  );
  recorders.push(registrationWatcher);
  await registrationWatcher.watcher.ready();
  const before = `${churnService}/before`;
  await writer.put(before, encodeEndpoint({ addr: "10.4.0.1:80" }));
  await until(() => recorders.every((r) => r.service !== churnService || r.current().has(before)));

  const wasLeader = (await cluster.leader()) === target;
  paused = target;
  const pausedAt = Date.now();
  target.pause();
  const marker = `${churnService}/during`;
  await writer.put(marker, encodeEndpoint({ addr: "10.4.0.2:80" }));
  // The last watcher of each kind is the one that landed on the paused member.
  const failover = async (recorder: WatchRecorder) => {
    await until(() => recorder.current().has(marker), {
      timeoutMs: 40_000,
      describe: () => `${recorder.name}: ${[...recorder.current().keys()]}`,
    });
    return recorder.firstSeen(marker)! - pausedAt;
  };
  const tunedFailoverMs = await failover(tunedRecorders.at(-1)!);
  // Keep the member paused for more than two TTLs, so leases held through it must be renewed elsewhere.
  await sleep(Math.max(0, pausedAt + 2 * TTL * 1000 + 500 - Date.now()));
  const defaultFailoverMs = await failover(defaultRecorders.at(-1)!);
  // Changes keep flowing after the fail-over.
  const after = `${churnService}/after`;
  await writer.put(after, encodeEndpoint({ addr: "10.4.0.3:80" }));
  await until(() => recorders.every((r) => r.service !== churnService || r.current().has(after)));
  const pausedMs = Date.now() - pausedAt;
  target.resume();
  paused = undefined;

  const reader = await rig.converge();
  outcome = {
    target,
    tunedFailoverMs,
    defaultFailoverMs,
    mismatches: recorders.flatMap((r) => r.checkHistory(history)),
    lost,
    registrationDeletes: registrations.flatMap((r) =>
      history.eventsOf(r.key).flatMap((e) => (e.type === "delete" ? [`${e.key}@${e.revision}`] : [])),
    ),
    present: [...(await etcdEndpoints(reader, service)).keys()].sort(),
  };
  writeResults("member-pause", {
    pausedMember: target.name,
    pausedMemberWasLeader: wasLeader,
    pausedMs,
    keepAliveStreamsOnPausedMember: streamsOnTarget,
    tunedOptions: tuned,
    tunedFailoverMs,
    defaultFailoverMs,
    watcherMismatches: outcome.mismatches.length,
    registrationKeysDeletedByExpiry: outcome.registrationDeletes.length,
    leaseLostEvents: lost.length,
  });
}, 120_000);

it("moves a watcher off the paused member: it keeps receiving changes, none missed", () => {
  expect(outcome.tunedFailoverMs).toBeGreaterThan(0);
  expect(outcome.defaultFailoverMs).toBeGreaterThan(0);
  expect(outcome.mismatches).toEqual([]);
});

it("has every registration in etcd once the member is back", () => {
  expect(outcome.present).toEqual(registrations.map((r) => r.key).sort());
});

// A keep-alive stream to the paused member must be abandoned after one unanswered tick and reopened on
// another member, well before etcd would expire the lease.
it("keeps the leases of registrations whose keep-alive stream is on the paused member", () => {
  expect(outcome.lost).toEqual([]);
  expect(outcome.registrationDeletes).toEqual([]);
});
