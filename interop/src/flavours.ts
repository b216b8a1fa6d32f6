// The two builds of the Go helper the suite runs against: etcd 3.4.23's Go naming packages (Debian bookworm,
// installed with apt) and etcd 3.5.30's (Debian unstable, unpacked into the cache folder by
// `ensure_go_etcd35` in scripts/lib.sh). Each is paired with an etcd server of the same release.
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/** One Go toolchain + etcd Go sources + etcd server the suite runs against. */
export interface GoFlavour {
  /** `etcd-3.4.23`: names the helper binary and the test titles. */
  readonly id: string;
  /** The etcd release of the Go packages, and of the server the tests run against. */
  readonly etcdVersion: string;
  /** The Go import path of the naming packages, for titles and messages. */
  readonly packages: string;
  /** The grpc-go release and Go minor release the helper must report (checked by the suite). */
  readonly expected: { readonly grpc: string; readonly go: string };
  /** Whether etcd's Go resolver copies an endpoint's `Metadata` into grpc-go's `resolver.Address`. */
  readonly resolverPassesMetadata: boolean;
  /**
   * Whether the helper's Go writes `\b` and `\f` in JSON strings as such (Go 1.22+) rather than as
   * `\u0008` and `\u000c` (Go 1.19, and our codec).
   */
  readonly goShortEscapes: boolean;
  /**
   * Whether Go's Manager (List, and the watch behind its resolver) reads the bare `<service>` prefix, so
   * keys of a sibling service such as `<service>-canary/…` too: etcd 3.4 does; 3.5.30 reads `<service>/`
   * (etcd-io/etcd#15022).
   */
  readonly managerReadsSiblings: boolean;
  /**
   * Whether grpc-go percent-encodes the target's endpoint into the default `:authority` (grpc-go#6428):
   * 1.33 sends `a/b/svc` as is, which Node's HTTP/2 server refuses; 1.81 sends `a%2Fb%2Fsvc`.
   */
  readonly grpcEncodesAuthority: boolean;
  /** The `go` executable. */
  readonly go: string;
  /** Environment of every `go` call (GOROOT for an unpacked toolchain). */
  readonly goEnv: Readonly<Record<string, string>>;
  /** The GOPATH entry holding etcd's and grpc-go's sources. */
  readonly gocode: string;
  readonly buildTags: readonly string[];
  /** Folders under `gocode` that must exist. */
  readonly requiredSources: readonly string[];
  /** Files under `gocode` that name the etcd and grpc-go releases: part of the helper's cache key. */
  readonly versionFiles: readonly string[];
  /** Where to look for the etcd server of `etcdVersion`, in order. */
  readonly etcdCandidates: readonly string[];
  /** The command that provides the Go toolchain and sources. */
  readonly install: string;
}

/** `$ETCD_NAMING_CACHE`, as scripts/lib.sh defines it. */
export const CACHE_DIR: string =
  process.env["ETCD_NAMING_CACHE"] ||
  join(process.env["XDG_CACHE_HOME"] || join(homedir(), ".cache"), "etcd-naming");

/** Go's build cache for the helper (interop/go/.cache, ignored by git). */
export const GO_CACHE_DIR: string = fileURLToPath(new URL("../go/.cache/", import.meta.url));

/**
 * What every `go` call of the suite runs with: the flavour's toolchain as is (GOTOOLCHAIN=local, whatever
 * its go.env says), and the telemetry counters that newer go commands keep in the user's config folder
 * kept in the cache folder instead.
 */
export function goCommandEnv(flavour: GoFlavour): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOTOOLCHAIN: "local",
    XDG_CONFIG_HOME: join(GO_CACHE_DIR, "config"),
    ...flavour.goEnv,
  };
}

function onPath(name: string): string[] {
  return (process.env["PATH"] ?? "")
    .split(delimiter)
    .filter((dir) => dir !== "")
    .map((dir) => join(dir, name));
}

const go35 = join(CACHE_DIR, "go-etcd-3.5.30");

