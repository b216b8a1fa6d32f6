// The etcd process behind an EtcdServer: spawning, the health wait, signals (stop, kill, pause) and the
// Maintenance/Status call. startEtcd and startEtcdCluster build the MemberSpec it runs from.
import type { ChildProcess } from "node:child_process";
import { EtcdFixtureError } from "./errors.js";
import type { EtcdMemberStatus, EtcdServer } from "./etcd-server.js";
import { type HttpTls, httpJson } from "./http-json.js";
import { LogBuffer } from "./log-buffer.js";
import { type EtcdMetrics, readEtcdMetrics } from "./metrics.js";
import type { PortReservation } from "./ports.js";
import { type ExitInfo, exitsWithin, killAndRemove, signalChild, spawnTracked } from "./tracked-child.js";

/** Everything a member needs; shared by {@link startEtcd} and `startEtcdCluster`. */
export interface MemberSpec {
  name: string;
  bin: string;
  /** What `bin` reports as its version. */
  version: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  initialCluster: string;
  clusterToken: string;
  defaultArgs: string[];
  args: string[];
  env: Record<string, string>;
  startTimeoutMs: number;
  logBufferBytes: number;
  ports: PortReservation;
  /** TLS flags for the client port, and what the health and status checks present. */
  tls?: { args: string[]; http: HttpTls } | undefined;
  /** TLS flags for the peer port (`--peer-cert-file`, ...); the peer URL is then https. */
  peerTlsArgs?: string[];
  /** The address the client URL listens on (default 127.0.0.1). */
  clientHost?: string;
  /** The address the peer URL listens on (default 127.0.0.1). */
  peerHost?: string;
  /** Runs etcd through this command: `[command, ...args, etcd, ...etcdArgs]` (e.g. `ip netns exec NS`). */
  launcher?: readonly string[];
}

const STOP_TIMEOUT_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function asString(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ? String(value) : "0";
}

/** The process behind an {@link EtcdServer}. */
export class EtcdProcess implements EtcdServer {
  readonly name: string;
  readonly version: string;
  readonly endpoints: string[];
  readonly clientUrls: string[];
  readonly peerUrls: string[];
  readonly dataDir: string;
  readonly #spec: MemberSpec;
  readonly #logs: LogBuffer;
  #child: ChildProcess | undefined;
  #exited: Promise<ExitInfo> | undefined;
  #paused = false;
  #closing: Promise<void> | undefined;

  constructor(spec: MemberSpec) {
    this.#spec = spec;
    this.name = spec.name;
    this.version = spec.version;
    this.dataDir = spec.dataDir;
    const clientHost = spec.clientHost ?? "127.0.0.1";
    this.endpoints = [`${clientHost}:${spec.clientPort}`];
    this.clientUrls = [`${spec.tls ? "https" : "http"}://${clientHost}:${spec.clientPort}`];
    const peerScheme = spec.peerTlsArgs === undefined ? "http" : "https";
    this.peerUrls = [`${peerScheme}://${spec.peerHost ?? "127.0.0.1"}:${spec.peerPort}`];
    this.#logs = new LogBuffer(spec.logBufferBytes);
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  get paused(): boolean {
    return this.#paused;
  }

  logs(): string {
    return this.#logs.text();
  }

  #args(): string[] {
    const s = this.#spec;
    const clientUrl = this.clientUrls[0]!;
    const peerUrl = this.peerUrls[0]!;
    return [
      `--name=${s.name}`,
      `--data-dir=${s.dataDir}`,
      `--listen-client-urls=${clientUrl}`,
      `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${s.initialCluster}`,
      "--initial-cluster-state=new",
      `--initial-cluster-token=${s.clusterToken}`,
      // zap at warn keeps a healthy member nearly silent (3.4's capnslog logs every raft step).
      "--logger=zap",
      "--log-level=warn",
      "--log-outputs=stderr",
      ...s.defaultArgs,
      ...(s.tls?.args ?? []),
      ...(s.peerTlsArgs ?? []),
      ...s.args,
    ];
  }

