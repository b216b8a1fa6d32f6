// The watch-latency experiment: how soon does a put reach this process through etcd3's watch, through a
// bare grpc-js Watch stream (etcd3's protos, or a hand-written decoder), and through our watcher and
// resolver, on the same puts, next to etcd's Go client. bench/src/experiments/README.md describes it.
import { execFileSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import * as os from "node:os";
import { parseArgs } from "node:util";
import { findEtcdBinary, startEtcd } from "@etcd-naming/etcd-fixture";
import { type GoProcess, killAllGo, startGo } from "@etcd-naming/interop/go-helper";
import { Etcd3 } from "etcd3";
import { type ChildHandle, killAllChildren, spawnTsChild } from "../../children.js";
import { findGoHelper } from "../../go-helper.js";
import { type Distribution, round, summarize } from "../../stats.js";
import { within } from "../../support.js";
import { wallClockOffset } from "../../wall-clock.js";

const SERVICE = "bench/watch-latency";
const KEY = `${SERVICE}/w`;
const HOST = "127.0.0.1";
const HERE = "../experiments/watch-latency/";

const { values } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    samples: { type: "string", default: "300" },
    warmup: { type: "string", default: "20" },
    interval: { type: "string", default: "50" },
    blocks: {
      type: "string",
      default:
        "together,scenario10,shared:source/etcd3,alone:etcd3,alone:grpc-loader,alone:grpc-hand,alone:source,alone:resolver-zero",
    },
    go: { type: "boolean", default: true },
    "no-go": { type: "boolean", default: false },
    profile: { type: "string" },
    out: { type: "string", default: "watch-latency" },
  },
});
const rounds = Number(values.rounds);
const samples = Number(values.samples);
const warmup = Number(values.warmup);
const intervalMs = Number(values.interval);
const withGo = values.go && !values["no-go"];

/** A set of variants heard in one listening process, on separate connections unless `shared`. */
interface Block {
  name: string;
  variants: string[];
  shared: boolean;
  /** Added to the listening process's environment. */
  env?: Record<string, string>;
}

/**
 * `together`: the main variants in one process, each on its own connection; `scenario10`: etcd3's watch
 * and our resolver on one client, as the bench's scenario 10 runs them; `alone:<variant>`: one variant;
 * `with:<v1>/<v2>/…`: any list on separate connections; `shared:<v1>/<v2>/…`: any list on one etcd3 client.
 * Any of them followed by `@NAME=value` (repeatable) runs its listener with that environment variable.
 */
function parseBlock(full: string): Block {
  // `<block>@NAME=value@…` runs the block's listener with those environment variables (A/B of a switch).
  const [spec, ...assignments] = full.split("@") as [string, ...string[]];
  const block = parseBlockSpec(spec);
  if (assignments.length === 0) return block;
  const env = Object.fromEntries(
    assignments.map((a) => [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]),
  );
  return { ...block, name: full, env };
}

function parseBlockSpec(spec: string): Block {
  // The resolver's defaults space updates 100 ms apart: closer puts would not be isolated changes.
  const resolver = intervalMs > 110 ? "resolver" : "resolver-zero";
  if (spec === "together") {
    return {
      name: spec,
      variants: ["etcd3", "grpc-loader", "grpc-hand", "source", resolver],
      shared: false,
    };
  }
  if (spec === "scenario10") return { name: spec, variants: ["etcd3", resolver], shared: true };
  const [kind, list] = spec.split(":");
  if (list === undefined) throw new Error(`bad block ${spec}`);
  const variants = list.split("/");
  if (kind === "alone" && variants.length === 1) return { name: spec, variants, shared: false };
  if (kind === "with") return { name: spec, variants, shared: false };
  if (kind === "shared") return { name: spec, variants, shared: true };
  throw new Error(`bad block ${spec}`);
}

const blocks = values.blocks.split(",").map(parseBlock);
const log = (message: string) => console.error(`[watch-latency] ${message}`);

interface BlockResult {
  block: string;
  round: number;
  loadAverage: number[];
  /** Series name → latency from put sent, ms, over the samples every series saw. */
  series: { [name: string]: number[] };
  putAck: number[];
  missing: { [name: string]: number };
  /** The listening process's CPU time per put (user + system, µs), from the probe to the last put. */
  cpuPerPutMicros: number;
}

