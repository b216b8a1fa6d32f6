import { flavourToolchainMissing, GO_FLAVOURS, type GoFlavour } from "@etcd-naming/interop/flavours";
import { buildGoHelper, cachedGoHelper, runGoOk } from "@etcd-naming/interop/go-helper";

/** What `naminginterop version` reports. */
export interface GoHelperVersion {
  etcd: string;
  packages: string;
  grpc: string;
  go: string;
}

/** The interop suite's Go helper (interop/go/src/naminginterop), ready to run. */
export interface GoHelper {
  binary: string;
  flavour: GoFlavour;
  version: GoHelperVersion;
  /** Whether this run built it (a full run builds a missing helper; a quick run does not). */
  built: boolean;
}

/** etcd 3.5.30's Go client and grpc-go 1.81 first; etcd 3.4.23's (grpc-go 1.33) when only that is here. */
const PREFERENCE = ["etcd-3.5.30", "etcd-3.4.23"];

/**
 * The Go helper of the first flavour whose toolchain and Go sources are here, from the interop suite's
 * cache (interop/go/bin, keyed by a hash of the sources, the Go version and the etcd and grpc-go releases).
 * A full run builds it when it is missing (a cold build takes minutes); a quick run only takes a cached
 * one, so CI's quick run reuses what the interop suite built earlier in the same run and never waits for
 * a cold build. Returns why nothing could be used otherwise, with the commands that fix it.
 */
export async function findGoHelper(
  quick: boolean,
  log: (message: string) => void,
): Promise<GoHelper | { skipped: string }> {
  const reasons: string[] = [];
  const unbuilt: string[] = [];
  for (const id of PREFERENCE) {
    const flavour = GO_FLAVOURS.find((candidate) => candidate.id === id);
    if (flavour === undefined) throw new Error(`no Go flavour ${id} in @etcd-naming/interop`);
    const missing = flavourToolchainMissing(flavour);
    if (missing.length > 0) {
      const more = missing.length > 1 ? ` (and ${missing.length - 1} more missing)` : "";
      reasons.push(`${id}: ${missing[0]}${more}; to get it: ${flavour.install}`);
      continue;
    }
    let binary = cachedGoHelper(flavour);
    let built = false;
    if (binary === undefined) {
      if (quick) {
        unbuilt.push(id);
        continue;
      }
      log(`building the Go helper for ${id} (a cold build takes minutes)`);
      binary = await buildGoHelper(flavour);
      built = true;
    }
    const version = (await runGoOk(binary, ["version"])) as GoHelperVersion;
    return { binary, flavour, version, built };
  }
  if (unbuilt.length > 0) {
    reasons.unshift(
      `the Go helper (${unbuilt.join(", ")}) is not built for the current sources, and --quick does not ` +
        "build it (a cold build takes minutes): `pnpm exec vitest run --project interop` or a full " +
        "`pnpm bench --only=10` builds it",
    );
  }
  return { skipped: reasons.join("; ") };
}