  /** Spawns etcd without waiting; `start()` is spawn plus the health wait. */
  spawnProcess(): void {
    if (this.#closing) throw new EtcdFixtureError("CLOSED", `etcd ${this.name} is closed`);
    if (this.#child) return;
    const [command, ...prefix] = [...(this.#spec.launcher ?? []), this.#spec.bin];
    // A launcher that execs (`ip netns exec`) leaves the pid to etcd, so tracking it still works.
    const { child, exited } = spawnTracked({
      command: command!,
      args: [...prefix, ...this.#args()],
      env: this.#spec.env,
      dataDir: this.dataDir,
      bin: this.#spec.bin,
      logs: this.#logs,
    });
    this.#child = child;
    this.#paused = false;
    this.#exited = exited.then((info) => {
      if (this.#child === child) {
        this.#child = undefined;
        this.#paused = false;
      }
      return info;
    });
  }

  async start(): Promise<void> {
    this.spawnProcess();
    try {
      await this.waitHealthy(this.#spec.startTimeoutMs);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  /** Polls `GET /health` until `{"health":"true"}`, failing early if etcd exits. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited) throw new EtcdFixtureError("NOT_RUNNING", `etcd ${this.name} is not running`);
    let exitInfo: ExitInfo | undefined;
    void exited.then((info) => {
      exitInfo = info;
    });
    const deadline = Date.now() + timeoutMs;
    let last = "no answer yet";
    for (;;) {
      if (exitInfo) {
        const how = exitInfo.error
          ? exitInfo.error.message
          : exitInfo.signal
            ? `signal ${exitInfo.signal}`
            : `code ${exitInfo.code}`;
        throw new EtcdFixtureError(
          "START_FAILED",
          `etcd ${this.name} exited (${how}) before becoming healthy\n${this.#tail()}`,
        );
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new EtcdFixtureError(
          "START_TIMEOUT",
          `etcd ${this.name} was not healthy within ${timeoutMs}ms (last check: ${last})\n${this.#tail()}`,
        );
      }
      try {
        const body = await httpJson(
          "GET",
          `${this.clientUrls[0]}/health`,
          undefined,
          Math.min(1000, remaining),
          this.#spec.tls?.http,
        );
        if ((body as { health?: unknown } | null)?.health === "true") return;
        last = JSON.stringify(body);
      } catch (error) {
        last = (error as Error).message;
      }
      await Promise.race([sleep(50), exited]);
    }
  }

  #tail(): string {
    const excerpt = this.#logs.excerpt();
    return excerpt === "" ? "(etcd printed nothing)" : `--- etcd output ---\n${excerpt}`;
  }

  async stop(): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited) return;
    // A stopped process does not act on SIGTERM until continued.
    if (this.#paused) this.#signal(child, "SIGCONT");
    this.#signal(child, "SIGTERM");
    if (!(await exitsWithin(exited, STOP_TIMEOUT_MS))) {
      this.#signal(child, "SIGKILL");
      await exited;
    }
  }

  async kill(): Promise<void> {
    const child = this.#child;
    const exited = this.#exited;
    if (!child || !exited) return;
    // SIGKILL also ends a SIGSTOPped process; no SIGCONT needed.
    this.#signal(child, "SIGKILL");
    // A ref'd timer keeps the event loop alive while we wait on the unref'd child.
    const keepAlive = setInterval(() => {}, 1000);
    try {
      await exited;
    } finally {
      clearInterval(keepAlive);
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  pause(): void {
    const child = this.#child;
    if (!child) throw new EtcdFixtureError("NOT_RUNNING", `etcd ${this.name} is not running`);
    this.#signal(child, "SIGSTOP");
    this.#paused = true;
  }

  resume(): void {
    const child = this.#child;
    if (!child) throw new EtcdFixtureError("NOT_RUNNING", `etcd ${this.name} is not running`);
    this.#signal(child, "SIGCONT");
    this.#paused = false;
  }

  #signal(child: ChildProcess, signal: NodeJS.Signals): void {
    signalChild(child, signal);
  }

  async status(timeoutMs: number = 2000): Promise<EtcdMemberStatus> {
    if (!this.#child) throw new EtcdFixtureError("NOT_RUNNING", `etcd ${this.name} is not running`);
    let body: unknown;
    try {
      body = await httpJson(
        "POST",
        `${this.clientUrls[0]}/v3/maintenance/status`,
        {},
        timeoutMs,
        this.#spec.tls?.http,
      );
    } catch (error) {
      throw new EtcdFixtureError(
        "STATUS_FAILED",
        `status of etcd ${this.name} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const b = (body ?? {}) as { header?: Record<string, unknown>; leader?: unknown; version?: unknown };
    const header = b.header ?? {};
    return {
      memberId: asString(header["member_id"]),
      leaderId: asString(b.leader),
      clusterId: asString(header["cluster_id"]),
      revision: asString(header["revision"]),
      raftTerm: asString(header["raft_term"]),
      version: typeof b.version === "string" ? b.version : "",
    };
  }

  async metrics(timeoutMs: number = 5_000): Promise<EtcdMetrics> {
    if (!this.#child) throw new EtcdFixtureError("NOT_RUNNING", `etcd ${this.name} is not running`);
    return readEtcdMetrics(this.clientUrls[0]!, { timeoutMs, tls: this.#spec.tls?.http });
  }

  close(): Promise<void> {
    this.#closing ??= killAndRemove(() => this.kill(), this.dataDir, this.#spec.ports);
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