function collect(
  block: Block,
  roundNo: number,
  written: { addr: string; sentAt: string; ackAt: string }[],
  seen: { [series: string]: { [addr: string]: bigint } },
  cpuMicros: number,
): BlockResult {
  const names = Object.keys(seen).sort();
  const series: BlockResult["series"] = Object.fromEntries(names.map((name) => [name, []]));
  const missing: BlockResult["missing"] = Object.fromEntries(names.map((name) => [name, 0]));
  const putAck: number[] = [];
  for (const sample of written.slice(warmup)) {
    const sent = BigInt(sample.sentAt);
    const at = names.map((name) => seen[name]![sample.addr]);
    at.forEach((t, i) => {
      if (t === undefined) missing[names[i]!]!++;
    });
    if (at.some((t) => t === undefined)) continue;
    at.forEach((t, i) => {
      series[names[i]!]!.push(Number(t! - sent) / 1e6);
    });
    putAck.push(Number(BigInt(sample.ackAt) - sent) / 1e6);
  }
  return {
    block: block.name,
    round: roundNo,
    loadAverage: os.loadavg().map(round2),
    series,
    putAck,
    missing,
    cpuPerPutMicros: cpuMicros / written.length,
  };
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/** wallClockOffset() needs a quiet moment of a few µs; on a busy machine it may take several tries. */
function offsetWithRetries(): bigint {
  for (let attempt = 1; ; attempt++) {
    try {
      return wallClockOffset();
    } catch (error) {
      if (attempt === 5) throw error;
    }
  }
}

/** Go's first sighting of each address, converted from its wall clock to this machine's monotonic one. */
function goSeen(log: unknown, offset: bigint): { [addr: string]: bigint } {
  const first: { [addr: string]: bigint } = {};
  for (const entry of log as { at: string; addrs: string[] | null }[]) {
    for (const addr of entry.addrs ?? []) first[addr] ??= BigInt(entry.at) - offset;
  }
  return first;
}

async function runBlock(
  context: { client: Etcd3; endpoint: string; url: string; goBinary: string | undefined; blockNo: number },
  block: Block,
  round: number,
): Promise<BlockResult> {
  const portBase = 10_000 + (context.blockNo % 5) * 10_000;
  const total = warmup + samples;
  const probe = `${HOST}:${portBase - 1}`;
  const until = `${HOST}:${portBase + total - 1}`;
  await context.client.delete().prefix(`${SERVICE}/`);
  let go: GoProcess | undefined;
  let listener: ChildHandle | undefined;
  let writer: ChildHandle | undefined;
  try {
    if (context.goBinary !== undefined) {
      go = startGo(context.goBinary, [
        "bench-listen",
        ...["-endpoints", context.url, "-service", SERVICE, "-probe", probe, "-until", until],
      ]);
      await go.waitForLine((line) => line["event"] === "ready", 20_000);
    }
    const nodeArgs =
      values.profile === undefined
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${values.profile}`, "--cpu-prof-interval=50"];
    listener = spawnTsChild(
      `${HERE}listener.ts`,
      [
        ...["--endpoint", context.endpoint, "--service", SERVICE, "--variants", block.variants.join(",")],
        ...["--probe", probe, "--until", until, ...(block.shared ? ["--shared"] : [])],
      ],
      { nodeArgs, ...(block.env === undefined ? {} : { env: block.env }) },
    );
    await listener.next("ready", 20_000);
    const probed = listener.next("probed", 10_000);
    await context.client.put(KEY).value(JSON.stringify({ Op: 0, Addr: probe, Metadata: null }));
    await probed;
    await go?.waitForLine((line) => line["event"] === "probed", 10_000);

    const offsetBefore = offsetWithRetries();
    const heard = listener.next<{
      type: string;
      seen: { [v: string]: { [a: string]: string } };
      cpuMicros: number;
      window: [string, string];
    }>("done", total * intervalMs + 60_000);
    writer = spawnTsChild(`${HERE}writer.ts`, [
      ...["--endpoint", context.endpoint, "--key", KEY, "--host", HOST],
      ...["--port-base", String(portBase), "--count", String(total), "--interval", String(intervalMs)],
    ]);
    const written = await writer.next<{
      type: string;
      samples: { addr: string; sentAt: string; ackAt: string }[];
    }>("done", total * intervalMs + 30_000);
    const nodeSeen = await heard;
    const goDone = await go?.waitForLine((line) => line["event"] === "done", 10_000);
    const offsetAfter = offsetWithRetries();
    if (context.goBinary !== undefined && Math.abs(Number(offsetAfter - offsetBefore)) > 1e6) {
      throw new Error("the wall clock stepped during the block: Go's times cannot be compared");
    }
    const seen: { [series: string]: { [addr: string]: bigint } } = {};
    for (const [name, byAddr] of Object.entries(nodeSeen.seen)) {
      seen[name] = Object.fromEntries(Object.entries(byAddr).map(([a, t]) => [a, BigInt(t)]));
    }
    if (goDone !== undefined) {
      const offset = (offsetBefore + offsetAfter) / 2n;
      seen["go.resolver"] = goSeen(goDone["resolver"], offset);
      seen["go.watch"] = goSeen(goDone["watch"], offset);
    }
    if (values.profile !== undefined) {
      log(
        `  profile: ${values.profile}/CPU.*.${listener.pid}.*.cpuprofile, measured span ` +
          `${nodeSeen.window.join(",")} (profile-summary.ts <file> ${written.samples.length} 30 ${nodeSeen.window.join(" ")})`,
      );
    }
    return collect(block, round, written.samples, seen, nodeSeen.cpuMicros);
  } finally {
    await writer?.kill();
    // A listener that printed "done" exits by itself; one that did not (a failed block) is killed.
    if (listener !== undefined)
      await within(listener.exited, 2_000, "the listener to exit").catch(() => undefined);
    await listener?.kill();
    await go?.stop();
  }
}

/** Per-sample differences a − b (ms). */
const minus = (a: number[], b: number[]) => a.map((value, i) => value - b[i]!);

function tableOf(result: BlockResult): string[] {
  const reference = ["etcd3", "go.watch"].filter((name) => name in result.series);
  const line = (name: string, d: Distribution, diffs: string[]) =>
    `| ${name} | ${d.n} | ${round(d.min)} | ${round(d.p50)} | ${round(d.p90)} | ${round(d.p99)} | ${round(d.mean)} | ${diffs.join(" | ")} |`;
  const lines = [
    `### ${result.block}, round ${result.round} (load ${result.loadAverage.join(" / ")}; listener CPU ` +
      `${Math.round(result.cpuPerPutMicros)} µs per put)`,
    "",
    `| ms from put sent | n | min | p50 | p90 | p99 | mean | ${reference.map((r) => `p50 of − ${r}`).join(" | ")} |`,
    `|---|---:|---:|---:|---:|---:|---:|${reference.map(() => "---:|").join("")}`,
  ];
  for (const [name, values] of Object.entries(result.series)) {
    if (values.length === 0) continue;
    const diffs = reference.map((r) => String(round(summarize(minus(values, result.series[r]!)).p50)));
    lines.push(line(name, summarize(values), diffs));
  }
  if (result.putAck.length > 0)
    lines.push(
      line(
        "put acknowledged",
        summarize(result.putAck),
        reference.map(() => ""),
      ),
    );
  const missing = Object.entries(result.missing).filter(([, n]) => n > 0);
  if (missing.length > 0)
    lines.push("", `never seen on their own: ${missing.map(([s, n]) => `${s} ${n}`).join(", ")}`);
  return [...lines, ""];
}

/** Per block and series: the p50 of each round, and of the per-sample difference to go.watch / etcd3. */
function summaryOf(results: BlockResult[]): string[] {
  const lines = [
    "| block | series | p50 per round (ms) | p50 of − etcd3 per round | p50 of − go.watch per round |",
    "|---|---|---|---|---|",
  ];
  const byBlock = new Map<string, BlockResult[]>();
  for (const result of results) byBlock.set(result.block, [...(byBlock.get(result.block) ?? []), result]);
  for (const [block, runs] of byBlock) {
    const names = Object.keys(runs[0]!.series);
    for (const name of names) {
      const cell = (f: (r: BlockResult) => number | undefined) =>
        runs
          .map((r) => {
            const value = f(r);
            return value === undefined ? "—" : String(round(value));
          })
          .join(" / ");
      const diff = (reference: string) => (r: BlockResult) =>
        reference in r.series && (r.series[name]?.length ?? 0) > 0
          ? summarize(minus(r.series[name]!, r.series[reference]!)).p50
          : undefined;
      lines.push(
        `| ${block} | ${name} | ${cell((r) => (r.series[name]?.length ? summarize(r.series[name]!).p50 : undefined))} | ${cell(diff("etcd3"))} | ${cell(diff("go.watch"))} |`,
      );
    }
    const cpu = runs.map((r) => Math.round(r.cpuPerPutMicros)).join(" / ");
    lines.push(`| ${block} | listener CPU per put, µs | ${cpu} | | |`);
  }
  return lines;
}

async function main(): Promise<void> {
  const require = createRequire(import.meta.url);
  const version = (name: string) => (require(`${name}/package.json`) as { version: string }).version;
  const etcdBin = findEtcdBinary();
  const etcdVersion = /etcd Version:\s*(\S+)/.exec(
    execFileSync(etcdBin, ["--version"], { encoding: "utf8" }),
  )?.[1];
  let goBinary: string | undefined;
  let goVersion = "no Go";
  if (withGo) {
    const go = await findGoHelper(true, log);
    if ("skipped" in go) log(`no Go reference: ${go.skipped}`);
    else {
      goBinary = go.binary;
      goVersion = `etcd ${go.version.etcd} Go client, grpc-go ${go.version.grpc}, ${go.version.go}`;
    }
  }
  const header =
    `Node ${process.version}, @grpc/grpc-js ${version("@grpc/grpc-js")}, etcd3 ${version("etcd3")}, etcd ${etcdVersion} ` +
    `(${etcdBin}), ${goVersion}; ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), load at start ` +
    `${os.loadavg().map(round2).join(" / ")}; ${rounds} round(s) of ${blocks.map((b) => b.name).join(", ")}; ` +
    `${samples} puts ${intervalMs} ms apart after ${warmup} warm-up puts per block`;
  log(header);

  const etcd = await startEtcd({ name: "watch-latency" });
  const client = new Etcd3({ hosts: etcd.endpoints });
  const results: BlockResult[] = [];
  const onSignal = () => {
    killAllChildren();
    void killAllGo().finally(() => etcd.close().finally(() => process.exit(130)));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    await client.put("warmup").value("1");
    let blockNo = 0;
    for (let r = 1; r <= rounds; r++) {
      // Each round starts one block later, so no block is always the first (or last) of a round.
      const order = blocks.map((_, i) => blocks[(i + r - 1) % blocks.length]!);
      for (const block of order) {
        log(`round ${r}: ${block.name} (${block.variants.join(", ")}${block.shared ? ", one client" : ""})`);
        const context = {
          client,
          endpoint: etcd.endpoints[0]!,
          url: etcd.clientUrls[0]!,
          goBinary,
          blockNo: blockNo++,
        };
        let result: BlockResult;
        try {
          result = await runBlock(context, block, r);
        } catch (error) {
          // One broken block (a stuck child, a clock step) must not cost the others' figures.
          log(`  failed: ${error instanceof Error ? error.message : String(error)}`);
          continue;
        }
        results.push(result);
        await write(header, results);
        const brief = Object.entries(result.series)
          .map(([name, v]) => `${name} ${v.length > 0 ? round(summarize(v).p50) : "—"}`)
          .join(", ");
        log(`  p50 ms: ${brief}`);
      }
    }
  } finally {
    killAllChildren();
    await killAllGo();
    client.close();
    await etcd.close();
  }
  console.log(await write(header, results));
}

/** Writes the report so far (after every block, so an interrupted run keeps what it measured). */
async function write(header: string, results: BlockResult[]): Promise<string> {
  const markdown = [
    "# Watch latency experiment",
    "",
    header,
    "",
    "## Summary",
    "",
    ...summaryOf(results),
    "",
    "## Blocks",
    "",
    ...results.flatMap(tableOf),
  ].join("\n");
  const dir = new URL("../../../results/", import.meta.url);
  await mkdir(dir, { recursive: true });
  // results/experiment-* is not committed (bench/.gitignore).
  await writeFile(new URL(`experiment-${values.out}.md`, dir), `${markdown}\n`);
  await writeFile(
    new URL(`experiment-${values.out}.json`, dir),
    `${JSON.stringify({ header, results }, null, 1)}\n`,
  );
  return markdown;
}

await main();
setTimeout(() => process.exit(0), 1_000).unref();
