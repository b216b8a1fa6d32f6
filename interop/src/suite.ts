// What every Go interop test file shares: skip (saying what to install) when Go or etcd's Go sources are
// missing, build the helper once, and leave no Go process behind.
import { afterAll, afterEach, beforeAll } from "vitest";
import { buildGoHelper, goUnavailableReason, killAllGo } from "./go-helper.js";

/** Why the suite is skipped here, or undefined when Go and etcd's Go sources are installed. */
export const goSkipReason: string | undefined = goUnavailableReason();
if (goSkipReason !== undefined) console.warn(goSkipReason);

/** The built helper, available from `beforeAll` on. */
export interface GoHelper {
  readonly binary: string;
}

/** Call inside a `describe.skipIf(goSkipReason !== undefined)`: builds the helper and kills its children. */
export function useGoHelper(): GoHelper {
  let binary: string | undefined;
  beforeAll(async () => {
    binary = await buildGoHelper();
  }, 180_000);
  afterEach(killAllGo);
  afterAll(killAllGo);
  return {
    get binary() {
      if (binary === undefined)
        throw new Error("the Go helper is not built yet (use it from a test or hook)");
      return binary;
    },
  };
}
