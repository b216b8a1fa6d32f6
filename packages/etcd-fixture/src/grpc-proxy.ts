// etcd's own gRPC proxy (`etcd grpc-proxy start`, part of the etcd binary) on a free loopback port, in
// front of members the caller started. It coalesces the watches of its clients on the same range into
// one watch on the cluster. `kill()`/`stop()` and `start()` take it down and bring it back on the same
// port, the way an operator restarts it; cleanup is the one the members have (exit hooks, pid files).
import type { ChildProcess } from "node:child_process";
import { EtcdFixtureError } from "./errors.js";
import { etcdEnv, reservePortsAndDataDir } from "./etcd-server.js";
import { resolveEtcd } from "./find-etcd.js";
import { httpText } from "./http-json.js";
import { LogBuffer } from "./log-buffer.js";
import type { PortReservation } from "./ports.js";
import { exitsWithin, killAndRemove, signalChild, spawnTracked, startOrClose } from "./tracked-child.js";

/** Options of {@link startGrpcProxy}. */
export interface StartGrpcProxyOptions {
  /** The members' `host:port` endpoints the proxy talks to (e.g. `cluster.endpoints`). */
  endpoints: readonly string[];
  /** The etcd executable; defaults to `$ETCD_BIN`, then `etcd` on `$PATH`. Not together with `version`. */
  etcdBin?: string;
  /** The etcd release to run (`"3.5.30"`), as `startEtcd` takes it. */
  version?: string;
  /** Extra `grpc-proxy start` flags, after the fixture's own so they win. */
  args?: string[];
  /** How long a start waits for the proxy's `/health` to report healthy (default 20 000 ms). */
  startTimeoutMs?: number;
}

/** A running `etcd grpc-proxy start`. Dispose it (`await using`) or call `close()`. */
export interface GrpcProxy extends AsyncDisposable {
  /** The etcd release the proxy binary reports. */
  readonly version: string;
  /** `127.0.0.1:PORT`: clients use it as they would a member (etcd3's `hosts`). */
  readonly endpoint: string;
  /** `[endpoint]`, in the form `EtcdServer.endpoints` has. */
  readonly endpoints: string[];
  /** `http://127.0.0.1:PORT`: the same port also serves `/health` and `/metrics` over HTTP. */
  readonly url: string;
  /** The proxy's pid; `undefined` while it is down. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Starts it again on the same port and waits until healthy; no-op when running. */
  start(): Promise<void>;
  /** SIGTERM, wait for exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit: a crash. */
  kill(): Promise<void>;
  /** The recent output of the proxy. */
  logs(): string;
  /** Kills the proxy and frees its port. Idempotent. */
  close(): Promise<void>;
}

const STOP_TIMEOUT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class GrpcProxyProcess implements GrpcProxy {
  readonly endpoint: string;
  readonly endpoints: string[];
  readonly url: string;
  readonly #logs = new LogBuffer(256 * 1024);
  #child: ChildProcess | undefined;
  #exited: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    readonly version: string,
    readonly bin: string,
    readonly dataDir: string,
    readonly port: number,
    readonly ports: PortReservation,
    readonly args: string[],
    readonly startTimeoutMs: number,
  ) {
    this.endpoint = `127.0.0.1:${port}`;
    this.endpoints = [this.endpoint];
    this.url = `http://${this.endpoint}`;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  logs(): string {
    return this.#logs.text();
  }

  #spawn(): void {
    const { child, exited } = spawnTracked({
      command: this.bin,
      args: this.args,
      env: etcdEnv(),
      dataDir: this.dataDir,
      bin: this.bin,
      logs: this.#logs,
    });
    this.#child = child;
    this.#exited = exited.then(({ code, signal, error }) => {
      if (error === undefined) this.#logs.append(`[grpc-proxy exited: ${signal ?? `code ${code}`}]\n`);
      if (this.#child === child) this.#child = undefined;
    });
  }

  async start(): Promise<void> {
    if (this.#closing) throw new EtcdFixtureError("CLOSED", "the grpc-proxy is closed");
    if (this.#child) return;
    this.#spawn();
    const child = this.#child;
    const deadline = Date.now() + this.startTimeoutMs;
    let last = "no answer yet";
    for (;;) {
      if (this.#child !== child) {
        throw new EtcdFixtureError(
          "START_FAILED",
          `grpc-proxy exited before becoming healthy\n${this.#logs.excerpt()}`,
        );
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        await this.kill();
        throw new EtcdFixtureError(
          "START_TIMEOUT",
          `grpc-proxy was not healthy within ${this.startTimeoutMs}ms (last check: ${last})\n${this.#logs.excerpt()}`,
        );
      }
      try {
        // The proxy answers /health by asking the cluster through its own client.
        last = await httpText("GET", `${this.url}/health`, undefined, Math.min(2_000, remaining));
        if ((JSON.parse(last) as { health?: unknown }).health === "true") return;
      } catch (error) {
        last = (error as Error).message;
      }
      await Promise.race([sleep(100), this.#exited]);
    }
  }

  async #signalAndWait(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited) return;
    signalChild(child, signal);
    if (!(await exitsWithin(exited, STOP_TIMEOUT_MS))) await this.#signalAndWait("SIGKILL");
  }

  stop(): Promise<void> {
    return this.#signalAndWait("SIGTERM");
  }

  kill(): Promise<void> {
    return this.#signalAndWait("SIGKILL");
  }

  close(): Promise<void> {
    this.#closing ??= killAndRemove(() => this.kill(), this.dataDir, this.ports);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts `etcd grpc-proxy start` on a free loopback port in front of `endpoints` and resolves once its
 * `/health` reports healthy (the proxy reached the cluster).
 *
 * @example
 * await using cluster = await startEtcdCluster({ size: 3 });
 * await using proxy = await startGrpcProxy({ endpoints: cluster.endpoints });
 * const client = new Etcd3({ hosts: proxy.endpoints });
 * await proxy.kill(); // clients lose the proxy; the cluster keeps running
 * await proxy.start(); // back on the same port
 */
export async function startGrpcProxy(options: StartGrpcProxyOptions): Promise<GrpcProxy> {
  if (options.endpoints.length === 0) {
    throw new EtcdFixtureError("INVALID_OPTIONS", "startGrpcProxy needs at least one etcd endpoint");
  }
  const etcd = resolveEtcd({ etcdBin: options.etcdBin, version: options.version });
  // The proxy writes nothing in its data directory without --auto-tls; it names the process for cleanup.
  const { ports, dataDir } = await reservePortsAndDataDir(1);
  const port = ports.ports[0]!;
  const args = [
    "grpc-proxy",
    "start",
    `--endpoints=${options.endpoints.join(",")}`,
    `--listen-addr=127.0.0.1:${port}`,
    // 3.5 dials this address for its own /proxy/health and exits when nothing answers there.
    `--advertise-client-url=127.0.0.1:${port}`,
    `--data-dir=${dataDir}`,
    ...(options.args ?? []),
  ];
  const proxy = new GrpcProxyProcess(
    etcd.version,
    etcd.path,
    dataDir,
    port,
    ports,
    args,
    options.startTimeoutMs ?? 20_000,
  );
  return startOrClose(proxy);
}
