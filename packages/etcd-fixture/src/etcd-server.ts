import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DATA_DIR_PREFIX,
  registerDataDir,
  sweepOrphansOnce,
  trackChild,
  unregisterDataDir,
  untrackChild,
} from "./cleanup.js";
import { EtcdFixtureError } from "./errors.js";
import { resolveEtcd } from "./find-etcd.js";
import { type HttpTls, httpJson } from "./http-json.js";
import { LogBuffer } from "./log-buffer.js";
import { type PortReservation, reservePorts } from "./ports.js";
import { type EtcdTlsOptions, resolveTls } from "./tls.js";

/** Options of {@link startEtcd}. */
export interface StartEtcdOptions {
  /** Member name (letters, digits, `.`, `_`, `-`); random by default. */
  name?: string;
  /** Extra etcd flags, appended after the fixture's own so they win (`--auto-compaction-retention=1`). */
  args?: string[];
  /** The etcd executable; defaults to `$ETCD_BIN`, then `etcd` on `$PATH`. Not together with `version`. */
  etcdBin?: string;
  /**
   * The etcd release to run (`"3.5.30"`), from the cache folder `scripts/fetch-etcd.sh` fills (or the
   * system's etcd when it is that release); fails with `ETCD_NOT_FOUND` naming the script when missing.
   */
  version?: string;
  /** Extra environment for etcd. Inherited `ETCD_*` variables are dropped so they cannot reconfigure it. */
  env?: Record<string, string>;
  /** How long `start()` waits for `/health` to report healthy (default 20 000 ms). */
  startTimeoutMs?: number;
  /** Bytes of etcd output kept in memory for `logs()` (default 256 KiB). */
  logBufferBytes?: number;
  /** Serve clients over https with these certificates; `clientUrls` become `https://`. */
  tls?: EtcdTlsOptions;
}

/** One member's view of the cluster, from the Maintenance/Status API. Ids are decimal uint64 strings. */
export interface EtcdMemberStatus {
  memberId: string;
  /** `"0"` while there is no leader. */
  leaderId: string;
  clusterId: string;
  revision: string;
  raftTerm: string;
  version: string;
}

/**
 * A real etcd process on loopback. Dispose it (`await using`) or call `close()`; `stop()`/`start()`
 * keep the data directory and ports, `kill()` simulates a crash, `pause()` a partition.
 */
export interface EtcdServer extends AsyncDisposable {
  readonly name: string;
  /** The etcd release this server runs (`"3.5.30"`), as its `etcd --version` reports it. */
  readonly version: string;
  /** `host:port` pairs, the form etcd3's `hosts` option takes. */
  readonly endpoints: string[];
  /** `http://host:port` client URLs (`https://` with the `tls` option). */
  readonly clientUrls: string[];
  readonly peerUrls: string[];
  readonly dataDir: string;
  /** The running etcd's pid; `undefined` while stopped. */
  readonly pid: number | undefined;
  readonly running: boolean;
  readonly paused: boolean;
  /** SIGTERM (after SIGCONT if paused), wait for exit; keeps data so `start()` resumes. */
  stop(): Promise<void>;
  /** SIGKILL, wait for exit; keeps data. */
  kill(): Promise<void>;
  /** Starts again on the same ports and data; waits until healthy. No-op wait when running. */
  start(): Promise<void>;
  restart(): Promise<void>;
  /** SIGSTOP: the process keeps its sockets but answers nothing. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
  /** This member's status; fails with `STATUS_FAILED` when it does not answer within `timeoutMs`. */
  status(timeoutMs?: number): Promise<EtcdMemberStatus>;
  /** The recent stdout/stderr of etcd, for debugging a failing test. */
  logs(): string;
  /** Kills etcd and removes the data directory. Idempotent. */
  close(): Promise<void>;
}

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
}

const NAME_PATTERN = /^[A-Za-z0-9._-]+$/;
const STOP_TIMEOUT_MS = 10_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Validates a member name: it ends up inside `--initial-cluster=name=url,...`. */
export function validateMemberName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new EtcdFixtureError("INVALID_OPTIONS", `invalid etcd member name ${JSON.stringify(name)}`);
  }
  return name;
}

