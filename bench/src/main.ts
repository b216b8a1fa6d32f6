import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import * as os from "node:os";
import { type EtcdServer, findEtcdBinary, startEtcd } from "@etcd-naming/etcd-fixture";
import { type EtcdResolverHandle, registerEtcdResolver } from "@etcd-naming/grpc-js";
import { killAllGo } from "@etcd-naming/interop/go-helper";
import { Etcd3, type IOptions } from "etcd3";
import { checkBuilt } from "./built.js";
import { killAllChildren, spawnTsChild } from "./children.js";
import type { BenchContext, Scenario } from "./context.js";
import { type EchoServer, startEchoServer } from "./echo-server.js";
import {
  type RunEnvironment,
  type RunReport,
  type ScenarioReport,
  toMarkdown,
  writeReport,
} from "./report.js";
import { scenarios } from "./scenarios/index.js";
import { canCollect, quietLogger, within } from "./support.js";

const USAGE = `usage: pnpm bench [--quick] [--only=1,2,…]

  --quick   a small run (under a minute) that proves the harness works; writes results/quick.{json,md}
  --only    run only these scenarios (the results are then written to results/partial.{json,md})`;

interface Flags {
  quick: boolean;
  only: Set<number> | undefined;
}

function parseFlags(argv: readonly string[]): Flags {
  const flags: Flags = { quick: false, only: undefined };
  for (const arg of argv) {
    if (arg === "--") continue;
    if (arg === "--quick") flags.quick = true;
    else if (arg.startsWith("--only=")) {
      const ids = arg.slice("--only=".length).split(",").map(Number);
      if (ids.some((id) => !Number.isInteger(id) || id < 1)) throw new Error(`bad ${arg}\n${USAGE}`);
      flags.only = new Set(ids);
    } else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return flags;
}

const require = createRequire(import.meta.url);
const versionOf = (name: string): string => (require(`${name}/package.json`) as { version: string }).version;

function environment(quick: boolean, etcdBin: string): RunEnvironment {
  const etcdVersion = /etcd Version:\s*(\S+)/.exec(
    execFileSync(etcdBin, ["--version"], { encoding: "utf8" }),
  );
  return {
    date: new Date().toISOString(),
    mode: quick ? "quick" : "full",
    node: process.version,
    grpcJs: versionOf("@grpc/grpc-js"),
    etcd3: versionOf("etcd3"),
    etcd: etcdVersion?.[1] ?? "unknown",
    etcdFsync: true,
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model.trim() ?? "unknown",
    loadAverageAtStart: os.loadavg().map((load) => Math.round(load * 100) / 100),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
  };
}

const log = (message: string) => console.error(`[bench] ${message}`);

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  if (!canCollect) log("warning: run node with --expose-gc, heap figures are unreliable without it");
  const stale = checkBuilt();
  if (stale.length > 0) {
    throw new Error(`the bench measures the built packages: ${stale.join("; ")}. Run \`pnpm build\` first.`);
  }
  const started = Date.now();
  const env = environment(flags.quick, findEtcdBinary());
  log(`${env.mode} run: Node ${env.node}, grpc-js ${env.grpcJs}, etcd ${env.etcd}, ${env.cores} cores`);

  const clients: Etcd3[] = [];
  let etcd: EtcdServer | undefined;
  let echo: EchoServer | undefined;
  const resolvers: EtcdResolverHandle[] = [];
  const cleanUp = async () => {
    killAllChildren();
    await killAllGo();
    for (const handle of resolvers) await within(handle.close(), 5_000, "a resolver to close").catch(log);
    for (const client of clients) client.close();
    await echo?.close();
    await etcd?.close();
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: cleaning up`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const reports: ScenarioReport[] = [];
  try {
    // The fixture's etcd: one member on loopback, default fsync (no --unsafe-no-fsync).
    etcd = await startEtcd({ name: "bench" });
    const hosts = etcd.endpoints;
    const newClient = (options: Partial<IOptions> = {}) => {
      const client = new Etcd3({ hosts, ...options });
      clients.push(client);
      return client;
    };
    const client = newClient();
    const resolverClient = newClient();
    const resolver = registerEtcdResolver({ client: resolverClient, logger: quietLogger });
    resolvers.push(resolver);
    const zeroResolver = registerEtcdResolver({
      client: resolverClient,
      scheme: "etcd-zero",
      coalesceMs: 0,
      minUpdateIntervalMs: 0,
      logger: quietLogger,
    });
    resolvers.push(zeroResolver);
    echo = await startEchoServer();
    await client.put("bench/warmup").value("1");
    await client.delete().key("bench/warmup");

    const context: BenchContext = {
      quick: flags.quick,
      etcd,
      clientUrl: etcd.clientUrls[0]!,
      client,
      resolverClient,
      resolver,
      zeroResolver,
      echo,
      newClient,
      spawnChild: spawnTsChild,
      log,
    };
    for (const scenario of scenarios) {
      if (flags.only !== undefined && !flags.only.has(scenario.id)) continue;
      reports.push(await runScenario(scenario, context));
      if (interrupted) break;
    }
  } finally {
    await cleanUp();
  }

  const report: RunReport = {
    environment: env,
    totalMs: Date.now() - started,
    scenarios: reports,
  };
  const name = flags.only !== undefined ? "partial" : flags.quick ? "quick" : "latest";
  const files = await writeReport(new URL("../results/", import.meta.url), name, report);
  console.log(toMarkdown(report));
  log(`wrote ${files.join(", ")} in ${Math.round(report.totalMs / 1000)} s`);
  // Missed targets are reported, not failed: only a scenario the harness could not run fails the process.
  return reports.some((s) => s.status === "failed") ? 1 : 0;
}

async function runScenario(scenario: Scenario, context: BenchContext): Promise<ScenarioReport> {
  const base = { id: scenario.id, title: scenario.title, target: scenario.target };
  const started = Date.now();
  log(`scenario ${scenario.id}: ${scenario.title}`);
  try {
    const { skipped, ...outcome } = await scenario.run(context);
    const durationMs = Date.now() - started;
    if (skipped !== undefined) {
      log(`scenario ${scenario.id} skipped: ${skipped}`);
      return {
        ...base,
        status: "skipped",
        durationMs,
        ...outcome,
        measured: `skipped: ${skipped}`,
        pass: null,
      };
    }
    log(`scenario ${scenario.id}: ${outcome.measured} (${Math.round(durationMs / 100) / 10} s)`);
    return { ...base, status: "ok", durationMs, ...outcome };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`scenario ${scenario.id} failed: ${error instanceof Error ? (error.stack ?? message) : message}`);
    return {
      ...base,
      status: "failed",
      measured: "",
      pass: null,
      durationMs: Date.now() - started,
      data: {},
      details: [],
      error: message,
    };
  }
}

main().then(
  (code) => {
    process.exitCode = code;
    // Anything still holding the loop (a stuck grpc socket) must not keep CI waiting.
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 2_000).unref();
  },
);
