// etcd naming end to end, in one process tree: an etcd (embedded unless ETCD_ENDPOINTS is set), greeter
// servers that register themselves, and a grpc-js client that dials etcd:///demo/greeter and follows them
// as a server joins, drains, and crashes. Every "time to notice" in the summary is measured, not assumed.
import { type ChildProcess, execFile, fork } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type EtcdServer, startEtcd } from "@etcd-naming/etcd-fixture";
import { type EtcdResolverHandle, registerEtcdResolver } from "@etcd-naming/grpc-js";
import { formatLeaseId } from "@etcd-naming/registrar";
import { createEtcd3Source, type ServiceWatcher, watchService } from "@etcd-naming/watcher";
import * as grpc from "@grpc/grpc-js";
import { Etcd3 } from "etcd3";
import { Dashboard, type DashboardView, type ServerState } from "./dashboard.js";
import { GreeterClient } from "./greeter.js";
import type { DemoMessage, ServerMessage } from "./messages.js";

const TTL_SECONDS = 5;
const GRACE_MS = 1_500;
const CALLERS = 2;
const CALL_DEADLINE_MS = 2_000;

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const tsxArgs = ["--conditions=@etcd-naming/source", "--import", "tsx"];

/** A failure the demo explains and exits non-zero for. */
class DemoError extends Error {}

interface Server {
  name: string;
  child: ChildProcess;
  state: ServerState;
  addr: string;
  key: string;
  leaseId: string;
  stderr: string;
  registeredAt?: number;
  removedAt?: number;
  exitedAt?: number;
  exitCode?: number | null;
  total: number;
  /** Start times of the calls it answered in the last second. */
  recent: number[];
  firstCallAt?: number;
  /** Start time of the last call it answered. */
  lastCallAt?: number;
}

interface FailedCall {
  startedAt: number;
  endedAt: number;
  phase: Phase;
  code: number | undefined;
  details: string;
}

type Phase = "start" | "join" | "drain" | "kill" | "list" | "stop";