export const GO_FLAVOURS: readonly GoFlavour[] = [
  {
    id: "etcd-3.4.23",
    etcdVersion: "3.4.23",
    packages: "go.etcd.io/etcd/clientv3/naming",
    expected: { grpc: "1.33.3", go: "1.19" },
    resolverPassesMetadata: true,
    grpcEncodesAuthority: false,
    managerReadsSiblings: true,
    goShortEscapes: false,
    go: "go",
    goEnv: {},
    gocode: "/usr/share/gocode",
    buildTags: [],
    requiredSources: [
      "src/go.etcd.io/etcd/clientv3/naming/endpoints",
      "src/go.etcd.io/etcd/clientv3/naming/resolver",
      "src/google.golang.org/grpc",
    ],
    versionFiles: ["src/go.etcd.io/etcd/version/version.go", "src/google.golang.org/grpc/version.go"],
    etcdCandidates: [join(CACHE_DIR, "etcd-3.4.23/usr/bin/etcd"), ...onPath("etcd")],
    install: "sudo apt-get install -y golang-go golang-etcd-server-dev golang-google-grpc-dev etcd-server",
  },
  {
    id: "etcd-3.5.30",
    etcdVersion: "3.5.30",
    packages: "go.etcd.io/etcd/client/v3/naming",
    expected: { grpc: "1.81.1", go: "1.27" },
    // etcd 3.5.27 and 3.6.8 stopped passing it (etcd-io/etcd#21214).
    resolverPassesMetadata: false,
    grpcEncodesAuthority: true,
    managerReadsSiblings: false,
    goShortEscapes: true,
    go: join(go35, "usr/lib/go-1.27/bin/go"),
    goEnv: { GOROOT: join(go35, "usr/lib/go-1.27") },
    gocode: join(go35, "usr/share/gocode"),
    buildTags: ["etcd35"],
    requiredSources: [
      "src/go.etcd.io/etcd/client/v3/naming/endpoints",
      "src/go.etcd.io/etcd/client/v3/naming/resolver",
      "src/google.golang.org/grpc",
    ],
    versionFiles: ["src/go.etcd.io/etcd/api/version/version.go", "src/google.golang.org/grpc/version.go"],
    etcdCandidates: [join(CACHE_DIR, "etcd-3.5.30/usr/bin/etcd")],
    install: "bash -c '. scripts/lib.sh && ensure_go_etcd35' (and etcd 3.5.30 in the same cache folder)",
  },
];

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The version an etcd executable reports (`etcd Version: 3.4.23`), or undefined. */
export function etcdBinaryVersion(bin: string): string | undefined {
  if (!isExecutable(bin)) return undefined;
  try {
    const text = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 20_000 });
    return /etcd Version: (\S+)/.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

const etcdBins = new Map<string, string | undefined>();

/** The etcd server of the flavour's release, or undefined when none of its candidates is that release. */
export function flavourEtcdBinary(flavour: GoFlavour): string | undefined {
  if (!etcdBins.has(flavour.id)) {
    etcdBins.set(
      flavour.id,
      flavour.etcdCandidates.find((bin) => etcdBinaryVersion(bin) === flavour.etcdVersion),
    );
  }
  return etcdBins.get(flavour.id);
}

/** `go version` of the flavour's toolchain, or undefined when it does not run. */
export function flavourGoVersion(flavour: GoFlavour): string | undefined {
  try {
    return execFileSync(flavour.go, ["version"], {
      encoding: "utf8",
      timeout: 20_000,
      env: goCommandEnv(flavour),
    }).trim();
  } catch {
    return undefined;
  }
}

/** What the flavour's Go helper cannot be built without (the toolchain, the Go sources): empty when nothing. */
export function flavourToolchainMissing(flavour: GoFlavour): string[] {
  const missing: string[] = [];
  if (flavourGoVersion(flavour) === undefined) missing.push(`\`${flavour.go} version\` does not run`);
  for (const dir of [...flavour.requiredSources, ...flavour.versionFiles]) {
    if (!existsSync(join(flavour.gocode, dir))) missing.push(`${join(flavour.gocode, dir)} is missing`);
  }
  return missing;
}

/** Why the flavour cannot run here (with the fix), or undefined when it can. */
export function flavourUnavailableReason(flavour: GoFlavour): string | undefined {
  const missing = flavourToolchainMissing(flavour);
  if (flavourEtcdBinary(flavour) === undefined) {
    missing.push(`no etcd ${flavour.etcdVersion} server (looked at ${flavour.etcdCandidates.join(", ")})`);
  }
  if (missing.length === 0) return undefined;
  return (
    `skipping the Go interop suite on etcd ${flavour.etcdVersion}: ${missing.join("; ")}. ` +
    `Provide them with: ${flavour.install}`
  );
}
