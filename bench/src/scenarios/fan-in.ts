import * as grpc from "@grpc/grpc-js";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { readCounters } from "../etcd-metrics.js";
import { round } from "../stats.js";
import { settledHeap, sleep, until } from "../support.js";

const KB = 1024;
const ROUND_ROBIN = JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] });

interface FanIn {
  perChannelKb: number;
  readyMs: number;
  watchersOpened: number;
}

/**
 * Opens `count` channels on `target`, waits until every one is READY, and measures the heap they hold
 * (after full collections) and the watchers etcd gained. The same is done for a static `ipv4:` target
 * with round_robin: grpc-js's own cost per channel, the floor the resolver's cost is read against.
 */
async function openChannels(
  context: BenchContext,
  target: string,
  count: number,
  options: grpc.ChannelOptions,
) {
  const before = await settledHeap();
  const countersBefore = await readCounters(context.clientUrl);
  const started = Date.now();
  const clients: grpc.Client[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const client = new grpc.Client(target, grpc.credentials.createInsecure(), options);
      client.getChannel().getConnectivityState(true);
      clients.push(client);
    }
    const ready = grpc.connectivityState.READY;
    await until(
      () => clients.every((c) => c.getChannel().getConnectivityState(false) === ready),
      60_000,
      `${count} channels on ${target} to be READY`,
      20,
    );
    const readyMs = Date.now() - started;
    const after = await settledHeap();
    const countersAfter = await readCounters(context.clientUrl);
    return {
      perChannelKb: (after - before) / count / KB,
      readyMs,
      watchersOpened: countersAfter.watchers - countersBefore.watchers,
    } satisfies FanIn;
  } finally {
    for (const client of clients) client.close();
  }
}

/** Waits (bounded) until etcd counts `expected` watchers again: a cancelled watch is gone a moment later. */
async function settleWatchers(context: BenchContext, expected: number): Promise<number> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const watchers = (await readCounters(context.clientUrl)).watchers;
    if (watchers === expected || Date.now() > deadline) return watchers;
    await sleep(50);
  }
}

export const fanIn: Scenario = {
  id: 6,
  title: "fan-in: 1,000 channels on one target",
  target: "exactly 1 watch; ≤ 5 KB per channel",
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const count = context.quick ? 200 : 1_000;
    const service = "bench/fan-in";
    await context.client
      .put(`${service}/${context.echo.addr}`)
      .value(JSON.stringify({ Op: 0, Addr: context.echo.addr }));
    const etcdTarget = `${context.resolver.scheme}:///${service}`;
    const staticTarget = `ipv4:${context.echo.addr}`;
    const staticOptions = { "grpc.service_config": ROUND_ROBIN };
    try {
      // Warm-up: grpc-js's code paths and the echo server's connection.
      const watchersBefore = (await readCounters(context.clientUrl)).watchers;
      await openChannels(context, staticTarget, 20, staticOptions);
      await openChannels(context, etcdTarget, 20, {});
      await until(() => context.resolver.watchedServices === 0, 5_000, "the warm-up watch to be released");
      await settleWatchers(context, watchersBefore);

      context.log(`6: ${count} channels on ${staticTarget} (floor), then on ${etcdTarget}`);
      const floor = await openChannels(context, staticTarget, count, staticOptions);
      const etcd = await openChannels(context, etcdTarget, count, {});
      // The last channel's close releases the shared watch: etcd's watcher count returns to where it was.
      const watchersAfter = await settleWatchers(context, watchersBefore);
      const released = context.resolver.watchedServices === 0 && watchersAfter === watchersBefore;
      if (!released) {
        context.log(
          `6: after close: ${context.resolver.watchedServices} watched service(s), etcd watchers ${watchersAfter} (before: ${watchersBefore})`,
        );
      }
      const overheadKb = etcd.perChannelKb - floor.perChannelKb;
      return {
        measured:
          `${etcd.watchersOpened} etcd watch(es) for ${count} channels; ${round(overheadKb)} KB per channel over ` +
          `grpc-js's own ${round(floor.perChannelKb)} KB (static ipv4: target) = ${round(etcd.perChannelKb)} KB in all` +
          `${released ? "; watch released with the last channel" : "; watch NOT released after close"}`,
        pass: etcd.watchersOpened === 1 && overheadKb <= 5,
        data: {
          channels: count,
          etcdWatchesOpened: etcd.watchersOpened,
          perChannelKb: round(etcd.perChannelKb),
          staticTargetPerChannelKb: round(floor.perChannelKb),
          resolverOverheadPerChannelKb: round(overheadKb),
          allReadyMs: { etcd: etcd.readyMs, static: floor.readyMs },
          watchReleasedAfterClose: released,
        },
        details: [
          `${count} \`grpc.Client\`s on \`${etcdTarget}\` (one endpoint: the echo server), each connected and READY. ` +
            "Watches counted by etcd (`etcd_debugging_mvcc_watcher_total` delta); heap after full collections. The " +
            `floor is the same number of channels on \`${staticTarget}\` with round_robin, which needs no resolver.`,
          "",
          "| target | KB per channel | all READY after | etcd watches opened |",
          "|---|---:|---:|---:|",
          `| ${staticTarget} (round_robin) | ${round(floor.perChannelKb)} | ${floor.readyMs} ms | ${floor.watchersOpened} |`,
          `| ${etcdTarget} | ${round(etcd.perChannelKb)} | ${etcd.readyMs} ms | ${etcd.watchersOpened} |`,
          `| resolver's share | ${round(overheadKb)} | | |`,
        ],
      };
    } finally {
      await context.client.delete().prefix(`${service}/`);
    }
  },
};
