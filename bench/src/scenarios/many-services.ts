import { readEtcdMetrics } from "@etcd-naming/etcd-fixture";
import { type ChildHandle, spawnTsChild } from "../children.js";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { round } from "../stats.js";
import { sleep } from "../support.js";

/** Services watched: 500, or 100 in a quick run (which only proves the harness). */
const servicesFor = (quick: boolean) => (quick ? 100 : 500);
const CHANNELS_PER_SERVICE = 2;
const RATE = 100;
const PREFIX = "bench/many";
/** The writer's stride over the services (see children/many-services-writer.ts). */
const STRIDE = 7919;
const MB = 1024 * 1024;

type Mode = "raw" | "resolver";

interface Mark {
  type: "mark";
  at: number;
  cpuMs: number;
  cpuAfterMarkMs: number;
  atAfterMark: number;
  rss: number;
  heap: number;
  updates: number;
  servicesUpdated: number;
  perService: number[];
}

interface EtcdSide {
  watchers: number;
  watchStreams: number;
  goroutines: number;
  cpuSeconds: number;
  rss: number;
  /** Messages etcd received on Watch streams (creates, progress requests, cancels). */
  watchMessagesIn: number;
  /** Messages etcd sent on Watch streams (events, progress reports). */
  watchMessagesOut: number;
}

async function etcdSide(clientUrl: string): Promise<EtcdSide> {
  const metrics = await readEtcdMetrics(clientUrl, { timeoutMs: 5_000 });
  const watch = { grpc_method: "Watch" };
  return {
    watchers: metrics.value("etcd_debugging_mvcc_watcher_total"),
    watchStreams: metrics.value("etcd_debugging_mvcc_watch_stream_total"),
    goroutines: metrics.value("go_goroutines"),
    cpuSeconds: metrics.value("process_cpu_seconds_total"),
    rss: metrics.value("process_resident_memory_bytes"),
    watchMessagesIn: metrics.sum("grpc_server_msg_received_total", watch),
    watchMessagesOut: metrics.sum("grpc_server_msg_sent_total", watch),
  };
}

/** Asks the watcher child for a mark (SIGUSR2) and waits for it. */
async function mark(child: ChildHandle): Promise<Mark> {
  const next = child.next<Mark>("mark", 30_000);
  process.kill(child.pid!, "SIGUSR2");
  return next;
}

/** The share of one core the child used between two marks, in %. */
const cpuPercent = (from: Mark, to: Mark) =>
  ((to.cpuMs - from.cpuAfterMarkMs) / (to.at - from.atAfterMark)) * 100;

interface Window {
  cpuPercent: number;
  /** etcd's CPU over the window, in % of one core. */
  etcdCpuPercent: number;
  watchMessagesInPerS: number;
  watchMessagesOutPerS: number;
  rssMb: number;
  heapMb: number;
  etcdRssMb: number;
}

function window(from: Mark, to: Mark, etcdFrom: EtcdSide, etcdTo: EtcdSide, wallMs: number): Window {
  const perS = (n: number) => (n / wallMs) * 1000;
  return {
    cpuPercent: round(cpuPercent(from, to)),
    etcdCpuPercent: round(((etcdTo.cpuSeconds - etcdFrom.cpuSeconds) * 100_000) / wallMs),
    watchMessagesInPerS: round(perS(etcdTo.watchMessagesIn - etcdFrom.watchMessagesIn)),
    watchMessagesOutPerS: round(perS(etcdTo.watchMessagesOut - etcdFrom.watchMessagesOut)),
    rssMb: round(to.rss / MB),
    heapMb: round(to.heap / MB),
    etcdRssMb: round(etcdTo.rss / MB),
  };
}

interface Measured {
  mode: Mode;
  setupMs: number;
  watchersOpened: number;
  watchStreamsOpened: number;
  etcdGoroutinesAdded: number;
  ready: { rssMb: number; heapMb: number };
  idle: Window;
  load: Window & { changes: number; failed: number; delivered: number };
  /** Services whose update count differs from the changes written to them (0: each change reached only its own). */
  misdelivered: number;
}

