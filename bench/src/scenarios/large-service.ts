import { createEtcd3Source, watchService } from "@etcd-naming/watcher";
import * as grpc from "@grpc/grpc-js";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { deleteService, putEndpoints } from "../setup.js";
import { round } from "../stats.js";
import { elapsedMs, now, quietLogger, settledHeap, within } from "../support.js";

const ENDPOINTS = 10_000;
const MB = 1024 * 1024;
/** The target: first resolution of 10,000 endpoints ÷ a raw range read, for the worse path. */
const RATIO_TARGET = 1.3;

const TITLE = "first resolution of a 10,000-endpoint service";

interface Measurement {
  ms: number;
  retainedMb: number;
}

const median = (values: readonly number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * A 10,000-endpoint service resolved from nothing: the raw floor is one etcd3 range read of the prefix;
 * the watcher's first update includes its (paginated, linearizable) list, decoding and the sorted set;
 * the resolver's first listener call adds address parsing and the grpc-js endpoint list. Retained heap
 * is measured after full collections, with the watcher (or resolver) still held.
 */
export const largeService: Scenario = {
  id: 4,
  title: TITLE,
  target: `≤ 300 ms, ≤ 30 MB retained; first resolution ÷ raw range read ≤ ${RATIO_TARGET}×`,
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const service = "bench/large";
    const rounds = context.quick ? 1 : 3;
    const { client } = context;
    const loadStart = now();
    await putEndpoints(client, service, ENDPOINTS);
    const loadMs = elapsedMs(loadStart, now());
    context.log(
      `4: ${ENDPOINTS} endpoints put in ${Math.round(loadMs)} ms; ${rounds} measured round(s) + 1 warm-up`,
    );

    const raw: number[] = [];
    const watcher: Measurement[] = [];
    const resolver: Measurement[] = [];
    try {
      for (let r = 0; r <= rounds; r++) {
        const rawStart = now();
        const kvs = await client.getAll().prefix(`${service}/`).strings();
        const rawMs = elapsedMs(rawStart, now());
        if (Object.keys(kvs).length !== ENDPOINTS)
          throw new Error(`raw read saw ${Object.keys(kvs).length} keys`);

        const watcherResult = await measureWatcher(context, service);
        const resolverResult = await measureResolver(context.resolver.scheme, service);
        if (r === 0) continue;
        raw.push(rawMs);
        watcher.push(watcherResult);
        resolver.push(resolverResult);
      }
    } finally {
      await deleteService(client, service);
    }

    const w = { ms: median(watcher.map((m) => m.ms)), retainedMb: median(watcher.map((m) => m.retainedMb)) };
    const g = {
      ms: median(resolver.map((m) => m.ms)),
      retainedMb: median(resolver.map((m) => m.retainedMb)),
    };
    const rawMs = median(raw);
    const worstMs = Math.max(w.ms, g.ms);
    const worstMb = Math.max(w.retainedMb, g.retainedMb);
    // The grpc-js listener sits on top of the watcher, so it is normally the worse of the two paths.
    const worst = g.ms >= w.ms ? "grpc-js listener" : "watcher";
    const ratio = worstMs / rawMs;
    const absolutePass = worstMs <= 300 && worstMb <= 30;
    const ratioPass = ratio <= RATIO_TARGET;
    const rows = (name: string, list: readonly Measurement[]) =>
      list.map((m, i) => `| ${name} | ${i + 1} | ${round(m.ms)} | ${round(m.retainedMb)} |`);
    const measured =
      `watcher ${round(w.ms)} ms / ${round(w.retainedMb)} MB; grpc-js listener ${round(g.ms)} ms / ` +
      `${round(g.retainedMb)} MB (raw etcd3 range read ${round(rawMs)} ms; ratio ${round(w.ms / rawMs)}× / ${round(g.ms / rawMs)}×)`;
    return {
      measured,
      pass: absolutePass && ratioPass,
      rows: [
        { title: TITLE, measured, target: "≤ 300 ms, ≤ 30 MB retained", pass: absolutePass },
        {
          title: "10,000-endpoint first resolution ÷ raw range read",
          measured:
            `${round(ratio)}× (${worst}): ${round(worstMs)} ms ÷ raw etcd3 range read ${round(rawMs)} ms, ` +
            `medians of ${rounds} round(s)`,
          target: `≤ ${RATIO_TARGET}×`,
          pass: ratioPass,
        },
      ],
      data: {
        endpoints: ENDPOINTS,
        loadMs: round(loadMs),
        rounds,
        rawRangeReadMs: raw.map(round),
        watcher: watcher.map((m) => ({ ms: round(m.ms), retainedMb: round(m.retainedMb) })),
        resolver: resolver.map((m) => ({ ms: round(m.ms), retainedMb: round(m.retainedMb) })),
        median: { rawMs: round(rawMs), watcher: w, resolver: g },
        ratioToRawRangeRead: { path: worst, ratio: round(ratio), target: RATIO_TARGET },
      },
      details: [
        `${ENDPOINTS} endpoints put in ${Math.round(loadMs)} ms (transactions of 128). Medians of ${rounds} round(s) after a warm-up round; raw etcd3 range read of the prefix: ${raw.map((ms) => round(ms)).join(", ")} ms.`,
        "",
        "| path | round | ms to first update | retained MB |",
        "|---|---:|---:|---:|",
        ...rows("watcher (watchService)", watcher),
        ...rows("grpc-js resolver listener", resolver),
      ],
    };
  },
};

async function measureWatcher(context: BenchContext, service: string): Promise<Measurement> {
  const before = await settledHeap();
  const start = now();
  const watcher = watchService(createEtcd3Source(context.client), service, {
    logger: quietLogger,
    shared: false,
  });
  const first = Promise.withResolvers<number>();
  watcher.on("update", (update) => first.resolve(update.endpoints.length));
  const count = await within(first.promise, 30_000, "the watcher's first update");
  const ms = elapsedMs(start, now());
  if (count !== ENDPOINTS) throw new Error(`the watcher's first update had ${count} endpoints`);
  const after = await settledHeap();
  await watcher.close();
  return { ms, retainedMb: (after - before) / MB };
}

async function measureResolver(scheme: string, service: string): Promise<Measurement> {
  const before = await settledHeap();
  const first = Promise.withResolvers<number>();
  const start = now();
  const resolver = grpc.experimental.createResolver(
    { scheme, authority: "", path: service },
    ((endpoints: { ok: boolean; value?: unknown[] }) => {
      first.resolve(endpoints.ok ? (endpoints.value?.length ?? 0) : -1);
      return true;
    }) as unknown as grpc.experimental.ResolverListener,
    {},
  );
  resolver.updateResolution();
  const count = await within(first.promise, 30_000, "the resolver's first listener call");
  const ms = elapsedMs(start, now());
  if (count !== ENDPOINTS) throw new Error(`the resolver's first listener call had ${count} endpoints`);
  const after = await settledHeap();
  resolver.destroy();
  return { ms, retainedMb: (after - before) / MB };
}
