/**
 * What every copy of this package loaded into one process shares: its ESM and CommonJS builds (one
 * `import`ed, one `require`d, by two dependencies) or two installs of it. grpc-js keeps one resolver per
 * scheme and one policy per name for the whole process, so who holds a scheme must be known process-wide,
 * not per copy: otherwise a second copy registering `etcd:` would silently take it over from the first.
 *
 * Kept on `globalThis` under a `Symbol.for` key, so each copy finds the same object. Its shape is versioned
 * in the key: a copy with another shape keeps its own (and grpc-js's last registration wins, as before).
 */

import { randomBytes } from "node:crypto";

/** One registered scheme, as the copy that registered it describes it. */
export interface SharedRegistration {
  /** The handle returned to whoever registered the scheme. */
  readonly handle: unknown;
  /** The etcd client or source it resolves from. */
  readonly owner: object;
  /** Its options, serialised: the same owner and settings get the same handle back. */
  readonly settings: string;
}

interface ProcessRegistry {
  /** Per grpc-js module (keyed by its `experimental` object, the same for its ESM and CJS faces). */
  readonly schemes: WeakMap<object, Map<string, SharedRegistration>>;
  /** grpc-js modules (by their `experimental` object) the weighted policy is registered in. */
  readonly policies: WeakSet<object>;
  /** The default `?subset=` seed: one per process, so every copy picks the same subsets. */
  readonly subsetSeed: string;
}

const KEY = Symbol.for("@etcd-naming/grpc-js.process-registry.v1");

/** The process's registry, created by the first copy that asks. */
export function processRegistry(): ProcessRegistry {
  const global = globalThis as { [KEY]?: ProcessRegistry };
  global[KEY] ??= {
    schemes: new WeakMap(),
    policies: new WeakSet(),
    subsetSeed: randomBytes(16).toString("hex"),
  };
  return global[KEY];
}

/** The schemes registered into one grpc-js module, by every copy of this package. */
export function schemesOf(grpcExperimental: object): Map<string, SharedRegistration> {
  const { schemes } = processRegistry();
  let registry = schemes.get(grpcExperimental);
  if (registry === undefined) {
    registry = new Map();
    schemes.set(grpcExperimental, registry);
  }
  return registry;
}
