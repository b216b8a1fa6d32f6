// The build every published workspace package shares: ESM and CommonJS side by side, declarations
// written under isolatedDeclarations, one file per entry. A package's tsup.config.ts names only what
// differs (more entries, externals, shims).
import type { Options } from "tsup";

export function packageBuild(overrides: Options = {}): Options {
  return {
    entry: ["src/index.ts"],
    format: ["esm", "cjs"],
    dts: { compilerOptions: { isolatedDeclarations: true } },
    tsconfig: "tsconfig.build.json",
    target: "node22",
    platform: "node",
    sourcemap: true,
    clean: true,
    splitting: false,
    treeshake: true,
    ...overrides,
  };
}
