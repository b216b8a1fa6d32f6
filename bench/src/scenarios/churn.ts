import { monitorEventLoopDelay } from "node:perf_hooks";
import * as grpc from "@grpc/grpc-js";
import type { BenchContext, Scenario, ScenarioOutcome } from "../context.js";
import { deleteService, putEndpoints } from "../setup.js";
import { round } from "../stats.js";
import { elapsedMs, now, sleep, until, within } from "../support.js";

const KEYS = 2_000;
const RATE = 1_000;
/** The target: the resolver's CPU under the churn ÷ a raw etcd3 watch's CPU on the same churn. */
const CPU_RATIO_TARGET = 1.5;

const TITLE = "churn: 1,000 changes/s for 30 s on a 2,000-endpoint service";

interface WriterDone {
  type: "done";
  issued: number;
  /** Writes that changed something: puts, and deletes that found their key. */
  effective: number;
  skipped: number;
  failed: number;
  elapsedMs: number;
}

interface Window {
  cpuPercent: number;
  eventLoopP99Ms: number;
  eventLoopMaxMs: number;
  wallMs: number;
  writer: WriterDone;
}

/**
 * Runs the writer child and measures this process while it writes: CPU from `process.cpuUsage()` deltas
 * (user + system, as a share of one core) and event-loop delay from `monitorEventLoopDelay`.
 */
async function churnWindow(context: BenchContext, service: string, durationMs: number): Promise<Window> {
  const child = context.spawnChild("churn-writer.ts", [
    context.etcd.endpoints[0]!,
    service,
    String(KEYS),
    String(RATE),
    String(durationMs),
  ]);
  try {
    const started = child.next("started", 30_000);
    const done = child.next<WriterDone>("done", durationMs + 60_000);
    // Observed below; if "started" never comes, this one must not become an unhandled rejection.
    done.catch(() => undefined);
    await started;
    const histogram = monitorEventLoopDelay({ resolution: 10 });
    histogram.enable();
    const cpuBefore = process.cpuUsage();
    const wallBefore = now();
    const writer = await done;
    const cpu = process.cpuUsage(cpuBefore);
    const wallMs = elapsedMs(wallBefore, now());
    histogram.disable();
    return {
      cpuPercent: ((cpu.user + cpu.system) / 1000 / wallMs) * 100,
      eventLoopP99Ms: histogram.percentile(99) / 1e6,
      eventLoopMaxMs: histogram.max / 1e6,
      wallMs,
      writer,
    };
  } finally {
    await child.kill();
  }
}