/** Waits, with a deadline, until etcd's watcher count stops moving (a closed watch is gone a moment later). */
async function settledEtcd(clientUrl: string): Promise<EtcdSide> {
  let last = await etcdSide(clientUrl);
  const deadline = Date.now() + 10_000;
  for (;;) {
    await sleep(200);
    const now = await etcdSide(clientUrl);
    if ((now.watchers === last.watchers && now.watchStreams === last.watchStreams) || Date.now() > deadline)
      return now;
    last = now;
  }
}

async function measure(context: BenchContext, mode: Mode, idleMs: number, loadMs: number): Promise<Measured> {
  const services = servicesFor(context.quick);
  const host = context.etcd.endpoints[0]!;
  const before = await settledEtcd(context.clientUrl);
  const child = spawnTsChild(
    "many-services-watcher.ts",
    [host, PREFIX, String(services), mode, String(CHANNELS_PER_SERVICE)],
    { nodeArgs: ["--expose-gc"] },
  );
  try {
    const ready = await child.next<{ type: "ready"; setupMs: number }>("ready", 300_000);
    const opened = await settledEtcd(context.clientUrl);
    context.log(`11: ${mode}: ready after ${ready.setupMs} ms; idle for ${idleMs} ms`);

    const idleFrom = await mark(child);
    const etcdIdleFrom = await etcdSide(context.clientUrl);
    const idleStarted = Date.now();
    await sleep(idleMs);
    const idleTo = await mark(child);
    const etcdIdleTo = await etcdSide(context.clientUrl);
    const idle = window(idleFrom, idleTo, etcdIdleFrom, etcdIdleTo, Date.now() - idleStarted);

    context.log(`11: ${mode}: ${RATE} changes/s for ${loadMs} ms`);
    const writer = spawnTsChild("many-services-writer.ts", [
      host,
      PREFIX,
      String(services),
      String(RATE),
      String(loadMs),
      context.echo.addr,
    ]);
    let done: { issued: number; failed: number; elapsedMs: number };
    let loadFrom: Mark;
    let etcdLoadFrom: EtcdSide;
    let loadStarted: number;
    try {
      const started = writer.next("started", 30_000);
      const finished = writer.next<{ type: "done"; issued: number; failed: number; elapsedMs: number }>(
        "done",
        loadMs + 60_000,
      );
      finished.catch(() => undefined);
      await started;
      loadFrom = await mark(child);
      etcdLoadFrom = await etcdSide(context.clientUrl);
      loadStarted = Date.now();
      done = await finished;
    } finally {
      await writer.kill();
    }
    // Every change is written; wait (bounded) until the last ones arrived before the window closes.
    let loadTo = await mark(child);
    const deadline = Date.now() + 10_000;
    while (loadTo.updates < done.issued - done.failed && Date.now() < deadline) {
      await sleep(200);
      loadTo = await mark(child);
    }
    const etcdLoadTo = await etcdSide(context.clientUrl);
    const load = window(loadFrom, loadTo, etcdLoadFrom, etcdLoadTo, Date.now() - loadStarted);

    const expected = new Array<number>(services).fill(0);
    for (let n = 0; n < done.issued; n++) expected[(n * STRIDE) % services]!++;
    const misdelivered = expected.filter((count, i) => loadTo.perService[i] !== count).length;
    return {
      mode,
      setupMs: ready.setupMs,
      watchersOpened: opened.watchers - before.watchers,
      watchStreamsOpened: opened.watchStreams - before.watchStreams,
      etcdGoroutinesAdded: opened.goroutines - before.goroutines,
      ready: { rssMb: round(idleFrom.rss / MB), heapMb: round(idleFrom.heap / MB) },
      idle,
      load: { ...load, changes: done.issued, failed: done.failed, delivered: loadTo.updates },
      misdelivered,
    };
  } finally {
    await child.kill();
  }
}

const ratio = (a: number, b: number) => (b === 0 ? "–" : `${round(a / b)}×`);

