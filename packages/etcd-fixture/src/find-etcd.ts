import { accessSync, constants, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { EtcdFixtureError } from "./errors.js";

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
  env?: NodeJS.ProcessEnv;
}

/**
 * Resolves the etcd executable: `options.etcdBin`, then `$ETCD_BIN`, then `etcd` on `$PATH`.
 * An explicit path that is not executable is an error rather than a silent fall-through, so a
 * typo never runs a different etcd than the one asked for.
 */
export function findEtcdBinary(options: FindEtcdOptions = {}): string {
  const env = options.env ?? process.env;
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
  for (const dir of (env["PATH"] ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "etcd");
    if (isExecutableFile(candidate)) return candidate;
  }
  throw new EtcdFixtureError("ETCD_NOT_FOUND", `etcd binary not found on PATH. ${hint}`);
}
