import { encodeEndpoint } from "@etcd-naming/codec";
import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import * as grpc from "@grpc/grpc-js";
import type { Etcd3 } from "etcd3";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { type Distribution, round, rounded, summarize } from "../stats.js";
import { elapsedMs, now, quietLogger, sampleAddr, sleep, within } from "../support.js";

/** A path from etcd to an observer: it calls `seen(addr)` when the endpoint's address reaches it. */
interface MeasuredPath {
  open(seen: (addr: string) => void): Promise<void>;
  close(): Promise<void>;
}

interface PropagationRun {
  raw: Distribution;
  measured: Distribution;
  overhead: Distribution;
  putAck: Distribution;
  p50Ratio: number;
}

/**
 * One put per sample, observed by the raw etcd3 watch and by the measured path in the same process:
 * both timestamps are taken against the same put-send time, so the overhead of each sample is measured
 * under the same machine noise as its floor.
 */
async function interleave(
  client: Etcd3,
  service: string,
  path: MeasuredPath,
  options: { samples: number; warmup: number; gapMs: number },
): Promise<PropagationRun> {
  const key = `${service}/endpoint`;
  let expected = "";
  let expectedValue = "";
  let sentAt = 0n;
  let rawAt: bigint | undefined;
  let measuredAt: bigint | undefined;
  let done = Promise.withResolvers<void>();
  const check = () => {
    if (rawAt !== undefined && measuredAt !== undefined) done.resolve();
  };

  const raw = await client.watch().prefix(`${service}/`).create();
  raw.on("put", (kv) => {
    if (rawAt === undefined && kv.value.toString() === expectedValue) {
      rawAt = now();
      check();
    }
  });
  await path.open((addr) => {
    if (measuredAt === undefined && addr === expected) {
      measuredAt = now();
      check();
    }
  });

  const rawMs: number[] = [];
  const measuredMs: number[] = [];
  const overheadMs: number[] = [];
  const ackMs: number[] = [];
  try {
    for (let i = 0; i < options.warmup + options.samples; i++) {
      expected = sampleAddr(i);
      expectedValue = encodeEndpoint({ addr: expected });
      rawAt = undefined;
      measuredAt = undefined;
      done = Promise.withResolvers<void>();
      sentAt = now();
      const ack = client
        .put(key)
        .value(expectedValue)
        .exec()
        .then(() => now());
      await within(done.promise, 10_000, `sample ${i} to reach both watchers`);
      const ackedAt = await ack;
      if (i >= options.warmup) {
        const rawLatency = elapsedMs(sentAt, rawAt!);
        const measuredLatency = elapsedMs(sentAt, measuredAt!);
        rawMs.push(rawLatency);
        measuredMs.push(measuredLatency);
        overheadMs.push(measuredLatency - rawLatency);
        ackMs.push(elapsedMs(sentAt, ackedAt));
      }
      if (options.gapMs > 0) await sleep(options.gapMs);
    }
  } finally {
    await within(raw.cancel(), 2_000, "the raw watch to cancel").catch(() => undefined);
    await path.close();
    await client.delete().prefix(`${service}/`);
  }
  const rawDistribution = summarize(rawMs);
  const measuredDistribution = summarize(measuredMs);
  return {
    raw: rawDistribution,
    measured: measuredDistribution,
    overhead: summarize(overheadMs),
    putAck: summarize(ackMs),
    p50Ratio: measuredDistribution.p50 / rawDistribution.p50,
  };
}

function watcherPath(client: Etcd3, service: string, coalesceMs: number | undefined): MeasuredPath {
  let close = async () => {};
  return {
    async open(seen) {
      const watcher = watchService(createEtcd3Source(client), service, {
        logger: quietLogger,
        shared: false,
        ...(coalesceMs === undefined ? {} : { coalesceMs }),
      });
      watcher.on("update", ({ added, updated }) => {
        for (const endpoint of added) seen(endpoint.addr);
        for (const endpoint of updated) seen(endpoint.addr);
      });
      await within(watcher.ready(), 10_000, "the watcher's first list");
      close = () => watcher.close();
    },
    close: () => close(),
  };
}

