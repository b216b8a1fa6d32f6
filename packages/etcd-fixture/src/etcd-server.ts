// A single etcd member on loopback: what `startEtcd` takes and returns, and the pieces
// `startEtcdCluster` shares (name check, data directory, environment). The process itself is
// etcd-process.ts.
import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DATA_DIR_PREFIX, registerDataDir, sweepOrphansOnce } from "./cleanup.js";
import { EtcdFixtureError } from "./errors.js";
import { EtcdProcess } from "./etcd-process.js";
import { resolveEtcd } from "./find-etcd.js";
import type { EtcdMetrics } from "./metrics.js";
import { type PortReservation, reservePorts } from "./ports.js";
import { type EtcdTlsOptions, resolveTls } from "./tls.js";
import { startOrClose } from "./tracked-child.js";

/** What {@link startEtcd} and `startEtcdCluster` (for every member) both take. */
export interface EtcdRunOptions {
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
  /** How long a start waits for `/health` to report healthy (default 20 000 ms; 30 000 in a cluster). */
  startTimeoutMs?: number;
  /** Bytes of etcd output kept in memory for `logs()` (default 256 KiB). */
  logBufferBytes?: number;
  /** Serve clients over https with these certificates (peers stay on plain http); `clientUrls` become `https://`. */
  tls?: EtcdTlsOptions;
}

/** Options of {@link startEtcd}. */
export interface StartEtcdOptions extends EtcdRunOptions {
  /** Member name (letters, digits, `.`, `_`, `-`); random by default. */
  name?: string;
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
  /**
   * This member's Prometheus metrics (`GET /metrics`), parsed; fails with `METRICS_FAILED` when it does
   * not answer within `timeoutMs` (default 5 000).
   */
  metrics(timeoutMs?: number): Promise<EtcdMetrics>;
  /** The recent stdout/stderr of etcd, for debugging a failing test. */
  logs(): string;
  /** Kills etcd and removes the data directory. Idempotent. */
  close(): Promise<void>;
}

const NAME_PATTERN = /^[A-Za-z0-9._-]+$/;

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

/**
 * Sweeps what killed runs left, then reserves `count` loopback ports and creates a data directory for one
 * process; the ports are released again if the directory cannot be made.
 */
export async function reservePortsAndDataDir(
  count: number,
): Promise<{ ports: PortReservation; dataDir: string }> {
  await sweepOrphansOnce();
  const ports = await reservePorts(count);
  try {
    return { ports, dataDir: await createDataDir() };
  } catch (error) {
    ports.release();
    throw error;
  }
}

/** The environment etcd runs with: ours minus `ETCD_*`, which etcd would read as flags. */
export function etcdEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith("ETCD_")) env[key] = value;
  }
  return { ...env, ...extra };
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
  const { ports, dataDir } = await reservePortsAndDataDir(2);
  const [clientPort, peerPort] = ports.ports as [number, number];
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
  return startOrClose(server);
}
