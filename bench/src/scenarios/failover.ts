import { createEtcd3Source, type ServiceWatcher, watchService } from "@etcd-naming/watcher";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { round } from "../stats.js";
import { elapsedMs, now, quietLogger, sampleAddr, sleep, within } from "../support.js";
import { adds, everyWatcher, rawDelete, removes } from "../watch-events.js";

const WATCHERS = 10;
const TTL_SECONDS = 5;

/**
 * A registered server (a child process, TTL 5 s) is SIGKILLed: nothing deregisters it, so its key goes
 * when etcd expires the lease, between TTL − TTL/3 and TTL after the kill depending on when its last
 * keep-alive landed. Measured: from the kill to the last of ten watchers dropping it.
 */
export const failover: Scenario = {
  id: 8,
  title: "failover: registered server SIGKILLed, TTL 5 s",
  target: "≤ TTL + 1 s (6 s)",
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const samples = context.quick ? 1 : 3;
    const service = "bench/failover";
    const watchClient = context.newClient();
    const source = createEtcd3Source(watchClient);
    const watchers: ServiceWatcher[] = [];
    const allMs: number[] = [];
    const firstMs: number[] = [];
    const rawMs: number[] = [];
    const raw = await watchClient.watch().prefix(`${service}/`).create();
    try {
      for (let w = 0; w < WATCHERS; w++) {
        watchers.push(watchService(source, service, { logger: quietLogger, shared: false }));
      }
      await within(Promise.all(watchers.map((w) => w.ready())), 10_000, "the failover watchers' lists");
      context.log(`8: ${samples} sample(s), ${WATCHERS} watchers, TTL ${TTL_SECONDS} s`);
      for (let i = 0; i < samples; i++) {
        const addr = sampleAddr(i, 6000);
        const key = `${service}/${addr}`;
        const added = everyWatcher(watchers, adds(key));
        const child = context.spawnChild("registrant.ts", [
          context.etcd.endpoints[0]!,
          service,
          addr,
          String(TTL_SECONDS),
        ]);
        try {
          await child.next("registered", 30_000);
          await within(added.done, 10_000, "the child's endpoint to reach every watcher").finally(() =>
            added.off(),
          );

          // A keep-alive round lasts TTL/3: let at least one land so the kill falls at a random phase.
          await sleep(500 + Math.random() * ((TTL_SECONDS * 1000) / 3));
          const dropped = everyWatcher(watchers, removes(key));
          const rawDropped = rawDelete(raw, key);
          const start = now();
          try {
            await child.kill();
            await within(
              Promise.all([dropped.done, rawDropped.done]),
              (TTL_SECONDS + 10) * 1000,
              "every watcher to drop the killed server",
            );
          } finally {
            dropped.off();
            rawDropped.off();
          }
          allMs.push(elapsedMs(start, dropped.lastAt));
          firstMs.push(elapsedMs(start, dropped.firstAt));
          rawMs.push(elapsedMs(start, rawDropped.at));
        } finally {
          await child.kill();
        }
      }
    } finally {
      await Promise.all(watchers.map((w) => w.close()));
      await within(raw.cancel(), 2_000, "the raw watch to cancel").catch(() => undefined);
      await context.client.delete().prefix(`${service}/`);
    }
    const worst = Math.max(...allMs);
    const spread = allMs.map((ms, i) => ms - firstMs[i]!);
    return {
      measured:
        `${allMs.map((ms) => round(ms / 1000)).join(" / ")} s from SIGKILL to the last of ${WATCHERS} watchers ` +
        `(raw etcd3 watch: ${rawMs.map((ms) => round(ms / 1000)).join(" / ")} s; spread between watchers ≤ ` +
        `${round(Math.max(...spread))} ms)`,
      pass: worst <= (TTL_SECONDS + 1) * 1000,
      data: {
        ttlSeconds: TTL_SECONDS,
        watchers: WATCHERS,
        killToEveryWatcherMs: allMs.map(round),
        killToFirstWatcherMs: firstMs.map(round),
        killToRawWatchDeleteMs: rawMs.map(round),
      },
      details: [
        `${samples} kill(s) of a child process registered with TTL ${TTL_SECONDS} s, at a random phase of its ` +
          `keep-alive cycle; ${WATCHERS} watchers in the bench process, each with its own etcd watch. ` +
          "The time is set by etcd's lease expiry (it checks every 500 ms), not by the watchers: ms from the kill " +
          `to the raw etcd3 watch's delete event: ${rawMs.map(round).join(", ")}; to the first watcher: ` +
          `${firstMs.map(round).join(", ")}; to the last: ${allMs.map(round).join(", ")}.`,
      ],
    };
  },
};
