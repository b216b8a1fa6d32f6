import { execFileSync } from "node:child_process";
import { accessSync, constants, statSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { EtcdFixtureError } from "./errors.js";

/**
 * The etcd releases the test command runs the suites on: Debian's etcd-server in bookworm, trixie and
 * unstable. `scripts/fetch-etcd.sh` puts the last two into the cache folder; 3.4.23 is the system's.
 */
export const TESTED_ETCD_VERSIONS = ["3.4.23", "3.5.16", "3.5.30"] as const;

/** The command that fetches the etcd versions of {@link TESTED_ETCD_VERSIONS} into the cache folder. */
export const FETCH_ETCD_COMMAND = "bash scripts/fetch-etcd.sh";

/** The shell command that installs etcd on Debian/Ubuntu, with `sudo` unless already root. */
export function etcdInstallCommand(uid: number | undefined = process.getuid?.()): string {
  return `${uid === 0 ? "" : "sudo "}apt-get install -y etcd-server`;
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where to look for etcd; `env` defaults to `process.env` and is injectable for tests. */
export interface FindEtcdOptions {
  etcdBin?: string | undefined;
  /**
   * An etcd release (`"3.5.30"`): `<cache>/etcd-<version>/usr/bin/etcd`, where `scripts/fetch-etcd.sh`
   * unpacks it, or else `$ETCD_BIN` or the `etcd` on `$PATH` when that one reports this version.
   * Not together with `etcdBin`.
   */
  version?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** An etcd executable and the version it reports. */
export interface EtcdBinary {
  path: string;
  /** From `etcd --version` (`"3.5.30"`); `"unknown"` when the executable does not say. */
  version: string;
}

/**
 * The folder fetched toolchains live in, shared with the scripts:
 * `$ETCD_NAMING_CACHE`, else `$XDG_CACHE_HOME/etcd-naming`, else `~/.cache/etcd-naming`.
 */
export function etcdNamingCache(env: NodeJS.ProcessEnv = process.env): string {
  if (env["ETCD_NAMING_CACHE"]) return env["ETCD_NAMING_CACHE"];
  return join(env["XDG_CACHE_HOME"] || join(env["HOME"] || homedir(), ".cache"), "etcd-naming");
}

const versions = new Map<string, string>();

/** What `etcd --version` reports (`"3.5.30"`), or `"unknown"`; asked once per executable and process. */
export function etcdVersionOf(bin: string): string {
  let version = versions.get(bin);
  if (version === undefined) {
    try {
      const out = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 10_000, stdio: "pipe" });
      version = /^etcd Version:\s*(\S+)/m.exec(out)?.[1] ?? "unknown";
    } catch {
      version = "unknown";
    }
    versions.set(bin, version);
  }
  return version;
}

function onPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "etcd");
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

const VERSION_PATTERN = /^\d+\.\d+\.\d+$/;

function findVersion(version: string, env: NodeJS.ProcessEnv): EtcdBinary {
  if (!VERSION_PATTERN.test(version)) {
    throw new EtcdFixtureError(
      "INVALID_OPTIONS",
      `etcd version must look like 3.5.30, got ${JSON.stringify(version)}`,
    );
  }
  const cached = join(etcdNamingCache(env), `etcd-${version}`, "usr", "bin", "etcd");
  if (isExecutableFile(cached)) {
    const reported = etcdVersionOf(cached);
    if (reported === version) return { path: cached, version };
    throw new EtcdFixtureError(
      "ETCD_NOT_FOUND",
      `${cached} reports etcd ${reported}, not ${version}: remove that folder and run \`${FETCH_ETCD_COMMAND}\``,
    );
  }
  // The system's package (Debian bookworm's 3.4.23) need not be fetched again.
  const seen: string[] = [];
  for (const candidate of [env["ETCD_BIN"] || undefined, onPath(env)]) {
    if (candidate === undefined || !isExecutableFile(candidate)) continue;
    const reported = etcdVersionOf(candidate);
    if (reported === version) return { path: candidate, version };
    seen.push(`${candidate} is ${reported}`);
  }
  const others = seen.length > 0 ? ` (${seen.join(", ")})` : "";
  throw new EtcdFixtureError(
    "ETCD_NOT_FOUND",
    `etcd ${version} not found: no ${cached}${others}. Fetch it with \`${FETCH_ETCD_COMMAND}\` ` +
      `(Debian's etcd-server ${TESTED_ETCD_VERSIONS.join(", ")}), or set ETCD_NAMING_CACHE to the folder holding etcd-${version}/.`,
  );
}

/**
 * Resolves the etcd executable: `options.etcdBin`; else `options.version` (see {@link FindEtcdOptions});
 * else `$ETCD_BIN`, the run-wide default; else `etcd` on `$PATH`. An explicit path that is not executable
 * is an error rather than a silent fall-through, so a typo never runs a different etcd than the one
 * asked for.
 */
export function findEtcdBinary(options: FindEtcdOptions = {}): string {
  const env = options.env ?? process.env;
  if (options.etcdBin !== undefined && options.version !== undefined) {
    throw new EtcdFixtureError("INVALID_OPTIONS", "give etcdBin or version, not both");
  }
  if (options.version !== undefined) return findVersion(options.version, env).path;
  const hint = `Install it with \`${etcdInstallCommand()}\`, or set ETCD_BIN to the etcd executable.`;
  const explicit = options.etcdBin ?? (env["ETCD_BIN"] || undefined);
  if (explicit !== undefined) {
    const source = options.etcdBin !== undefined ? "options.etcdBin" : "ETCD_BIN";
    if (isExecutableFile(explicit)) return explicit;
    throw new EtcdFixtureError(
      "ETCD_NOT_FOUND",
      `etcd binary not found at ${explicit} (from ${source}). ${hint}`,
    );
  }
  const found = onPath(env);
  if (found !== undefined) return found;
  throw new EtcdFixtureError("ETCD_NOT_FOUND", `etcd binary not found on PATH. ${hint}`);
}

/** {@link findEtcdBinary} plus the version the executable reports. */
export function resolveEtcd(options: FindEtcdOptions = {}): EtcdBinary {
  const path = findEtcdBinary(options);
  return { path, version: options.version ?? etcdVersionOf(path) };
}
