import { register, registrarClientOptions } from "@etcd-naming/registrar";
import { createEtcd3Source, type ServiceWatcher, watchService } from "@etcd-naming/watcher";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { round, rounded, summarize } from "../stats.js";
import { elapsedMs, now, quietLogger, sampleAddr, within } from "../support.js";
import { adds, everyWatcher, rawDelete, removes } from "../watch-events.js";

const WATCHERS = 10;

/**
 * `deregister()` of a live registration, watched by ten independent watchers (each its own etcd watch,
 * default settings) and a raw etcd3 watch: the time until the last watcher has dropped the endpoint.
 */
export const drain: Scenario = {
  id: 9,
  title: "graceful drain",
  target: "≤ 50 ms p99",
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const samples = context.quick ? 10 : 150;
    const warmup = context.quick ? 2 : 10;
    const service = "bench/drain";
    const registrarClient = context.newClient(registrarClientOptions());
    const watchClient = context.newClient();
    const source = createEtcd3Source(watchClient);
    const watchers: ServiceWatcher[] = [];
    const raw = await watchClient.watch().prefix(`${service}/`).create();
    const allMs: number[] = [];
    const rawMs: number[] = [];
    try {
      for (let w = 0; w < WATCHERS; w++) {
        watchers.push(watchService(source, service, { logger: quietLogger, shared: false }));
      }
      await within(Promise.all(watchers.map((w) => w.ready())), 10_000, "the drain watchers' lists");
      context.log(`9: ${samples} samples, ${WATCHERS} watchers`);
      for (let i = 0; i < warmup + samples; i++) {
        const addr = sampleAddr(i, 7000);
        const key = `${service}/${addr}`;
        const added = everyWatcher(watchers, adds(key));
        const registration = await register({ client: registrarClient, service, addr, ttl: 10 });
        await within(added.done, 10_000, `sample ${i} to reach every watcher`).finally(() => added.off());

        const dropped = everyWatcher(watchers, removes(key));
        const rawDropped = rawDelete(raw, key);
        const start = now();
        try {
          await registration.deregister();
          await within(
            Promise.all([dropped.done, rawDropped.done]),
            10_000,
            `sample ${i} to be dropped`,
          ).catch((error: unknown) => {
            throw new Error(
              `${(error as Error).message}: ${dropped.pending} watcher(s) had not reported it, the raw watch ` +
                `${rawDropped.at === 0n ? "did not see" : "saw"} the delete`,
            );
          });
        } finally {
          dropped.off();
          rawDropped.off();
        }
        if (i >= warmup) {
          allMs.push(elapsedMs(start, dropped.lastAt));
          rawMs.push(elapsedMs(start, rawDropped.at));
        }
      }
    } finally {
      await Promise.all(watchers.map((w) => w.close()));
      await within(raw.cancel(), 2_000, "the raw watch to cancel").catch(() => undefined);
    }
    const all = summarize(allMs);
    const floor = summarize(rawMs);
    const line = (name: string, d: typeof all) =>
      `| ${name} | ${d.n} | ${round(d.min)} | ${round(d.p50)} | ${round(d.p90)} | ${round(d.p99)} | ${round(d.max)} |`;
    return {
      measured:
        `every watcher dropped it: p50 ${round(all.p50)} ms, p99 ${round(all.p99)} ms ` +
        `(raw etcd3 watch p50 ${round(floor.p50)} / p99 ${round(floor.p99)} ms)`,
      pass: all.p99 <= 50,
      data: { watchers: WATCHERS, everyWatcherDroppedMs: rounded(all), rawWatchDeleteMs: rounded(floor) },
      details: [
        `${WATCHERS} watchers with default settings (coalesceMs 5), each with its own etcd watch; ms from \`deregister()\`.`,
        "",
        "| ms from deregister() | n | min | p50 | p90 | p99 | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
        line(`last of ${WATCHERS} watchers dropped it`, all),
        line("raw etcd3 watch saw the delete", floor),
      ],
    };
  },
};