/** A fresh, owned data directory whose name records this process as owner. */
export async function createDataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${DATA_DIR_PREFIX}${process.pid}-`));
  registerDataDir(dir);
  return dir;
}

/** The environment etcd runs with: ours minus `ETCD_*`, which etcd would read as flags. */
export function etcdEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("ETCD_")) env[key] = value;
  }
  return { ...env, ...extra };
}

function asString(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ? String(value) : "0";
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
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
    this.endpoints = [`127.0.0.1:${spec.clientPort}`];
    this.clientUrls = [`${spec.tls ? "https" : "http"}://127.0.0.1:${spec.clientPort}`];
    this.peerUrls = [`http://127.0.0.1:${spec.peerPort}`];
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
      ...s.args,
    ];
  }

  /** Spawns etcd without waiting; `start()` is spawn plus the health wait. */
  spawnProcess(): void {
    if (this.#closing) throw new EtcdFixtureError("CLOSED", `etcd ${this.name} is closed`);
    if (this.#child) return;
    const child = spawn(this.#spec.bin, this.#args(), {
      env: this.#spec.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pid = child.pid;
    if (pid !== undefined) trackChild(pid, this.dataDir, this.#spec.bin);
    this.#child = child;
    this.#paused = false;
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding("utf8");
      stream?.on("data", (chunk: string) => this.#logs.append(chunk));
      // A forgotten server must not keep the process alive: the exit hook kills it instead.
      (stream as { unref?: () => void } | null)?.unref?.();
    }
    child.unref();
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (error) => {
        if (child.pid === undefined) resolve({ code: null, signal: null, error });
      });
    }).then((info) => {
      if (pid !== undefined) untrackChild(pid);
      if (this.#child === child) {
        this.#child = undefined;
        this.#paused = false;
      }
      if (info.error) this.#logs.append(`[spawn failed: ${info.error.message}]\n`);
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
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<true>((resolve) => {
        timer = setTimeout(() => resolve(true), STOP_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (timedOut) {
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
    try {
      child.kill(signal);
    } catch {
      // Already exited; the exit handler updates our state.
    }
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

  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.kill();
      } finally {
        await rm(this.dataDir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {});
        unregisterDataDir(this.dataDir);
        this.#spec.ports.release();
      }
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Starts a single-member etcd on free loopback ports with a fresh data directory and resolves
 * once it reports healthy.
 *
 * @example
 * ```ts
 * await using etcd = await startEtcd(); // or startEtcd({ version: "3.5.30" })
 * const client = new Etcd3({ hosts: etcd.endpoints });
 * ```
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdServer> {
  const etcd = resolveEtcd({ etcdBin: options.etcdBin, version: options.version });
  const name = validateMemberName(options.name ?? `etcd-${randomBytes(3).toString("hex")}`);
  const tls = await resolveTls(options.tls);
  await sweepOrphansOnce();
  const ports = await reservePorts(2);
  const [clientPort, peerPort] = ports.ports as [number, number];
  let dataDir: string;
  try {
    dataDir = await createDataDir();
  } catch (error) {
    ports.release();
    throw error;
  }
  const server = new EtcdProcess({
    name,
    bin: etcd.path,
    version: etcd.version,
    dataDir,
    clientPort,
    peerPort,
    initialCluster: `${name}=http://127.0.0.1:${peerPort}`,
    clusterToken: `etcd-naming-${randomBytes(6).toString("hex")}`,
    // A lone member has no peer to flap with, so a short election timeout only shortens the
    // wait for it to lead itself after `start()` on existing data (about 1–2 s at the default).
    defaultArgs: ["--heartbeat-interval=50", "--election-timeout=500"],
    args: options.args ?? [],
    env: etcdEnv(options.env),
    startTimeoutMs: options.startTimeoutMs ?? 20_000,
    logBufferBytes: options.logBufferBytes ?? 256 * 1024,
    ports,
    tls,
  });
  try {
    await server.start();
  } catch (error) {
    await server.close();
    throw error;
  }
  return server;
}