export const churn: Scenario = {
  id: 5,
  title: TITLE,
  target: `CPU ≤ 25 % of a core; event-loop p99 ≤ 20 ms; CPU ÷ raw etcd3 watch CPU ≤ ${CPU_RATIO_TARGET}×`,
  async run(context: BenchContext): Promise<ScenarioOutcome> {
    const durationMs = context.quick ? 3_000 : 30_000;
    const floorDurationMs = context.quick ? 3_000 : 10_000;
    const service = "bench/churn";
    await putEndpoints(context.client, service, KEYS);
    let listenerCalls = 0;
    let lastAddrs: string[] = [];
    let resolver: grpc.experimental.Resolver | undefined;
    try {
      // The floor: a raw etcd3 watch receiving the same stream of events, and nothing else.
      context.log(`5: floor, raw etcd3 watch, ${floorDurationMs} ms at ${RATE}/s`);
      const raw = await context.resolverClient.watch().prefix(`${service}/`).create();
      let rawEvents = 0;
      raw.on("data", (response) => {
        rawEvents += response.events.length;
      });
      const floor = await churnWindow(context, service, floorDurationMs);
      // The writer reports once etcd acknowledged every write; the last events may still be on the way.
      await until(() => rawEvents >= floor.writer.effective, 5_000, "the raw watch's last events").catch(
        () => undefined,
      );
      await within(raw.cancel(), 2_000, "the raw watch to cancel").catch(() => undefined);
      // Back to exactly 2,000 endpoints: the floor's churn may have ended with one deleted.
      await putEndpoints(context.client, service, KEYS);

      const first = Promise.withResolvers<void>();
      resolver = grpc.experimental.createResolver(
        { scheme: context.resolver.scheme, authority: "", path: service },
        ((endpoints: { ok: boolean; value?: grpc.experimental.Endpoint[] }) => {
          listenerCalls++;
          if (endpoints.ok && endpoints.value !== undefined) {
            lastAddrs = endpoints.value.map((e) => {
              const a = e.addresses[0] as { host: string; port: number };
              return `${a.host}:${a.port}`;
            });
            if (lastAddrs.length === KEYS) first.resolve();
          }
          return true;
        }) as unknown as grpc.experimental.ResolverListener,
        {},
      );
      resolver.updateResolution();
      await within(first.promise, 30_000, "the resolver's first update");
      listenerCalls = 0;

      context.log(`5: grpc-js resolver (defaults), ${durationMs} ms at ${RATE}/s`);
      const measured = await churnWindow(context, service, durationMs);
      const callsDuring = listenerCalls;

      // Converged: the last list grpc-js got is what etcd holds once the writer has stopped.
      const expected = async () => {
        const kvs = await context.client.getAll().prefix(`${service}/`).strings();
        return Object.values(kvs)
          .map((value) => (JSON.parse(value) as { Addr: string }).Addr)
          .sort();
      };
      const want = await expected();
      let converged = false;
      const deadline = Date.now() + 10_000;
      while (!converged && Date.now() < deadline) {
        converged = JSON.stringify([...lastAddrs].sort()) === JSON.stringify(want);
        if (!converged) await sleep(50);
      }

      const m = measured;
      const writesPerSecond = (m.writer.issued / m.writer.elapsedMs) * 1000;
      const cpuRatio = m.cpuPercent / floor.cpuPercent;
      const absolutePass = m.cpuPercent <= 25 && m.eventLoopP99Ms <= 20 && converged;
      const ratioPass = cpuRatio <= CPU_RATIO_TARGET;
      const measuredText =
        `CPU ${round(m.cpuPercent)} % of a core (raw etcd3 watch alone: ${round(floor.cpuPercent)} %); ` +
        `event-loop p99 ${round(m.eventLoopP99Ms)} ms; ${callsDuring} updates delivered to grpc-js for ` +
        `${m.writer.issued} changes (${round(writesPerSecond)}/s achieved)${converged ? "; converged" : "; NOT converged"}`;
      return {
        measured: measuredText,
        pass: absolutePass && ratioPass,
        rows: [
          {
            title: TITLE,
            measured: measuredText,
            target: "CPU ≤ 25 % of a core; event-loop p99 ≤ 20 ms",
            pass: absolutePass,
          },
          {
            title: `churn ${RATE.toLocaleString("en-US")}/s on ${KEYS.toLocaleString("en-US")} endpoints: CPU ÷ raw etcd3 watch CPU`,
            measured:
              `${round(cpuRatio)}×: resolver ${round(m.cpuPercent)} % of a core, raw etcd3 watch alone ` +
              `${round(floor.cpuPercent)} % (same writer, same rate)`,
            target: `≤ ${CPU_RATIO_TARGET}×`,
            pass: ratioPass,
          },
        ],
        data: {
          endpoints: KEYS,
          targetRate: RATE,
          durationMs,
          resolver: {
            cpuPercentOfCore: round(m.cpuPercent),
            eventLoopDelayP99Ms: round(m.eventLoopP99Ms),
            eventLoopDelayMaxMs: round(m.eventLoopMaxMs),
            updatesDeliveredToGrpc: callsDuring,
            changesWritten: m.writer.issued,
            effectiveChanges: m.writer.effective,
            writesPerSecond: round(writesPerSecond),
            writerSkipped: m.writer.skipped,
            writerFailed: m.writer.failed,
            converged,
          },
          cpuRatioToRawWatch: { ratio: round(cpuRatio), target: CPU_RATIO_TARGET },
          rawWatchFloor: {
            durationMs: floorDurationMs,
            cpuPercentOfCore: round(floor.cpuPercent),
            eventLoopDelayP99Ms: round(floor.eventLoopP99Ms),
            eventsReceived: rawEvents,
            changesWritten: floor.writer.issued,
            effectiveChanges: floor.writer.effective,
          },
        },
        details: [
          `A child process writes ${RATE} changes/s (updates, deletes, re-adds) over ${KEYS} keys; this process ` +
            "runs the `etcd:` resolver with its defaults (coalesceMs 5, updates at least 100 ms apart, spaced " +
            "further by their cost) and a listener in place of a channel. CPU is user + system time of this process " +
            "over the window. The floor is a raw etcd3 watch alone on the same churn.",
          "",
          "| path | window | CPU % of a core | event-loop p99 | event-loop max | writes (events they made) | delivered |",
          "|---|---:|---:|---:|---:|---:|---:|",
          `| raw etcd3 watch | ${Math.round(floor.wallMs / 1000)} s | ${round(floor.cpuPercent)} | ${round(floor.eventLoopP99Ms)} ms | ${round(floor.eventLoopMaxMs)} ms | ${floor.writer.issued} (${floor.writer.effective}) | ${rawEvents} events |`,
          `| etcd: resolver | ${Math.round(m.wallMs / 1000)} s | ${round(m.cpuPercent)} | ${round(m.eventLoopP99Ms)} ms | ${round(m.eventLoopMaxMs)} ms | ${m.writer.issued} (${m.writer.effective}) | ${callsDuring} updates |`,
        ],
      };
    } finally {
      resolver?.destroy();
      await deleteService(context.client, service);
    }
  },
};