/** The resolver as grpc-js drives it: created through grpc's registry, its listener is what a channel gets. */
function resolverPath(scheme: string, service: string): MeasuredPath {
  let resolver: grpc.experimental.Resolver | undefined;
  return {
    async open(seen) {
      const listener = (endpoints: { ok: boolean; value?: grpc.experimental.Endpoint[] }) => {
        if (endpoints.ok && endpoints.value !== undefined) {
          for (const endpoint of endpoints.value) {
            const address = endpoint.addresses[0] as { host?: string; port?: number } | undefined;
            if (address?.host !== undefined) seen(`${address.host}:${address.port}`);
          }
        }
        return true;
      };
      resolver = grpc.experimental.createResolver(
        { scheme, authority: "", path: service },
        listener as unknown as grpc.experimental.ResolverListener,
        {},
      );
      resolver.updateResolution();
      // The service is empty at first, so the resolver stays silent until the first put; this gives its
      // watch time to be established before sampling starts.
      await sleep(50);
    },
    async close() {
      resolver?.destroy();
    },
  };
}

interface BurstRun {
  changes: number;
  /** Listener calls from the first put of the burst until the channel had every endpoint. */
  calls: number;
  /** From the first put sent to the listener call that completed the set. */
  convergedMs: number;
}

/**
 * 1,000 puts of new keys, all sent at once after a quiet spell, to a resolver with its defaults: how many
 * times the listener (a channel, for grpc-js) hears of them. Leading-edge delivery sends the first at once
 * and gathers the rest; it must not turn into an update per change.
 */
async function burst(client: Etcd3, scheme: string, service: string, changes: number): Promise<BurstRun> {
  let calls = 0;
  let largest = 0;
  let startedAt = 0n;
  let convergedAt: bigint | undefined;
  const converged = Promise.withResolvers<void>();
  const seeded = Promise.withResolvers<void>();
  const listener = (endpoints: { ok: boolean; value?: grpc.experimental.Endpoint[] }) => {
    const size = endpoints.ok ? (endpoints.value?.length ?? 0) : 0;
    if (size === 1) seeded.resolve();
    if (startedAt === 0n) return true;
    calls++;
    largest = Math.max(largest, size);
    if (size === changes + 1 && convergedAt === undefined) {
      convergedAt = now();
      converged.resolve();
    }
    return true;
  };
  await client.put(`${service}/seed`).value(encodeEndpoint({ addr: sampleAddr(0) }));
  const resolver = grpc.experimental.createResolver(
    { scheme, authority: "", path: service },
    listener as unknown as grpc.experimental.ResolverListener,
    {},
  );
  try {
    resolver.updateResolution();
    await within(seeded.promise, 10_000, "the burst's service to resolve");
    // Past the spacing of the channel's updates (100 ms), so the burst starts after a quiet spell.
    await sleep(150);
    startedAt = now();
    const puts: Promise<unknown>[] = [];
    for (let i = 1; i <= changes; i++) {
      puts.push(
        client
          .put(`${service}/b${i}`)
          .value(encodeEndpoint({ addr: sampleAddr(i) }))
          .exec(),
      );
    }
    await Promise.all(puts);
    await within(
      converged.promise,
      30_000,
      `the listener to hear all ${changes} changes (largest ${largest})`,
    );
    // Anything still queued (a trailing update) would show up here: the set is complete, so none should.
    await sleep(300);
    return { changes, calls, convergedMs: elapsedMs(startedAt, convergedAt!) };
  } finally {
    resolver.destroy();
    await client.delete().prefix(`${service}/`);
  }
}

function row(run: PropagationRun): Record<string, unknown> {
  return {
    rawMs: rounded(run.raw),
    measuredMs: rounded(run.measured),
    overheadMs: rounded(run.overhead),
    putAckMs: rounded(run.putAck),
    p50Ratio: round(run.p50Ratio),
  };
}

function detailTable(label: string, runs: ReadonlyArray<[string, PropagationRun]>): string[] {
  const lines = [`| ${label} | n | min | p50 | p90 | p99 | max |`, "|---|---:|---:|---:|---:|---:|---:|"];
  const line = (name: string, d: Distribution) =>
    `| ${name} | ${d.n} | ${round(d.min)} | ${round(d.p50)} | ${round(d.p90)} | ${round(d.p99)} | ${round(d.max)} |`;
  for (const [name, run] of runs) {
    lines.push(line(`${name}: raw etcd3 watch`, run.raw));
    lines.push(line(`${name}: measured`, run.measured));
    lines.push(line(`${name}: overhead (measured − raw)`, run.overhead));
    lines.push(line(`${name}: put acknowledged`, run.putAck));
  }
  return lines;
}