interface Summary {
  durationMs: number;
  etcd: { endpoints: string[]; embedded: boolean; pid: number | undefined };
  service: string;
  servers: { name: string; pid: number | undefined; addr: string; calls: number; state: ServerState }[];
  calls: number;
  failedCalls: number;
  failedByPhase: Record<string, number>;
  joined: { server: string; registeredToFirstCallMs: number };
  drained: {
    server: string;
    keyDeletedMs: number;
    lastCallMs: number;
    failedCalls: number;
    exitCode: number | null;
  };
  killed: {
    server: string;
    failedCalls: number;
    lastFailureMs: number | null;
    keyExpiredMs: number;
    keyExpired: boolean;
  };
  list: { command: string; output: string };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new DemoError(`${what} did not happen within ${timeoutMs / 1000} s`);
    await sleep(20);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DemoError(`${what} (no answer within ${ms / 1000} s)`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const ms = (value: number): string =>
  value < 1_000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;

function parseOptions(): { service: string; summaryJson: string | undefined; plain: boolean } {
  const { values } = parseArgs({
    options: {
      service: { type: "string" },
      "summary-json": { type: "string" },
      plain: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(`usage: pnpm demo [--service <name>] [--plain] [--summary-json <file>]

  --service <name>        the service the greeters register under (default demo/greeter, or $DEMO_SERVICE)
  --plain                 plain log lines even on a terminal
  --summary-json <file>   also write the summary as JSON

Uses the etcd at $ETCD_ENDPOINTS (host:port,...) when set; otherwise starts its own on free ports.`);
    process.exit(0);
  }
  return {
    service: values.service ?? process.env["DEMO_SERVICE"] ?? "demo/greeter",
    summaryJson: values["summary-json"] ?? process.env["DEMO_SUMMARY_JSON"],
    plain: values.plain ?? false,
  };
}

async function main(): Promise<number> {
  const options = parseOptions();
  const started = Date.now();
  const live = process.stdout.isTTY === true && !options.plain;
  const ui = new Dashboard(process.stdout, {
    live,
    color: process.stdout.isTTY === true && process.env["NO_COLOR"] === undefined,
  });
  const { service } = options;
  const target = `etcd:///${service}`;

  const servers: Server[] = [];
  const failures: FailedCall[] = [];
  let phase: Phase = "start";
  let embedded: EtcdServer | undefined;
  let embeddedPid: number | undefined;
  let client: Etcd3 | undefined;
  let watcher: ServiceWatcher | undefined;
  let resolver: EtcdResolverHandle | undefined;
  let greeter: GreeterClient | undefined;
  let calling = false;
  let callers: Promise<void>[] = [];
  let ticker: NodeJS.Timeout | undefined;

  const cleanUp = async (): Promise<void> => {
    calling = false;
    if (ticker !== undefined) clearInterval(ticker);
    await withTimeout(Promise.all(callers), CALL_DEADLINE_MS + 1_000, "calls in flight").catch(() => {});
    greeter?.close();
    await resolver?.close().catch(() => {});
    await Promise.all(
      servers.map(async (s) => {
        if (s.child.exitCode !== null || s.child.signalCode !== null) return;
        s.child.send({ type: "stop" } satisfies DemoMessage, () => {});
        const exited = new Promise((resolve) => s.child.once("exit", resolve));
        await withTimeout(exited, 3_000, "exit").catch(() => s.child.kill("SIGKILL"));
      }),
    );
    await watcher?.close().catch(() => {});
    client?.close();
    await embedded?.close();
  };

  // Ctrl-C: the servers (same process group) drain on their own; take etcd down and leave.
  process.once("SIGINT", () => {
    ui.say("\ninterrupted, cleaning up");
    void cleanUp().finally(() => process.exit(130));
  });

  const view = (): DashboardView => ({
    target,
    failed: failures.length,
    rows: servers.map((s) => {
      const now = Date.now();
      while (s.recent.length > 0 && s.recent[0]! < now - 1_000) s.recent.shift();
      return { name: s.name, addr: s.addr, state: s.state, rate: s.recent.length, total: s.total };
    }),
  });

  try {
    ui.say(ui.paint("bold", "etcd naming, end to end"));
    ui.say(
      `Greeter servers register under ${ui.paint("bold", `${service}/`)} with a ${TTL_SECONDS} s lease; ` +
        `one grpc-js client dials ${ui.paint("bold", target)}.`,
    );
    ui.say();

    // etcd: the user's, or our own on free ports in a temporary directory.
    let endpoints: string[];
    const fromEnv = process.env["ETCD_ENDPOINTS"]?.trim();
    if (fromEnv) {
      endpoints = fromEnv
        .split(",")
        .map((e) => e.trim().replace(/^https?:\/\//, ""))
        .filter(Boolean);
      ui.event(`using etcd at ${endpoints.join(",")} (ETCD_ENDPOINTS)`);
    } else {
      ui.event("starting etcd on free loopback ports…");
      embedded = await startEtcd({ name: "demo" });
      endpoints = embedded.endpoints;
      embeddedPid = embedded.pid;
      ui.event(`etcd is up at ${endpoints.join(",")} (pid ${embedded.pid}, data in ${embedded.dataDir})`);
    }
    client = new Etcd3({ hosts: endpoints });
    const etcdClient = client;
    await withTimeout(etcdClient.maintenance.status(), 5_000, "no answer").catch((error: unknown) => {
      const why = (error as Error).message.split("\n")[0];
      const hint =
        embedded === undefined ? "; check ETCD_ENDPOINTS, or unset it to let the demo start its own" : "";
      throw new DemoError(`etcd at ${endpoints.join(",")} does not answer (${why})${hint}`);
    });

    // Left-overs of an interrupted run expire with their lease; anything else is someone else's service.
    const keysLeft = (): Promise<string[]> => etcdClient.getAll().prefix(`${service}/`).keys();
    let leftovers = await keysLeft();
    if (leftovers.length > 0) {
      ui.event(
        `${leftovers.length} endpoint(s) already under ${service}/; waiting for their leases to expire`,
      );
      const deadline = Date.now() + (TTL_SECONDS + 3) * 1_000;
      while (leftovers.length > 0 && Date.now() < deadline) {
        await sleep(250);
        leftovers = await keysLeft();
      }
      if (leftovers.length > 0) {
        throw new DemoError(
          `${service}/ is in use (${leftovers.join(", ")}); run with --service <another name>`,
        );
      }
    }

    // An independent view of the registry, to time each change as etcd saw it.
    watcher = watchService(createEtcd3Source(etcdClient), service, { coalesceMs: 0 });
    watcher.on("update", ({ added, removed, initial }) => {
      const now = Date.now();
      if (initial) return;
      for (const e of added)
        ui.event(
          `${ui.paint("green", "etcd  put")}    ${e.key}  lease ${e.lease === undefined ? "-" : formatLeaseId(e.lease)}`,
        );
      for (const e of removed) {
        const server = servers.find((s) => s.key === e.key);
        if (server !== undefined) {
          server.removedAt = now;
          if (server.state === "killed") server.state = "expired";
        }
        ui.event(`${ui.paint("yellow", "etcd  delete")} ${e.key}`);
      }
    });
    await withTimeout(watcher.ready(), 10_000, "listing the service");

    const startServer = (name: string): Server => {
      const child = fork(join(packageDir, "src/greeter-server.ts"), [], {
        cwd: packageDir,
        execArgv: tsxArgs,
        env: {
          ...process.env,
          SERVER_NAME: name,
          SERVICE: service,
          ETCD_ENDPOINTS: endpoints.join(","),
          TTL: String(TTL_SECONDS),
          GRACE_MS: String(GRACE_MS),
        },
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      });
      const server: Server = {
        name,
        child,
        state: "starting",
        addr: "",
        key: "",
        leaseId: "",
        stderr: "",
        total: 0,
        recent: [],
      };
      child.stderr?.on("data", (chunk: Buffer) => {
        server.stderr = (server.stderr + chunk.toString()).slice(-4_000);
      });
      child.on("message", (message: ServerMessage) => {
        if (message.type === "ready") {
          Object.assign(server, { addr: message.addr, key: message.key, leaseId: message.leaseId });
          server.registeredAt = message.registeredAt;
          server.state = "serving";
        }
      });
      child.on("exit", (code) => {
        server.exitedAt = Date.now();
        server.exitCode = code;
        if (server.state === "draining") server.state = "drained";
      });
      servers.push(server);
      return server;
    };
    const ready = (server: Server): Promise<Server> =>
      waitFor(`${server.name}'s registration`, 30_000, () => {
        if (server.exitedAt !== undefined) {
          throw new DemoError(
            `${server.name} exited with ${server.exitCode} before registering:\n${server.stderr}`,
          );
        }
        return server.state === "serving" ? server : undefined;
      });

    ui.event(`starting three greeter servers (separate Node processes)…`);
    await Promise.all(["greeter-1", "greeter-2", "greeter-3"].map((name) => ready(startServer(name))));

    resolver = registerEtcdResolver({
      client: etcdClient,
      logger: {
        warn: (_fields, message) => ui.event(ui.paint("dim", `resolver: ${message}`)),
        error: (_fields, message) => ui.event(ui.paint("dim", `resolver: ${message}`)),
      },
    });
    const channel = new GreeterClient(target, grpc.credentials.createInsecure());
    greeter = channel;
    ui.event(`client dials ${target} and calls SayHello in a loop (${CALLERS} at a time)`);

    calling = true;
    const call = async (): Promise<void> => {
      while (calling) {
        const startedAt = Date.now();
        try {
          const reply = await channel.sayHello("demo", { deadline: startedAt + CALL_DEADLINE_MS });
          const server = servers.find((s) => s.name === reply.from);
          if (server !== undefined) {
            server.total++;
            server.recent.push(startedAt);
            server.firstCallAt ??= startedAt;
            server.lastCallAt = startedAt;
          }
        } catch (error) {
          const e = error as grpc.ServiceError;
          // Booked under the step in which the call failed: a call started at the end of one step can
          // fail because of the next (a call to the server killed in step 3 that began during step 2).
          failures.push({
            startedAt,
            endedAt: Date.now(),
            phase,
            code: e.code,
            details: e.details ?? e.message,
          });
        }
        await sleep(10);
      }
    };
    callers = Array.from({ length: CALLERS }, call);
    // A terminal gets the table redrawn five times a second; a log gets one line a second.
    ticker = setInterval(
      () => (live ? ui.update(view()) : phase !== "list" && ui.plainLine(view())),
      live ? 200 : 1_000,
    );
    await sleep(3_000);
    const unexpected = (during: string): void => {
      const failed = failures.filter((f) => f.phase === phase);
      if (failed.length > 0) {
        throw new DemoError(`${failed.length} call(s) failed ${during}; first: ${failed[0]!.details}`);
      }
    };
    unexpected("while every server was healthy");

    // 1. A fourth server joins.
    phase = "join";
    ui.say();
    ui.say(ui.paint("bold", "1. A fourth server registers: the client starts sending it calls."));
    const fourth = await ready(startServer("greeter-4"));
    const firstCall = await waitFor(`a call to ${fourth.name}`, 10_000, () => fourth.firstCallAt);
    const joinMs = Math.max(0, firstCall - fourth.registeredAt!);
    ui.event(`${fourth.name} got its first call ${ms(joinMs)} after it registered`);
    await sleep(2_500);
    unexpected("while a server joined");

    // 2. One server drains gracefully.
    phase = "drain";
    const drained = servers[1]!;
    ui.say();
    ui.say(
      ui.paint(
        "bold",
        `2. ${drained.name} drains (SIGTERM): its key goes first, then it stops receiving calls.`,
      ),
    );
    const drainAt = Date.now();
    drained.state = "draining";
    drained.child.kill("SIGTERM");
    const keyDeletedAt = await waitFor(`the deletion of ${drained.key}`, 5_000, () => drained.removedAt);
    await waitFor(`${drained.name} to exit`, GRACE_MS + 10_000, () => drained.exitedAt);
    await sleep(1_000);
    const lastCallMs = Math.max(0, (drained.lastCallAt ?? drainAt) - drainAt);
    const drainFailures = failures.filter((f) => f.phase === "drain").length;
    ui.event(
      `key deleted ${ms(keyDeletedAt - drainAt)} after SIGTERM; last call to ${drained.name} ${ms(lastCallMs)} after; ` +
        `it exited after its ${ms(GRACE_MS)} grace period; failed calls: ${drainFailures}`,
    );
    if (drained.exitCode !== 0)
      throw new DemoError(`${drained.name} exited with ${drained.exitCode}:\n${drained.stderr}`);
    unexpected("during the graceful drain");
    if (lastCallMs > 1_000) {
      ui.event(ui.paint("yellow", `note: slower than the usual ~100 ms (a busy machine?)`));
    }

    // 3. One server crashes.
    phase = "kill";
    const killed = servers[2]!;
    ui.say();
    ui.say(
      ui.paint(
        "bold",
        `3. ${killed.name} is killed (SIGKILL): no goodbye. grpc-js sees the dead connection; etcd drops the key when the ${TTL_SECONDS} s lease runs out.`,
      ),
    );
    const killAt = Date.now();
    killed.child.kill("SIGKILL");
    killed.state = "killed";
    const expiredAt = await waitFor(
      `the expiry of ${killed.key}`,
      (TTL_SECONDS + 5) * 1_000,
      () => killed.removedAt,
    );
    await sleep(1_000);
    const killFailures = failures.filter((f) => f.phase === "kill");
    const lastFailure =
      killFailures.length > 0 ? Math.max(...killFailures.map((f) => f.endedAt)) - killAt : null;
    ui.event(
      `${killFailures.length} call(s) failed${lastFailure === null ? "" : `, the last ${ms(lastFailure)} after the kill`}; ` +
        `the key expired ${ms(expiredAt - killAt)} after the kill (TTL ${TTL_SECONDS} s)`,
    );
    if (lastFailure !== null && lastFailure > TTL_SECONDS * 1_000) {
      throw new DemoError(`calls kept failing ${ms(lastFailure)} after the kill`);
    }

    // 4. What the registry holds now, through the real CLI.
    phase = "list";
    ui.say();
    ui.say(ui.paint("bold", `4. The endpoints, as the etcd-naming CLI lists them:`));
    const list = await runCliList(service, endpoints);
    ui.say(`   $ ${list.command}`);
    for (const line of list.output.trimEnd().split("\n")) ui.say(`   ${line}`);
    const listed = servers.filter((s) => list.output.includes(s.key));
    const expectListed = [servers[0]!, fourth];
    if (listed.length !== expectListed.length || !expectListed.every((s) => listed.includes(s))) {
      throw new DemoError(
        `the CLI listed ${listed.map((s) => s.name).join(", ") || "nothing"}, expected ${expectListed.map((s) => s.name).join(", ")}`,
      );
    }

    phase = "stop";
    clearInterval(ticker);
    if (live) ui.update(view());
    ui.freeze();
    ui.say();
    ui.event(
      `stopping: the remaining servers deregister, the client closes${embedded ? ", etcd stops" : ""}`,
    );
    for (const s of servers.filter((s) => s.state === "serving")) s.state = "stopped";
    await cleanUp();
    const lateFailures = failures.filter((f) => f.phase === "list" || f.phase === "stop");
    if (lateFailures.length > 0) {
      throw new DemoError(
        `${lateFailures.length} call(s) failed at the end; first: ${lateFailures[0]!.details}`,
      );
    }

    const calls = servers.reduce((n, s) => n + s.total, 0);
    const summary: Summary = {
      durationMs: Date.now() - started,
      etcd: { endpoints, embedded: embedded !== undefined, pid: embeddedPid },
      service,
      servers: servers.map((s) => ({
        name: s.name,
        pid: s.child.pid,
        addr: s.addr,
        calls: s.total,
        state: s.state,
      })),
      calls,
      failedCalls: failures.length,
      failedByPhase: Object.fromEntries(
        (["start", "join", "drain", "kill", "list", "stop"] as const).map((p) => [
          p,
          failures.filter((f) => f.phase === p).length,
        ]),
      ),
      joined: { server: fourth.name, registeredToFirstCallMs: joinMs },
      drained: {
        server: drained.name,
        keyDeletedMs: keyDeletedAt - drainAt,
        lastCallMs,
        failedCalls: drainFailures,
        exitCode: drained.exitCode ?? null,
      },
      killed: {
        server: killed.name,
        failedCalls: killFailures.length,
        lastFailureMs: lastFailure,
        keyExpiredMs: expiredAt - killAt,
        keyExpired: true,
      },
      list,
    };
    printSummary(ui, summary);
    if (options.summaryJson !== undefined)
      writeFileSync(options.summaryJson, `${JSON.stringify(summary, null, 2)}\n`);
    const silent = servers.filter((s) => s.total === 0);
    if (silent.length > 0) throw new DemoError(`${silent.map((s) => s.name).join(", ")} never got a call`);
    return 0;
  } catch (error) {
    ui.freeze();
    await cleanUp().catch(() => {});
    // A DemoError is the explanation; anything else is a bug, and its stack helps.
    const reason =
      error instanceof DemoError
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    console.error(`\ndemo failed: ${reason}`);
    return 1;
  }
}

/** Runs `etcd-naming list`: the built CLI when there is one, else the same CLI from its source. */
async function runCliList(
  service: string,
  endpoints: string[],
): Promise<{ command: string; output: string }> {
  const cliDir = dirname(createRequire(import.meta.url).resolve("@etcd-naming/cli/package.json"));
  const args = ["list", service, "--endpoints", endpoints.join(",")];
  const built = existsSync(join(cliDir, "dist/index.js"));
  const argv = built
    ? [join(cliDir, "bin/etcd-naming.mjs"), ...args]
    : [...tsxArgs, join(packageDir, "src/run-cli.ts"), ...args];
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      argv,
      { cwd: packageDir, timeout: 20_000, env: { ...process.env, NO_COLOR: "1" } },
      (error, stdout, stderr) =>
        error
          ? reject(new DemoError(`etcd-naming list failed: ${stderr || error.message}`))
          : resolve(stdout),
    );
  });
  return {
    command: `etcd-naming ${args.join(" ")}${built ? "" : "   (CLI not built: run from source)"}`,
    output,
  };
}

function printSummary(ui: Dashboard, s: Summary): void {
  const b = (t: string): string => ui.paint("bold", t);
  ui.say();
  ui.say(b("Summary"));
  ui.say(
    `  ${"server".padEnd(11)}${"address".padEnd(18)}${"calls".padStart(7)}${"share".padStart(7)}   end state`,
  );
  for (const server of s.servers) {
    const share = s.calls === 0 ? 0 : Math.round((server.calls / s.calls) * 100);
    ui.say(
      `  ${server.name.padEnd(11)}${server.addr.padEnd(18)}${String(server.calls).padStart(7)}${`${share}%`.padStart(7)}   ${server.state}`,
    );
  }
  ui.say(
    `  calls: ${s.calls}, failed calls: ${s.failedCalls} (during the drain: ${s.drained.failedCalls}, after the SIGKILL: ${s.killed.failedCalls})`,
  );
  ui.say();
  ui.say(b("Time to notice each change (measured)"));
  const row = (label: string, value: string): void => ui.say(`  ${label.padEnd(58)}${value}`);
  row(`${s.joined.server} registered → its first call`, ms(s.joined.registeredToFirstCallMs));
  row(`${s.drained.server} SIGTERM → its key deleted from etcd`, ms(s.drained.keyDeletedMs));
  row(`${s.drained.server} SIGTERM → the last call it received`, ms(s.drained.lastCallMs));
  row(
    `${s.killed.server} SIGKILL → the last failed call`,
    s.killed.lastFailureMs === null
      ? "no call failed"
      : `${ms(s.killed.lastFailureMs)} (${s.killed.failedCalls} failed)`,
  );
  row(`${s.killed.server} SIGKILL → its key expired (lease TTL ${TTL_SECONDS} s)`, ms(s.killed.keyExpiredMs));
  ui.say();
  ui.say(
    `demo finished in ${ms(s.durationMs)}` +
      (s.etcd.embedded
        ? "; the embedded etcd was stopped and its data removed."
        : "; your etcd was left as it was."),
  );
}

process.exitCode = await main();
// grpc-js and etcd3 may hold sockets for a moment after close; the demo is over.
setTimeout(() => process.exit(), 500).unref();