export const manyServices: Scenario = {
  id: 11,
  title: "500 services watched from one process",
  target: "1 etcd watcher per service; each change reaches its own service only; CPU at rest ≤ 2 % of a core",
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const idleMs = context.quick ? 3_000 : 20_000;
    const loadMs = context.quick ? 3_000 : 30_000;
    const services = servicesFor(context.quick);
    const put = (i: number) =>
      context.client
        .put(`${PREFIX}/s${i}/e0`)
        .value(JSON.stringify({ Op: 0, Addr: context.echo.addr }))
        .exec();
    try {
      for (let i = 0; i < services; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, services - i) }, (_, j) => put(i + j)));
      }
      const raw = await measure(context, "raw", idleMs, loadMs);
      const ours = await measure(context, "resolver", idleMs, loadMs);
      const row = (label: string, pick: (m: Measured) => number, unit = "") =>
        `| ${label} | ${pick(raw)}${unit} | ${pick(ours)}${unit} | ${ratio(pick(ours), pick(raw))} |`;
      const pass =
        ours.watchersOpened === services &&
        ours.misdelivered === 0 &&
        ours.load.failed === 0 &&
        ours.idle.cpuPercent <= 2;
      return {
        measured:
          `${ours.watchersOpened} etcd watchers on ${ours.watchStreamsOpened} watch streams ` +
          `(raw etcd3: ${raw.watchersOpened} on ${raw.watchStreamsOpened}); CPU ${ours.idle.cpuPercent} % at rest ` +
          `(raw ${raw.idle.cpuPercent} %), ${ours.load.cpuPercent} % under ${RATE} changes/s (raw ${raw.load.cpuPercent} %); ` +
          `RSS ${ours.load.rssMb} MB (raw ${raw.load.rssMb} MB); ${ours.misdelivered} service(s) got another's change`,
        pass,
        data: {
          services,
          channelsPerService: CHANNELS_PER_SERVICE,
          rate: RATE,
          idleMs,
          loadMs,
          raw,
          resolver: ours,
        },
        details: [
          `${services} services (\`${PREFIX}/s0\` … \`s${services - 1}\`, one endpoint each: the echo server), watched from ` +
            "one child process through one etcd3 client. **Resolver**: the `etcd:` resolver with " +
            `${CHANNELS_PER_SERVICE} \`grpc.Client\` channels per service (${services * CHANNELS_PER_SERVICE} in all), each ` +
            "connected and READY. **Raw**: the baseline, the same prefixes with one raw etcd3 watch each (etcd3 " +
            `multiplexes them on one stream). At rest: ${idleMs / 1000} s with no writes. Under load: a writer process ` +
            `puts ${RATE} changes/s for ${loadMs / 1000} s, spread evenly over the services (a new metadata generation ` +
            "on the service's endpoint). CPU is user + system of the watching process as a share of one core; heap " +
            "after full collections. Watchers, watch streams and goroutines are etcd's own counts (`/metrics`), " +
            "added by the process; etcd's CPU and messages on Watch streams are over the same windows. " +
            "“Misdelivered” counts services whose updates differ from the changes written to them.",
          "",
          "| | raw etcd3 watches | `etcd:` resolver | ratio |",
          "|---|---:|---:|---:|",
          row("etcd watchers added", (m) => m.watchersOpened),
          row("etcd watch streams added", (m) => m.watchStreamsOpened),
          row("etcd goroutines added", (m) => m.etcdGoroutinesAdded),
          row("ready after (list + watch, channels READY)", (m) => m.setupMs, " ms"),
          row("RSS when ready", (m) => m.ready.rssMb, " MB"),
          row("heap when ready", (m) => m.ready.heapMb, " MB"),
          row("CPU at rest (% of a core)", (m) => m.idle.cpuPercent, " %"),
          row("etcd CPU at rest", (m) => m.idle.etcdCpuPercent, " %"),
          row("Watch messages to etcd at rest, per s", (m) => m.idle.watchMessagesInPerS),
          row("Watch messages from etcd at rest, per s", (m) => m.idle.watchMessagesOutPerS),
          row(`CPU under ${RATE} changes/s`, (m) => m.load.cpuPercent, " %"),
          row(`etcd CPU under ${RATE} changes/s`, (m) => m.load.etcdCpuPercent, " %"),
          row("RSS after the load", (m) => m.load.rssMb, " MB"),
          row("heap after the load", (m) => m.load.heapMb, " MB"),
          row("etcd RSS after the load", (m) => m.load.etcdRssMb, " MB"),
          row("changes written", (m) => m.load.changes),
          row("updates received", (m) => m.load.delivered),
          row("misdelivered services", (m) => m.misdelivered),
        ],
      };
    } finally {
      await context.client.delete().prefix(`${PREFIX}/`);
    }
  },
};