function outcome(
  main: PropagationRun,
  defaults: PropagationRun,
  limits: { p50: number; p99: number },
  names: [string, string],
): ScenarioOutcome {
  const o = main.overhead;
  return {
    measured:
      `overhead p50 ${round(o.p50)} ms, p99 ${round(o.p99)} ms ` +
      `(raw p50 ${round(main.raw.p50)} / p99 ${round(main.raw.p99)} ms; measured p50 ${round(main.measured.p50)} / ` +
      `p99 ${round(main.measured.p99)} ms; p50 ratio ${round(main.p50Ratio)}×)`,
    pass: o.p50 <= limits.p50 && o.p99 <= limits.p99,
    data: { [names[0]]: row(main), [names[1]]: row(defaults) },
    details: detailTable("ms from put sent", [
      [names[0], main],
      [names[1], defaults],
    ]),
  };
}

export const watcherPropagation: Scenario = {
  id: 1,
  title: "propagation: put → watcher update",
  target: "overhead ≤ 0.5 ms p50, ≤ 1 ms p99",
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const samples = context.quick ? 200 : 2_000;
    const warmup = context.quick ? 20 : 200;
    context.log(`1: ${samples} samples, coalesceMs 0`);
    const zero = await interleave(
      context.client,
      "bench/propagation-watcher",
      watcherPath(context.client, "bench/propagation-watcher", 0),
      { samples, warmup, gapMs: 0 },
    );
    // Samples spaced past the default window (5 ms): each is an isolated change, which leading-edge
    // delivery hands over at once. Back to back, a sample would land in the window after the previous one.
    const defaultSamples = context.quick ? 50 : 300;
    context.log(`1: ${defaultSamples} samples, default coalesceMs (5), 10 ms apart`);
    const defaults = await interleave(
      context.client,
      "bench/propagation-watcher-default",
      watcherPath(context.client, "bench/propagation-watcher-default", undefined),
      { samples: defaultSamples, warmup: 10, gapMs: 10 },
    );
    return outcome(zero, defaults, { p50: 0.5, p99: 1 }, ["coalesceMs0", "coalesceMsDefault"]);
  },
};

export const resolverPropagation: Scenario = {
  id: 2,
  title: "propagation: put → grpc-js resolver listener",
  target: "overhead ≤ 1 ms p50, ≤ 2 ms p99; burst of 1,000 changes → ≤ 5 listener calls",
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const samples = context.quick ? 200 : 2_000;
    const warmup = context.quick ? 20 : 200;
    context.log(`2: ${samples} samples, etcd-zero: (coalesceMs 0, no update spacing)`);
    const zero = await interleave(
      context.resolverClient,
      "bench/propagation-resolver",
      resolverPath(context.zeroResolver.scheme, "bench/propagation-resolver"),
      { samples, warmup, gapMs: 0 },
    );
    // The defaults space a channel's updates 100 ms apart: samples are spaced more than that, so each one
    // is an isolated change (delivered at once) rather than one waiting behind the previous update.
    const defaultSamples = context.quick ? 10 : 100;
    context.log(`2: ${defaultSamples} samples, etcd: defaults, 110 ms apart`);
    const defaults = await interleave(
      context.resolverClient,
      "bench/propagation-resolver-default",
      resolverPath(context.resolver.scheme, "bench/propagation-resolver-default"),
      { samples: defaultSamples, warmup: 3, gapMs: 110 },
    );
    const changes = context.quick ? 200 : 1_000;
    context.log(`2: a burst of ${changes} puts, etcd: defaults`);
    const bursts = await burst(
      context.resolverClient,
      context.resolver.scheme,
      "bench/propagation-burst",
      changes,
    );
    const result = outcome(zero, defaults, { p50: 1, p99: 2 }, ["zeroSpacing", "defaults"]);
    const burstPass = bursts.calls <= 5;
    return {
      ...result,
      measured:
        `${result.measured}; defaults: isolated change overhead p50 ${round(defaults.overhead.p50)} ms; ` +
        `burst of ${bursts.changes} puts → ${bursts.calls} listener calls (all heard after ${round(bursts.convergedMs)} ms)`,
      pass: result.pass === true && burstPass,
      data: { ...result.data, burst: bursts },
      details: [
        ...result.details,
        "",
        `Burst: ${bursts.changes} puts of new keys sent at once, after a quiet spell, to \`etcd:\` with its defaults ` +
          `→ ${bursts.calls} listener calls; the last completed the set ${round(bursts.convergedMs)} ms after the first put was sent.`,
      ],
    };
  },
};
